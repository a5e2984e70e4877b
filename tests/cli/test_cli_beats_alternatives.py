"""`storybeat beats AUDIO --json --alternatives`: the grid at half and double tempo, an optional extra key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.cli import run
from tests.engine.audio_fixtures import drum_track, write_wav


def test_beats_json_adds_the_half_and_double_tempo_grids_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    track = drum_track(120.0, 8.0)
    song = write_wav(tmp_path / "song.wav", track.samples, track.sample_rate)

    assert run(["beats", str(song), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert run(["beats", str(song), "--json", "--alternatives"]) == 0
    full = json.loads(capsys.readouterr().out)

    assert set(plain) == {"tempo", "beats", "downbeats"}  # the contract's keys, unchanged by default
    assert set(full) == {"tempo", "beats", "downbeats", "alternatives"}
    assert full["beats"] == plain["beats"]
    levels = {level["name"]: level for level in full["alternatives"]}
    assert set(levels) == {"half", "double"}
    for level in levels.values():
        assert set(level) == {"name", "tempo", "beats", "downbeats", "meter"}
        assert set(level["downbeats"]) <= set(level["beats"])
    assert levels["half"]["tempo"] == pytest.approx(full["tempo"] / 2, rel=0.02)
    assert set(levels["half"]["beats"]) <= set(full["beats"])
    assert levels["double"]["tempo"] == pytest.approx(full["tempo"] * 2, rel=0.02)
    assert set(full["beats"]) <= set(levels["double"]["beats"])


def test_beats_text_names_the_other_tempos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track = drum_track(120.0, 8.0)
    song = write_wav(tmp_path / "song.wav", track.samples, track.sample_rate)
    assert run(["beats", str(song), "--alternatives"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"  half tempo: (59|60)\.\d BPM, \d+ beats", lines[1]), lines
    assert re.fullmatch(r"  double tempo: (239|240)\.\d BPM, \d+ beats", lines[2]), lines
