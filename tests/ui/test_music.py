"""Swapping the music in the editor keeps the cuts on the same beats, in one undoable step."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.engine.audio.beats import analyze_beats
from app.engine.builder import ActSource, build_project
from app.engine.cache import StageCache
from app.model.project_file import dumps_project
from app.ui.document import DocumentController
from app.ui.music import MusicController
from tests.engine.audio_fixtures import drum_track, write_wav


@pytest.fixture
def editor_music(qtbot: QtBot, tmp_path: Path) -> tuple[DocumentController, MusicController]:
    for bpm in (120, 100):
        track = drum_track(bpm, 16.0, sample_rate=22050, lead_in_s=0.0)
        write_wav(tmp_path / f"song{bpm}.wav", track.samples, track.sample_rate)
    song = tmp_path / "song120.wav"
    sources = [ActSource(None, f"act {i}") for i in range(3)]
    project = build_project(
        tmp_path / "f.storybeat", sources, song, analyze_beats(song), Fraction(24), (320, 180), 8
    )
    document = DocumentController(project, tmp_path / "f.storybeat")
    window = QWidget()
    qtbot.addWidget(window)
    music = MusicController(document, StageCache(tmp_path / "cache"), window)
    yield document, music
    music.shutdown()


@pytest.mark.slow
def test_replace_music_moves_cuts_to_the_same_beats_of_the_new_track(
    editor_music: tuple[DocumentController, MusicController], tmp_path: Path, qtbot: QtBot
) -> None:
    document, music = editor_music
    project = document.project
    before = dumps_project(project)
    old_beats = project.beats.beat_frames(project.settings.fps)
    indices = [old_beats.index(cut) for cut in project.cut_frames()]  # cuts sit exactly on beats

    with qtbot.waitSignal(document.changed, timeout=60_000):
        music.replace_music(tmp_path / "song100.wav", "beats")
    new_beats = project.beats.beat_frames(project.settings.fps)
    assert abs(project.beats.tempo - 100) < 1.5
    assert project.audio[0].media.path == "song100.wav"
    assert project.cut_frames() == [new_beats[i] for i in indices]
    project.check_consistency()
    document.undo()
    assert dumps_project(project) == before


def test_pacing_and_nudge_are_undoable(editor_music: tuple[DocumentController, MusicController]) -> None:
    document, music = editor_music
    before = dumps_project(document.project)
    messages: list[str] = []
    document.message.connect(messages.append)
    music.apply_pacing("every-N-beats", n=4)
    # The status bar says what the preset did: three acts cannot cover a 16 s song at 4 beats each
    assert len(messages) == 1 and messages[0].startswith(document.history.undo_label)
    assert "more acts would cover the song" in messages[0]
    fps = document.project.settings.fps
    beats = document.project.beats.beat_frames(fps)
    assert all(cut in beats for cut in document.project.cut_frames())
    first = document.project.beats.beats[0]
    music.nudge(1)
    assert document.project.beats.beats[0] == pytest.approx(first + 1 / 24, abs=1e-5)
    document.undo()
    document.undo()
    assert dumps_project(document.project) == before
