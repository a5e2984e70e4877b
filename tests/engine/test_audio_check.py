"""The import-time check of a sound file: its declared length, or one line saying why it cannot be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.audio.check import check_audio
from app.errors import MediaError
from tests.engine.audio_fixtures import tone, write_wav


def test_a_wav_file_passes_with_its_length_in_seconds(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "beep.wav", tone(440.0, 1.5, 8000), 8000)
    length = check_audio(path)
    assert length == pytest.approx(1.5, abs=0.01)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("notes.mp3", b"these are my notes, not a song", "not an audio file"),
        ("empty.wav", b"", "empty file, expected audio"),
    ],
)
def test_a_file_that_is_not_sound_is_refused_naming_it(
    tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MediaError) as raised:
        check_audio(path)
    assert str(raised.value).startswith(f"{path}: {problem}")


def test_a_missing_file_and_a_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="audio file not found"):
        check_audio(tmp_path / "gone.wav")
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(MediaError, match="is a folder"):
        check_audio(tmp_path / "folder.wav")
