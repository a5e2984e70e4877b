"""Pacing presets: cut frames from the beat grid, and ApplyPacing as one undoable edit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import Act, BeatGrid, Project, Section
from app.model.commands import EditError
from app.model.history import History
from app.model.pacing import (
    ApplyPacing,
    beats_per_act,
    cuts_by_structure,
    cuts_every_n_beats,
    cuts_on_downbeats,
    durations_from_cuts,
    parse_pacing,
    preset_cuts,
)
from app.model.project_file import dumps_project

# 120 BPM at 24 fps: a beat every 12 frames. The music starts with a pickup: the first beat at 0.25 s
# (frame 6) and the first downbeat one beat later (frame 18), then every 4 beats.
_FIRST, _STEP, _BEATS = 6, 12, 40


def _project(durations: list[int], grid: BeatGrid) -> Project:
    acts = [Act(id=f"a{i}", name=f"Act {i}", duration_frames=d) for i, d in enumerate(durations)]
    return Project(acts=acts, beats=grid)


def _pickup_grid() -> BeatGrid:
    beats = tuple(0.25 + 0.5 * i for i in range(_BEATS))
    return BeatGrid(tempo=120, beats=beats, downbeats=beats[1::4])


def _beat_frame(i: int) -> int:
    return _FIRST + _STEP * i


def test_every_n_beats_counts_from_the_first_downbeat_or_the_first_beat() -> None:
    project = _project([50] * 5, _pickup_grid())  # 250 frames
    from_downbeat = [_beat_frame(i) for i in range(_BEATS) if (i - 1) % 4 == 0 and _beat_frame(i) < 250]
    assert cuts_every_n_beats(project, 4) == from_downbeat == [18, 66, 114, 162, 210]
    from_first = [_beat_frame(i) for i in range(0, _BEATS, 3) if _beat_frame(i) < 250]
    assert cuts_every_n_beats(project, 3, anchor="first_beat") == from_first


def test_cuts_on_downbeats_every_n_bars() -> None:
    project = _project([100] * 4, _pickup_grid())  # 400 frames
    downbeats = [_beat_frame(i) for i in range(1, _BEATS, 4)]
    assert cuts_on_downbeats(project, 1) == [f for f in downbeats if f < 400]
    assert cuts_on_downbeats(project, 2) == [f for f in downbeats[::2] if f < 400]


def test_apply_pacing_uses_the_first_cuts_and_spreads_the_rest_evenly() -> None:
    project = _project([50] * 5, _pickup_grid())
    original = dumps_project(project)
    history = History(project)
    changes = history.execute(ApplyPacing("every-N-beats", n=4))
    project.check_consistency()
    assert project.cut_frames() == [18, 66, 114, 162]  # 4 of the 5 cuts, in order
    assert project.duration_frames == 250
    assert changes.timing and changes.acts == {"a0", "a1", "a2", "a3", "a4"}
    history.undo()
    assert dumps_project(project) == original

    # 10 acts but only 3 cuts (6, 102, 198): the 7 acts left share frames 198..250 evenly
    project = _project([25] * 10, _pickup_grid())
    History(project).execute(ApplyPacing("every-N-beats", n=8, anchor="first_beat"))
    durations = [a.duration_frames for a in project.acts]
    assert durations[:3] == [6, 96, 96]
    assert sum(durations[3:]) == 52 and set(durations[3:]) <= {52 // 7, 52 // 7 + 1}
    assert project.duration_frames == 250


def test_acts_never_drop_below_one_frame() -> None:
    # cuts at 6 and 18 but 30 acts in 20 frames: the cuts that leave too little room are dropped
    durations = durations_from_cuts([6, 18], act_count=20, total=20)
    assert sum(durations) == 20 and min(durations) >= 1 and len(durations) == 20
    assert durations_from_cuts([6, 18], act_count=3, total=20) == [6, 12, 2]
    with pytest.raises(EditError):
        durations_from_cuts([], act_count=5, total=4)


def _structure_grid() -> BeatGrid:
    # 52 beats from 0 s (frames 0, 12, 24, …); a quiet intro of 16 beats, a loud chorus of 16, a quiet
    # outro of 20 (whose section change at 16.1 s lies 0.1 s after beat 32).
    beats = tuple(0.5 * i for i in range(52))
    sections = (
        Section(start=0.0, end=8.0, label="A", energy=0.0),
        Section(start=8.0, end=16.1, label="B", energy=1.0),
        Section(start=16.1, end=26.0, label="A", energy=0.0),
    )
    return BeatGrid(tempo=120, beats=beats, downbeats=beats[::4], sections=sections)


def test_structure_cuts_fast_in_loud_sections_holds_in_quiet_ones_and_cuts_on_section_changes() -> None:
    project = _project([624], _structure_grid())
    cuts = cuts_by_structure(project, min_beats=2, max_beats=16)
    # quiet intro: one 16-beat act; chorus: every 2 beats from beat 16; outro from beat 32: 16 beats, and the
    # 4 beats left before the end are too few for an act of their own
    expected = [12 * beat for beat in range(16, 32, 2)] + [12 * 32]
    assert cuts == expected
    assert 16 * 12 in cuts and 32 * 12 in cuts  # both section changes are cuts
    gaps = [b - a for a, b in zip([0, *cuts], [*cuts, 624], strict=False)]
    assert gaps[0] == 16 * 12 and set(gaps[1:-1]) == {2 * 12} and gaps[-1] == 20 * 12


def test_beats_per_act_goes_from_max_when_quiet_to_min_when_loud() -> None:
    lengths = [beats_per_act(e / 10, 2, 16) for e in range(11)]
    assert lengths[0] == 16 and lengths[-1] == 2
    assert lengths == sorted(lengths, reverse=True)
    assert beats_per_act(0.5, 2, 16) == round(2 * 8**0.5)


def test_structure_without_sections_cuts_at_a_steady_middle_pace() -> None:
    grid = BeatGrid(tempo=120, beats=tuple(0.5 * i for i in range(40)))
    project = _project([480], grid)
    step = beats_per_act(0.5, 2, 16)
    assert cuts_by_structure(project) == [12 * i for i in range(step, 40 - step // 2, step)]


def test_bad_pacing_requests_are_refused_and_change_nothing() -> None:
    project = _project([50] * 3, _pickup_grid())
    before = dumps_project(project)
    history = History(project)
    for command in (
        ApplyPacing("wobble"),
        ApplyPacing("downbeats", n=2),
        ApplyPacing("every-N-beats", n=0),
        ApplyPacing("every-N-beats", anchor="middle"),
        ApplyPacing("structure", min_beats=8, max_beats=4),
    ):
        with pytest.raises(EditError):
            history.execute(command)
    with pytest.raises(EditError, match="needs beats"):
        History(_project([10, 10], BeatGrid())).execute(ApplyPacing("downbeats"))
    with pytest.raises(EditError, match="two acts"):
        History(_project([10], _pickup_grid())).execute(ApplyPacing("downbeats"))
    assert dumps_project(project) == before and not history.can_undo


def test_parse_pacing_specs() -> None:
    assert parse_pacing("structure") == ("structure", {})
    assert parse_pacing("every-8-beats") == ("every-N-beats", {"n": 8})
    assert parse_pacing("every-N-beats:n=2,anchor=first_beat") == (
        "every-N-beats",
        {"n": 2, "anchor": "first_beat"},
    )
    assert parse_pacing("downbeats:bars=2") == ("downbeats", {"bars": 2})
    for bad in ("wobble", "downbeats:bars", "every-x-beats"):
        with pytest.raises(EditError):
            parse_pacing(bad)


# -- property: any grid, any project, any preset: consistent, same total, undo ⇒ original bytes ------------


@st.composite
def _grids(draw: st.DrawFn) -> BeatGrid:
    bpm = draw(st.integers(60, 200))
    offset_ms = draw(st.integers(0, 2000))
    count = draw(st.integers(1, 80))
    meter = draw(st.integers(2, 7))
    beats = tuple(round(offset_ms / 1000 + i * 60 / bpm, 6) for i in range(count))
    bounds = sorted(set(draw(st.lists(st.integers(0, count - 1), max_size=5))))
    sections = tuple(
        Section(
            start=beats[b], end=beats[nb] if nb < count else beats[-1] + 1.0, energy=draw(st.floats(0, 1))
        )
        for b, nb in zip(bounds, [*bounds[1:], count], strict=False)
    )
    phase = draw(st.integers(0, meter - 1))
    return BeatGrid(tempo=bpm, meter=meter, beats=beats, downbeats=beats[phase::meter], sections=sections)


_presets = st.one_of(
    st.tuples(st.just("every-N-beats"), st.fixed_dictionaries({"n": st.integers(1, 9)})),
    st.tuples(st.just("downbeats"), st.fixed_dictionaries({"bars": st.integers(1, 4)})),
    st.tuples(
        st.just("structure"),
        st.integers(1, 4).flatmap(
            lambda low: st.fixed_dictionaries({"min_beats": st.just(low), "max_beats": st.integers(low, 16)})
        ),
    ),
)


@settings(max_examples=150, deadline=None)
@given(grid=_grids(), durations=st.lists(st.integers(1, 120), min_size=2, max_size=9), preset=_presets)
def test_any_preset_on_any_project_is_consistent_and_undoable(
    grid: BeatGrid, durations: list[int], preset: tuple[str, dict[str, int]]
) -> None:
    project = _project(durations, grid)
    original = dumps_project(project)
    name, params = preset
    cuts = preset_cuts(project, name, **params)
    assert cuts == sorted(set(cuts)) and all(0 < c < project.duration_frames for c in cuts)
    assert set(cuts) <= set(grid.beat_frames(project.settings.fps))  # every preset cuts on beats
    history = History(project)
    history.execute(ApplyPacing(name, **params))
    project.check_consistency()
    assert project.duration_frames == sum(durations) and len(project.acts) == len(durations)
    # the preset's first cuts, in order, whenever the acts left over after them have a frame each
    used = min(len(cuts), len(durations) - 1)
    if used and project.duration_frames - cuts[used - 1] >= len(durations) - used:
        assert project.cut_frames()[:used] == cuts[:used]
    after = dumps_project(project)
    history.undo()
    assert dumps_project(project) == original
    history.redo()
    assert dumps_project(project) == after
