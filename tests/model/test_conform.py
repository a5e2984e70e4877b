"""Music swap: ReplaceAudio keeps every cut on the same beat, downbeat or section position."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import Act, AudioClip, BeatGrid, MediaRef, Project, Section
from app.model.commands import EditError
from app.model.conform import ReplaceAudio
from app.model.history import History
from app.model.project_file import dumps_project

_OLD = MediaRef(path="temp_score.wav", sha256="a" * 64)
_NEW = MediaRef(path="final_score.wav", sha256="b" * 64)


def _grid(
    seconds_per_beat: float, count: int = 64, meter: int = 4, source: MediaRef | None = None
) -> BeatGrid:
    beats = tuple(round(i * seconds_per_beat, 6) for i in range(count))
    return BeatGrid(
        source=source, tempo=60 / seconds_per_beat, meter=meter, beats=beats, downbeats=beats[::meter]
    )


def _project(cuts: list[int], end: int, grid: BeatGrid) -> Project:
    positions = [0, *cuts, end]
    acts = [
        Act(id=f"a{i}", name=f"Act {i}", duration_frames=b - a)
        for i, (a, b) in enumerate(itertools.pairwise(positions))
    ]
    return Project(acts=acts, audio=[AudioClip(id="music", media=_OLD)], beats=grid)


def test_swap_120_to_100_bpm_keeps_every_cut_on_its_beat_index() -> None:
    # 120 BPM at 24 fps: beat k at frame 12 k. Cuts on beats 4, 8, 14, 20 (one 2 frames late), end on beat 28.
    project = _project([48, 96, 170, 240], 336, _grid(0.5, source=_OLD))
    original = dumps_project(project)
    history = History(project)
    changes = history.execute(ReplaceAudio("music", _NEW, _grid(0.6)))
    project.check_consistency()
    # 100 BPM: beat k at 0.6 k s = 14.4 k frames
    assert project.cut_frames() == [round(14.4 * k) for k in (4, 8, 14, 20)]
    assert project.duration_frames == round(14.4 * 28)
    assert project.audio[0].media == _NEW
    assert project.beats.tempo == pytest.approx(100) and project.beats.source == _NEW  # filled in
    assert changes.audio and changes.beats and changes.timing
    assert changes.acts == {a.id for a in project.acts}
    history.undo()
    assert dumps_project(project) == original


def test_only_acts_whose_length_changed_are_reported() -> None:
    # the new track has the same first 8 beats, then slows down: the first two acts are untouched
    old = _grid(0.5)
    new_beats = tuple(old.beats[:9]) + tuple(round(4.0 + 0.6 * k, 6) for k in range(1, 56))
    new = BeatGrid(tempo=100, beats=new_beats, downbeats=new_beats[::4])
    project = _project([48, 96, 144, 192], 240, old)
    changes = History(project).execute(ReplaceAudio("music", _NEW, new))
    assert project.cut_frames()[:2] == [48, 96]
    assert changes.acts == {"a2", "a3", "a4"}


def test_downbeat_conform_keeps_bar_positions() -> None:
    # old 4/4 at 120 BPM (bars every 2 s), new 3/4 at 100 BPM (bars every 1.8 s)
    project = _project([96, 120], 192, _grid(0.5))  # bar 2; beat 10 = half-way through bar 2; bar 4
    History(project).execute(ReplaceAudio("music", _NEW, _grid(0.6, meter=3), conform="downbeats"))
    assert project.cut_frames() == [round(3.6 * 24), round(4.5 * 24)]
    assert project.duration_frames == round(7.2 * 24)


def test_section_conform_keeps_the_fraction_through_each_section() -> None:
    old = _grid(0.5).model_copy(update={"sections": (Section(start=0, end=8), Section(start=8, end=16))})
    new = _grid(0.6).model_copy(update={"sections": (Section(start=0, end=10), Section(start=10, end=30))})
    project = _project([96, 288], 384, old)  # half-way through each section; the end of the last one
    History(project).execute(ReplaceAudio("music", _NEW, new, conform="sections"))
    assert project.cut_frames() == [120, 480] and project.duration_frames == 720


def test_cuts_without_a_counterpart_keep_their_time_and_acts_never_collapse() -> None:
    # the new track has only 10 beats: beat 20 and the end (beat 28) have no counterpart
    project = _project([48, 240], 336, _grid(0.5))
    History(project).execute(ReplaceAudio("music", _NEW, _grid(0.6, count=10)))
    assert project.cut_frames() == [round(14.4 * 4), 240] and project.duration_frames == 336

    # a much slower track pushes beat 8 past a cut that lies beyond the old grid: it stays one frame later
    project = _project([96, 200], 300, _grid(0.5, count=11))
    History(project).execute(ReplaceAudio("music", _NEW, _grid(2.0, count=40)))
    assert [a.duration_frames for a in project.acts] == [384, 1, 1]
    project.check_consistency()


def test_conform_none_only_swaps_media_and_grid() -> None:
    project = _project([48, 96], 144, _grid(0.5))
    changes = History(project).execute(ReplaceAudio("music", _NEW, _grid(0.6), conform="none"))
    assert project.cut_frames() == [48, 96]
    assert changes.audio and changes.beats and not changes.acts and not changes.timing


def test_bad_requests_change_nothing() -> None:
    project = _project([48], 96, _grid(0.5))
    before = dumps_project(project)
    history = History(project)
    with pytest.raises(EditError, match="no audio clip"):
        history.execute(ReplaceAudio("nope", _NEW, _grid(0.6)))
    with pytest.raises(EditError, match="conform must be"):
        history.execute(ReplaceAudio("music", _NEW, _grid(0.6), conform="bars"))
    assert dumps_project(project) == before and not history.can_undo


@st.composite
def _grids(draw: st.DrawFn) -> BeatGrid:
    bpm = draw(st.integers(60, 200))
    offset = draw(st.integers(0, 2000)) / 1000
    count = draw(st.integers(0, 60))
    meter = draw(st.integers(2, 7))
    beats = tuple(round(offset + i * 60 / bpm, 6) for i in range(count))
    sections: tuple[Section, ...] = ()
    if count >= 2:
        middle = beats[count // 2]
        sections = (Section(start=beats[0], end=middle), Section(start=middle, end=beats[-1] + 0.5))
    return BeatGrid(tempo=bpm, meter=meter, beats=beats, downbeats=beats[::meter], sections=sections)


@settings(max_examples=150, deadline=None)
@given(
    old=_grids(),
    new=_grids(),
    durations=st.lists(st.integers(1, 90), min_size=1, max_size=8),
    mode=st.sampled_from(["beats", "downbeats", "sections", "none"]),
)
def test_any_swap_is_consistent_and_undo_restores_the_bytes(
    old: BeatGrid, new: BeatGrid, durations: list[int], mode: str
) -> None:
    project = Project(
        acts=[Act(id=f"a{i}", duration_frames=d) for i, d in enumerate(durations)],
        audio=[AudioClip(id="music", media=_OLD)],
        beats=old,
    )
    original = dumps_project(project)
    history = History(project)
    changes = history.execute(ReplaceAudio("music", _NEW, new, conform=mode))
    project.check_consistency()
    after = dumps_project(project)
    assert len(project.acts) == len(durations)
    changed = {act.id for act, d in zip(project.acts, durations, strict=True) if act.duration_frames != d}
    assert changes.acts == changed
    history.undo()
    assert dumps_project(project) == original
    history.redo()
    assert dumps_project(project) == after
