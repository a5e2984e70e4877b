"""Pacing presets: cut frames from the beat grid, and ApplyPacing as one undoable edit over the whole song."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import Act, BeatGrid, Project, ProjectSettings, Section
from app.model.commands import EditError
from app.model.history import History
from app.model.pacing import (
    PRESETS,
    ApplyPacing,
    PacingResult,
    beats_per_act,
    cuts_by_structure,
    cuts_every_n_beats,
    cuts_on_downbeats,
    parse_pacing,
    preset_cuts,
    song_frames,
)
from app.model.project_file import dumps_project, load_project

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "demo.storybeat"

# 120 BPM at 24 fps: a beat every 12 frames. The music starts with a pickup: the first beat at 0.25 s
# (frame 6, half a beat from the start) and the first downbeat one beat later (frame 18), then every 4 beats.
_FIRST, _STEP, _BEATS = 6, 12, 40
_SONG = _FIRST + _STEP * (_BEATS - 1) + _STEP  # no sections: the song lasts one beat past its last beat


def _project(durations: list[int], grid: BeatGrid, fps: Fraction = Fraction(24)) -> Project:
    acts = [Act(id=f"a{i}", name=f"Act {i}", duration_frames=d) for i, d in enumerate(durations)]
    return Project(settings=ProjectSettings(fps=fps), acts=acts, beats=grid)


def _pickup_grid() -> BeatGrid:
    beats = tuple(0.25 + 0.5 * i for i in range(_BEATS))
    return BeatGrid(tempo=120, beats=beats, downbeats=beats[1::4])


def _beat_frame(i: int) -> int:
    return _FIRST + _STEP * i


def _durations(project: Project) -> list[int]:
    return [act.duration_frames for act in project.acts]


# -- the user's report: the demo project ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "params", "title"),
    [
        ("downbeats", {"bars": 1}, "Cut on downbeats"),
        ("structure", {}, "Follow song structure"),
        ("every-N-beats", {"n": 4}, "Cut every 4 beats"),
    ],
)
def test_the_demo_keeps_every_act_at_least_a_beat_long_and_spreads_them_over_the_song(
    preset: str, params: dict[str, int], title: str
) -> None:
    # The demo's first beat is at 0.026 s (frame 1): it was taken for a cut, the first act shrank to one
    # frame and the last act held the rest of the timeline.
    project = load_project(DEMO)
    fps = project.settings.fps
    beats = project.beats.beat_frames(fps)
    one_beat = min(b - a for a, b in itertools.pairwise(beats))  # 11 frames at 119.9 BPM and 24 fps
    before = _durations(project)
    command = ApplyPacing(preset, **params)
    History(project).execute(command)
    project.check_consistency()

    durations = _durations(project)
    assert len(durations) == 4
    assert min(durations) >= one_beat, durations
    assert durations[0] >= beats[1], "the first act holds the pickup and its first beat"
    assert all(cut in beats for cut in project.cut_frames())
    song = math.ceil(project.beats.sections[-1].end * fps)
    assert project.duration_frames == song == 457  # the whole song (19.03 s), not the old 16 s timeline
    assert max(durations) < 3 * min(durations)  # spread out: no act takes what the others leave over

    result = command.result
    assert isinstance(result, PacingResult)
    assert list(result.durations) == durations
    slots = len(preset_cuts(project, preset, **params)) + 1
    assert result.acts_needed == slots - 4 > 0
    retimed = sum(a != b for a, b in zip(before, durations, strict=True))
    assert result.acts_retimed == retimed
    assert result.summary == (
        f"{title}: {retimed} acts re-timed, {result.acts_needed} more acts would cover the song"
    )


def test_the_demo_downbeats_fall_on_bars_spread_evenly() -> None:
    project = load_project(DEMO)
    command = ApplyPacing("downbeats")
    History(project).execute(command)
    # 9 usable downbeats (not the one at frame 1) make 10 bars; 4 acts take 3, 2, 3 and 2 of them
    assert project.cut_frames() == [144, 241, 385]
    assert command.result is not None
    assert command.result.acts_needed == 6 and command.result.cuts_moved == 3
    # the second act happens to keep its 97 frames
    assert command.result.summary == "Cut on downbeats: 3 acts re-timed, 6 more acts would cover the song"


# -- the presets' cuts ---------------------------------------------------------------------------------------


def test_song_length_comes_from_the_sections_else_one_beat_past_the_last_beat() -> None:
    assert song_frames(_project([10, 10], _pickup_grid())) == _SONG
    with_sections = _pickup_grid().model_copy(update={"sections": (Section(start=0.0, end=21.0),)})
    assert song_frames(_project([10, 10], with_sections)) == 21 * 24


def test_every_n_beats_counts_from_the_first_downbeat_or_the_first_beat() -> None:
    project = _project([50] * 5, _pickup_grid())
    from_downbeat = [_beat_frame(i) for i in range(1, _BEATS, 4)]
    assert cuts_every_n_beats(project, 4) == from_downbeat
    assert from_downbeat[:3] == [18, 66, 114]
    # counted from the first beat, which is only half a beat in: it cannot be a cut (a half-beat act)
    from_first = [_beat_frame(i) for i in range(3, _BEATS, 3)]
    assert cuts_every_n_beats(project, 3, anchor="first_beat") == from_first


def test_cuts_on_downbeats_every_n_bars() -> None:
    project = _project([100] * 4, _pickup_grid())
    downbeats = [_beat_frame(i) for i in range(1, _BEATS, 4)]
    assert cuts_on_downbeats(project, 1) == downbeats
    assert cuts_on_downbeats(project, 2) == downbeats[::2]


def test_a_cut_leaves_the_last_act_at_least_a_beat() -> None:
    # the song ends half a beat after its last beat: a cut there would make a half-beat act
    grid = _pickup_grid().model_copy(update={"sections": (Section(start=0.0, end=0.25 + 0.5 * 39 + 0.25),)})
    project = _project([10, 10], grid)
    assert _beat_frame(_BEATS - 1) not in cuts_every_n_beats(project, 1)
    assert cuts_every_n_beats(project, 1)[-1] == _beat_frame(_BEATS - 2)


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


# -- applying a preset ---------------------------------------------------------------------------------------


def test_fewer_acts_than_bars_spread_over_the_song_and_say_how_many_more_would_cover_it() -> None:
    project = _project([50] * 5, _pickup_grid())
    original = dumps_project(project)
    history = History(project)
    command = ApplyPacing("every-N-beats", n=4)
    changes = history.execute(command)
    project.check_consistency()
    # 10 cuts make 11 slots of 4 beats (the first one holds the pickup too); 5 acts take 2, 2, 3, 2, 2 slots
    cuts = cuts_every_n_beats(project, 4)
    assert project.cut_frames() == [cuts[1], cuts[3], cuts[6], cuts[8]]
    assert project.duration_frames == _SONG
    assert changes.timing and changes.acts == {"a0", "a1", "a2", "a3", "a4"}
    assert command.result is not None and command.result.acts_needed == 6
    assert command.result.summary == "Cut every 4 beats: 5 acts re-timed, 6 more acts would cover the song"
    history.undo()
    assert dumps_project(project) == original


def test_more_acts_than_bars_split_bars_on_beats_inside_the_song() -> None:
    project = _project([10] * 14, _pickup_grid())
    command = ApplyPacing("downbeats")
    History(project).execute(command)
    beats = set(project.beats.beat_frames(project.settings.fps))
    assert project.duration_frames == _SONG
    assert all(cut in beats for cut in project.cut_frames())
    assert set(cuts_on_downbeats(project)) <= set(project.cut_frames())  # every bar still starts an act
    assert min(_durations(project)) >= _STEP
    assert command.result is not None
    assert command.result.acts_needed == 0 and command.result.acts_past_song == 0
    assert command.result.summary == "Cut on downbeats: 14 acts re-timed"


def test_more_acts_than_beats_run_past_the_song_on_its_tempo() -> None:
    grid = BeatGrid(tempo=120, beats=(0.5, 1.0, 1.5, 2.0), downbeats=(0.5,))
    project = _project([10] * 7, grid)
    command = ApplyPacing("downbeats")
    History(project).execute(command)
    # every beat is a cut, then the grid goes on at 120 BPM: 12 frames per beat
    assert project.cut_frames() == [12, 24, 36, 48, 60, 72]
    assert _durations(project) == [12] * 7
    assert command.result is not None and command.result.acts_past_song == 2
    assert command.result.summary == "Cut on downbeats: 7 acts re-timed, 2 acts run past the end of the song"


def test_applying_the_same_preset_again_changes_nothing_and_says_so() -> None:
    project = _project([50] * 5, _pickup_grid())
    history = History(project)
    history.execute(ApplyPacing("downbeats"))
    again = ApplyPacing("downbeats")
    changes = history.execute(again)
    assert not changes.acts and again.result is not None and again.result.cuts_moved == 0
    assert again.result.summary.startswith("Cut on downbeats: no acts re-timed")


def test_bad_pacing_requests_are_refused_and_change_nothing() -> None:
    project = _project([50] * 3, _pickup_grid())
    before = dumps_project(project)
    history = History(project)
    assert ApplyPacing("every-N-beats", n=8).label == "Cut every 8 beats"  # the undo menu's words
    assert ApplyPacing("wobble").label == "Pacing 'wobble'"
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
    with pytest.raises(EditError, match="two beats or a tempo"):
        History(_project([10, 10], BeatGrid(beats=(1.0,)))).execute(ApplyPacing("downbeats"))
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
    for bad in ("wobble", "downbeats:bars", "every-x-beats", "downbeats:n=2"):
        with pytest.raises(EditError):
            parse_pacing(bad)


# -- property: every preset, any grid, few or many acts, short or long songs ---------------------------------


@st.composite
def _grids(draw: st.DrawFn) -> BeatGrid:
    bpm = draw(st.integers(60, 200))
    # the first beat where real music has it: on the start, a hair after it (the demo), a pickup, anywhere
    first = draw(st.sampled_from([0.0, 0.026, 0.4]) | st.floats(0.0, 2.0))
    count = draw(st.integers(1, 80))
    meter = draw(st.integers(2, 7))
    beats = tuple(round(first + i * 60 / bpm, 6) for i in range(count))
    sections: tuple[Section, ...] = ()
    if draw(st.booleans()):
        # the analysis' sections cover the whole track, which may end soon after the last beat or long after
        end = beats[-1] + draw(st.floats(0.05, 6.0))
        bounds = sorted(set(draw(st.lists(st.integers(1, count - 1), max_size=4)))) if count > 1 else []
        edges = [0.0, *(beats[b] for b in bounds), end]
        sections = tuple(
            Section(start=a, end=b, energy=draw(st.floats(0, 1))) for a, b in itertools.pairwise(edges)
        )
    phase = draw(st.integers(0, meter - 1))
    return BeatGrid(tempo=bpm, meter=meter, beats=beats, downbeats=beats[phase::meter], sections=sections)


_PARAMS = {
    "every-N-beats": st.fixed_dictionaries(
        {"n": st.integers(1, 9)}, optional={"anchor": st.sampled_from(["downbeat", "first_beat"])}
    ),
    "downbeats": st.fixed_dictionaries({"bars": st.integers(1, 4)}),
    "structure": st.integers(1, 4).flatmap(
        lambda low: st.fixed_dictionaries({"min_beats": st.just(low), "max_beats": st.integers(low, 16)})
    ),
}


def test_the_property_covers_every_preset() -> None:
    assert set(_PARAMS) == set(PRESETS)


def _continues_the_grid(frame: int, grid: BeatGrid, fps: Fraction) -> bool:
    """Whether `frame` lies on the grid continued at its tempo past its last beat (within rounding)."""
    last, period = grid.beats[-1], 60 / grid.tempo
    beats_on = (frame / float(fps) - last) / period
    return beats_on > 0 and abs(beats_on - round(beats_on)) * period * float(fps) <= 0.51


@pytest.mark.parametrize("preset", sorted(_PARAMS))
@settings(max_examples=120, deadline=None)
@given(
    data=st.data(),
    grid=_grids(),
    act_count=st.integers(2, 40),
    fps=st.sampled_from([Fraction(24), Fraction(25), Fraction(30000, 1001)]),
)
def test_every_preset_keeps_acts_a_beat_long_on_beats_and_covers_the_song(
    preset: str, data: st.DataObject, grid: BeatGrid, act_count: int, fps: Fraction
) -> None:
    params = data.draw(_PARAMS[preset])
    durations = data.draw(st.lists(st.integers(1, 120), min_size=act_count, max_size=act_count))
    project = _project(durations, grid, fps)
    original = dumps_project(project)
    song = song_frames(project)
    beats = [frame for frame in grid.beat_frames(fps) if frame < song]
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    one_beat = min([*gaps, math.floor(60 / grid.tempo * float(fps))])
    cuts = preset_cuts(project, preset, **params)
    assert cuts == sorted(set(cuts)) and all(0 < c < song for c in cuts) and set(cuts) <= set(beats)

    history = History(project)
    command = ApplyPacing(preset, **params)
    history.execute(command)
    project.check_consistency()
    result = command.result
    assert result is not None and list(result.durations) == _durations(project)

    assert [act.id for act in project.acts] == [f"a{i}" for i in range(act_count)]  # no act disappears
    assert min(_durations(project)) >= max(1, one_beat), (_durations(project), one_beat)
    assert result.acts_needed == max(0, len(cuts) + 1 - act_count)
    continued = [cut for cut in project.cut_frames() if cut not in beats]
    assert all(_continues_the_grid(cut, grid, fps) for cut in continued), continued
    if continued or result.acts_past_song:
        # the grid is continued only when the song has no beat left to cut on
        assert result.acts_needed == 0
        if gaps:  # every beat is a cut but a first one less than a beat in
            assert {b for b in beats if b >= gaps[0]} <= set(project.cut_frames())
    if result.acts_past_song:
        assert project.duration_frames > song
    else:
        assert project.duration_frames == song  # the acts cover the song, no more
    if result.acts_needed:
        assert set(project.cut_frames()) <= set(cuts)  # the preset's own cuts, spread over the song
        assert f"{result.acts_needed} more act" in result.summary

    after = dumps_project(project)
    history.undo()
    assert dumps_project(project) == original
    history.redo()
    assert dumps_project(project) == after
