"""Beat grid editing: markers are covered in test_commands; here nudging and tap tempo."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InputError
from app.model import Act, BeatGrid, MediaRef, Project, Section
from app.model.beat_commands import NudgeBeatGrid, SetTempoFromTaps, bar_starts, grid_from_taps
from app.model.commands import EditError
from app.model.history import History
from app.model.project_file import dumps_project


def _project_with(grid: BeatGrid, total_frames: int = 240) -> Project:
    return Project(acts=[Act(id="a0", name="A", duration_frames=total_frames)], beats=grid)


_GRID = BeatGrid(
    source=MediaRef(path="music.wav"),
    tempo=120,
    beats=(0.5, 1.0, 1.5, 2.0, 2.5),
    downbeats=(0.5, 2.5),
    added=(2.75,),
    removed=(1.5,),
    sections=(Section(start=0.5, end=2.0, label="A", energy=0.2), Section(start=2.0, end=3.0, label="B")),
)


def test_nudge_shifts_every_time_in_the_grid_and_undo_restores_it() -> None:
    project = _project_with(_GRID)
    original = dumps_project(project)
    history = History(project)
    changes = history.execute(NudgeBeatGrid(0.1))
    project.check_consistency()
    assert changes.beats and not changes.acts
    grid = project.beats
    assert grid.beats == pytest.approx([0.6, 1.1, 1.6, 2.1, 2.6])
    assert grid.downbeats == pytest.approx([0.6, 2.6])
    assert grid.added == pytest.approx([2.85]) and grid.removed == pytest.approx([1.6])
    assert [t for s in grid.sections for t in (s.start, s.end)] == pytest.approx([0.6, 2.1, 2.1, 3.1])
    assert [s.label for s in grid.sections] == ["A", "B"] and grid.sections[0].energy == 0.2
    assert grid.source == _GRID.source and grid.tempo == 120
    assert grid.effective_beats() == pytest.approx([0.6, 1.1, 2.1, 2.6, 2.85])  # the removal still applies
    history.undo()
    assert dumps_project(project) == original


def test_nudge_that_would_move_a_beat_before_zero_is_refused() -> None:
    project = _project_with(_GRID)
    before = dumps_project(project)
    with pytest.raises(EditError, match="before 0 s"):
        History(project).execute(NudgeBeatGrid(-0.6))
    assert dumps_project(project) == before
    History(project).execute(NudgeBeatGrid(-0.5))  # exactly onto 0 is fine
    assert project.beats.beats[0] == 0.0


def test_tap_tempo_from_jittered_taps_finds_128_bpm() -> None:
    rng = random.Random(7)
    period = 60 / 128
    taps = [1.3 + i * period + rng.uniform(-0.02, 0.02) for i in range(16)]
    grid = grid_from_taps(taps, duration_s=30.0, meter=4)
    assert grid.tempo == pytest.approx(128, abs=0.5)
    beats = grid.beats
    assert 0 <= beats[0] < period and 30.0 - period < beats[-1] <= 30.0  # the whole duration is covered
    spacing = [b - a for a, b in itertools.pairwise(beats)]
    assert max(spacing) - min(spacing) < 1e-5  # a constant tempo
    # downbeats every 4 beats, one of them on the first tap (within the jitter)
    assert set(grid.downbeats) <= set(beats)
    assert min(abs(d - taps[0]) for d in grid.downbeats) < 0.03
    first = beats.index(grid.downbeats[0])
    assert list(grid.downbeats) == list(beats[first::4])
    assert grid.meter == 4


def test_tap_tempo_rejects_bad_taps() -> None:
    with pytest.raises(InputError, match="at least 4 taps"):
        grid_from_taps([0.0, 0.5, 1.0], 10.0, 4)
    with pytest.raises(InputError, match="strictly increasing"):
        grid_from_taps([0.0, 0.5, 0.5, 1.0], 10.0, 4)
    with pytest.raises(InputError, match="BPM"):
        grid_from_taps([0.0, 0.01, 0.02, 0.03], 10.0, 4)
    with pytest.raises(InputError, match="duration"):
        grid_from_taps([0.0, 0.5, 1.0, 1.5], 0.0, 4)


def test_set_tempo_from_taps_replaces_beats_but_keeps_source_and_sections() -> None:
    project = _project_with(_GRID, total_frames=24 * 20)
    original = dumps_project(project)
    history = History(project)
    changes = history.execute(SetTempoFromTaps([1.0, 1.5, 2.0, 2.5, 3.0], meter=3))
    project.check_consistency()
    grid = project.beats
    assert changes.beats
    assert grid.source == _GRID.source and grid.sections == _GRID.sections
    assert grid.tempo == pytest.approx(120) and grid.meter == 3
    assert grid.beats[0] == pytest.approx(0.0) and grid.beats[-1] == pytest.approx(20.0)  # the timeline
    assert grid.downbeats[:3] == pytest.approx([1.0, 2.5, 4.0])
    assert grid.added == () and grid.removed == ()
    assert bar_starts(grid) == list(grid.downbeats)
    with pytest.raises(EditError, match="at least 4 taps"):
        history.execute(SetTempoFromTaps([1.0, 2.0]))
    history.undo()
    assert dumps_project(project) == original


def test_bar_starts_fall_back_to_every_meter_th_beat() -> None:
    grid = BeatGrid(tempo=120, meter=3, beats=tuple(0.5 * k for k in range(10)), removed=(0.0,))
    assert bar_starts(grid) == [0.5, 2.0, 3.5]


# Beat times on a millisecond lattice: analysed beats are never closer than that.
_times = st.lists(st.integers(0, 60_000), max_size=12).map(
    lambda ms: tuple(t / 1000 for t in sorted(set(ms)))
)


@settings(max_examples=100, deadline=None)
@given(beats=_times, delta=st.floats(-5, 5, allow_nan=False), downbeat_every=st.integers(1, 4))
def test_nudge_then_undo_restores_any_grid(
    beats: tuple[float, ...], delta: float, downbeat_every: int
) -> None:
    grid = BeatGrid(tempo=100, beats=beats, downbeats=beats[::downbeat_every], removed=beats[1:2])
    project = _project_with(grid)
    original = dumps_project(project)
    history = History(project)
    try:
        history.execute(NudgeBeatGrid(delta))
    except EditError:
        assert beats and beats[0] + delta < 0
        assert dumps_project(project) == original
        return
    project.check_consistency()
    assert len(project.beats.effective_beats()) == len(grid.effective_beats())
    history.undo()
    assert dumps_project(project) == original
