"""The beat analysis keeps the grid at half and at double tempo, for the editor's Half/Double Tempo."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.engine.audio.beats import BeatAnalysis, MetricalLevel, analyze_beats
from app.engine.audio.grid import beat_grid
from app.model import MediaRef
from tests.engine.audio_fixtures import DrumTrack, drum_track, groove, steady_beats, write_wav

TRACKS: dict[str, DrumTrack] = {
    "120 BPM 4/4": drum_track(120.0, 16.0),
    "150 BPM 3/4": groove(steady_beats(150.0, 16.0), 16.0, 22050, meter=3, seed=4),
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BeatAnalysis]:
    folder = tmp_path_factory.mktemp("levels")
    return {
        name: analyze_beats(write_wav(folder / f"{index}.wav", track.samples, track.sample_rate))
        for index, (name, track) in enumerate(TRACKS.items())
    }


def _level(analysis: BeatAnalysis, name: str) -> MetricalLevel:
    assert [level.name for level in analysis.alternatives] == ["half", "double"]
    return next(level for level in analysis.alternatives if level.name == name)


@pytest.mark.parametrize("name", list(TRACKS))
def test_half_tempo_keeps_every_other_beat(analysed: dict[str, BeatAnalysis], name: str) -> None:
    analysis = analysed[name]
    half = _level(analysis, "half")

    assert half.tempo == pytest.approx(analysis.tempo / 2, rel=0.02)
    assert set(half.beats) <= set(analysis.beats)
    positions = [analysis.beats.index(t) for t in half.beats]
    assert positions[0] in (0, 1) and set(np.diff(positions)) == {2}
    assert len(analysis.beats) - positions[-1] <= 2  # through to the end
    assert set(half.downbeats) <= set(half.beats) and half.meter in (3, 4)


def test_half_tempo_of_a_four_four_bar_keeps_its_downbeats(analysed: dict[str, BeatAnalysis]) -> None:
    analysis = analysed["120 BPM 4/4"]
    assert set(analysis.downbeats) <= set(_level(analysis, "half").beats)


@pytest.mark.parametrize("name", list(TRACKS))
def test_double_tempo_adds_the_off_beats(analysed: dict[str, BeatAnalysis], name: str) -> None:
    analysis = analysed[name]
    double = _level(analysis, "double")

    assert double.tempo == pytest.approx(2 * analysis.tempo, rel=0.02)
    assert set(analysis.beats) <= set(double.beats)
    assert len(double.beats) == 2 * len(analysis.beats) - 1
    # The grooves play a hi-hat halfway between the beats: each added beat is on it.
    added = np.array(double.beats[1::2])
    middles = (np.array(analysis.beats[:-1]) + np.array(analysis.beats[1:])) / 2
    assert np.max(np.abs(added - middles)) < 0.03
    assert set(double.downbeats) <= set(double.beats) and double.meter in (3, 4)


def test_the_levels_survive_json_and_reach_the_beat_grid(analysed: dict[str, BeatAnalysis]) -> None:
    analysis = analysed["120 BPM 4/4"]
    text = analysis.to_json()
    restored = BeatAnalysis.from_json(text)

    assert set(json.loads(text)["alternatives"][0]) == {"name", "tempo", "beats", "downbeats", "meter"}
    for original, copy in zip(analysis.alternatives, restored.alternatives, strict=True):
        assert (copy.name, copy.tempo, copy.meter) == (original.name, original.tempo, original.meter)
        assert copy.beats == pytest.approx(original.beats, abs=1e-4)
        assert copy.downbeats == pytest.approx(original.downbeats, abs=1e-4)
    # Rounded the same way as the main beats, so a half beat still is one of them.
    assert set(_level(restored, "half").beats) <= set(restored.beats)

    grid = beat_grid(restored, MediaRef(path="song.wav"))
    half = grid.alternative("half")
    assert half is not None and half.beats == _level(restored, "half").beats
    assert [level.name for level in grid.alternatives] == ["half", "double"]
