"""Edit commands and history: every edit, undo and redo keeps the document consistent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import (
    Act,
    BeatGrid,
    CameraMove,
    GenerationSettings,
    MotionSettings,
    Project,
    TransitionKind,
    TransitionSpec,
)
from app.model.beat_commands import AddBeatMarker, RemoveBeatMarker, SetBeatGrid
from app.model.commands import (
    AddAct,
    Changes,
    Command,
    EditError,
    MoveAct,
    MoveCut,
    RemoveActs,
    SetActField,
    SnapCutsToBeats,
    SplitAct,
    TrimAct,
)
from app.model.history import History
from app.model.project_file import dumps_project


def _project(*durations: int) -> Project:
    return Project(
        acts=[Act(id=f"a{i}", name=f"Act {i}", duration_frames=d) for i, d in enumerate(durations)]
    )


def _run(history: History, command: Command) -> Changes:
    changes = history.execute(command)
    history.project.check_consistency()
    return changes


def _undo_redo_round_trip(history: History) -> None:
    after = dumps_project(history.project)
    history.undo()
    history.project.check_consistency()
    history.redo()
    history.project.check_consistency()
    assert dumps_project(history.project) == after


def test_split_cuts_at_the_split_point_and_the_second_part_continues_the_camera_move() -> None:
    # A dip to black going out and a zoom: splitting used to copy both, so the picture dipped to black in the
    # middle of the shot and the zoom started again from its widest framing.
    act = Act(
        id="a0",
        name="Shot",
        duration_frames=48,
        motion=MotionSettings(camera=CameraMove.zoom_in, intensity=0.8),
        transition=TransitionSpec(kind=TransitionKind.dip, frames=8),
        generation=GenerationSettings(end_on_next=True),
    )
    project = Project(acts=[act, Act(id="a1", duration_frames=24)])
    original = dumps_project(project)
    history = History(project)

    _run(history, SplitAct("a0", 20, new_id="a0b"))
    first, second = project.acts[:2]
    assert first.transition == TransitionSpec()  # a cut, zero frames: the picture runs straight on
    assert second.transition == TransitionSpec(kind=TransitionKind.dip, frames=8)
    # frame k of the 48-frame move lies at k / 47 of it: the first part shows frames 0..19, the second 20..47
    assert (first.motion.path_start, first.motion.path_end) == (0.0, pytest.approx(19 / 47))
    assert (second.motion.path_start, second.motion.path_end) == (pytest.approx(20 / 47), 1.0)
    assert first.motion.camera is second.motion.camera is CameraMove.zoom_in
    # only the second part ends where the shot ended: on the next act's keyframe
    assert not first.generation.end_on_next and second.generation.end_on_next
    _undo_redo_round_trip(history)

    # splitting a part again divides its piece of the move
    _run(history, SplitAct("a0b", 14, new_id="a0c"))
    middle, last = project.act("a0b"), project.act("a0c")
    assert middle.motion.path_end == pytest.approx(20 / 47 + (27 / 47) * 13 / 27)  # frame 33 of 47
    assert last.motion.path_start == pytest.approx(34 / 47)

    history.undo()
    history.undo()
    assert dumps_project(project) == original  # the act as it was, exactly


def test_split_trim_move_delete_and_undo_everything() -> None:
    project = _project(48, 24, 36)
    original = dumps_project(project)
    history = History(project)

    changes = _run(history, SplitAct("a0", 20, new_id="a0b"))
    assert [a.duration_frames for a in project.acts] == [20, 28, 24, 36]
    assert changes.acts == {"a0", "a0b"} and changes.timing
    _undo_redo_round_trip(history)

    _run(history, TrimAct("a1", 12))
    assert project.act_starts() == [0, 20, 48, 60]
    _undo_redo_round_trip(history)

    _run(history, MoveAct("a2", 0))
    assert [a.id for a in project.acts] == ["a2", "a0", "a0b", "a1"]
    _undo_redo_round_trip(history)

    _run(history, RemoveActs(["a0", "a1"]))
    assert [a.id for a in project.acts] == ["a2", "a0b"]
    assert project.duration_frames == 36 + 28
    _undo_redo_round_trip(history)

    while history.can_undo:
        history.undo()
        project.check_consistency()
    assert dumps_project(project) == original


def test_move_cut_is_a_roll_edit_that_keeps_total_length() -> None:
    project = _project(24, 24, 24)
    history = History(project)
    _run(history, MoveCut(0, 30))
    assert [a.duration_frames for a in project.acts] == [30, 18, 24]
    assert project.duration_frames == 72
    with pytest.raises(EditError, match="must stay inside"):
        history.execute(MoveCut(1, 72))
    with pytest.raises(EditError, match="no cut"):
        history.execute(MoveCut(2, 60))
    assert [a.duration_frames for a in project.acts] == [30, 18, 24]


def test_refused_edits_change_nothing_and_are_not_recorded() -> None:
    project = _project(10, 10)
    history = History(project)
    before = dumps_project(project)
    for command in (
        TrimAct("a0", 0),
        SplitAct("a0", 10),
        SplitAct("missing", 2),
        MoveAct("a0", 5),
        SetActField("a0", "seed", -1),
        SetActField("a0", "duration_frames", 3),
        SetActField("a0", "no_such_field", 1),
        AddAct(Act(id="a1", duration_frames=3)),
    ):
        with pytest.raises(EditError):
            history.execute(command)
    assert dumps_project(project) == before
    assert not history.can_undo


def test_set_act_field_validates_and_reports_the_act() -> None:
    project = _project(10)
    history = History(project)
    changes = _run(history, SetActField("a0", "motion", {"camera": "pan_left", "intensity": 0.9}))
    assert project.acts[0].motion == MotionSettings(camera="pan_left", intensity=0.9)
    assert changes == Changes(acts=frozenset({"a0"}))
    with pytest.raises(EditError, match="intensity"):
        history.execute(SetActField("a0", "motion", {"intensity": 2.0}))


def test_snap_cuts_to_beats_moves_cuts_within_tolerance_only() -> None:
    project = _project(22, 27, 40, 10)  # cuts at 22, 49, 89
    project.beats = BeatGrid(tempo=120, beats=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5))  # frames 0,12,24,…,84
    history = History(project)
    changes = _run(history, SnapCutsToBeats(tolerance_frames=3))
    # 22 → 24 (2 away), 49 → 48 (1 away), 89 → 84 is 5 away: stays
    assert project.cut_frames() == [24, 48, 89]
    assert changes.acts == {"a0", "a1", "a2"}
    assert project.duration_frames == 99
    _undo_redo_round_trip(history)


def test_group_is_one_undo_step_and_rolls_back_on_failure() -> None:
    project = _project(30, 30)
    history = History(project)
    seen: list[Changes] = []
    history.subscribe(seen.append)
    before = dumps_project(project)

    with history.group("Split and rename"):
        history.execute(SplitAct("a0", 10, new_id="n"))
        history.execute(SetActField("n", "name", "Middle"))
    assert len(seen) == 1 and seen[0].acts == {"a0", "n"}
    assert history.undo_label == "Split and rename"
    history.undo()
    assert dumps_project(project) == before

    revision = history.revision
    with pytest.raises(EditError), history.group("Doomed"):
        history.execute(TrimAct("a0", 5))
        history.execute(TrimAct("a1", -3))
    assert dumps_project(project) == before
    assert history.revision == revision
    assert history.undo_label is None and history.can_redo


def test_modified_flag_follows_save_point() -> None:
    history = History(_project(10))
    assert not history.is_modified
    history.execute(SetActField("a0", "prompt", "x"))
    assert history.is_modified
    history.mark_saved()
    assert not history.is_modified
    history.undo()
    assert history.is_modified
    history.redo()
    assert not history.is_modified


def test_beat_grid_command_and_effective_beats() -> None:
    project = _project(10)
    history = History(project)
    grid = BeatGrid(tempo=100, beats=(0.6, 1.2, 1.8), downbeats=(0.6,), added=(2.4,), removed=(1.2,))
    changes = _run(history, SetBeatGrid(grid))
    assert changes.beats
    assert project.beats.effective_beats() == [0.6, 1.8, 2.4]
    history.undo()
    assert project.beats == BeatGrid()


def test_beat_markers_are_added_and_removed_on_top_of_the_detected_grid() -> None:
    project = _project(10)
    project.beats = BeatGrid(tempo=120, beats=(0.5, 1.0, 1.5))
    history = History(project)
    _run(history, AddBeatMarker(1.25))
    _run(history, RemoveBeatMarker(1.0))
    assert project.beats.effective_beats() == [0.5, 1.25, 1.5]
    assert project.beats.beats == (0.5, 1.0, 1.5)  # the detection itself is kept
    _run(history, AddBeatMarker(1.0))  # restoring a hidden detected beat
    assert project.beats.removed == ()
    with pytest.raises(EditError, match="already a beat"):
        history.execute(AddBeatMarker(0.5))
    with pytest.raises(EditError, match="no beat"):
        history.execute(RemoveBeatMarker(2.0))
    _run(history, RemoveBeatMarker(1.25))
    assert project.beats.added == ()
    while history.can_undo:
        history.undo()
    assert project.beats == BeatGrid(tempo=120, beats=(0.5, 1.0, 1.5))


# -- property: random edit sequences, then undo all ⇒ the original document, byte for byte -----------------

_edit = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 20), st.integers(1, 120)),
    st.tuples(st.just("remove"), st.integers(0, 20), st.integers(1, 3)),
    st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("trim"), st.integers(0, 20), st.integers(-5, 200)),
    st.tuples(st.just("cut"), st.integers(0, 20), st.integers(-10, 400)),
    st.tuples(st.just("split"), st.integers(0, 20), st.integers(-2, 150)),
    st.tuples(st.just("seed"), st.integers(0, 20), st.integers(-1, 2**32)),
    st.tuples(st.just("prompt"), st.integers(0, 20), st.text(max_size=12)),
    st.tuples(st.just("snap"), st.integers(0, 20), st.integers(0, 12)),
)


def _command_for(project: Project, edit: tuple[str, int, object], serial: int) -> Command:
    kind, pick, arg = edit
    ids = [a.id for a in project.acts] or ["none"]
    act_id = ids[pick % len(ids)]
    assert isinstance(arg, int | str)
    match kind:
        case "add":
            assert isinstance(arg, int)
            return AddAct(Act(id=f"new{serial}", duration_frames=arg), index=pick % (len(project.acts) + 1))
        case "remove":
            return RemoveActs(ids[pick % len(ids) : pick % len(ids) + int(arg)])
        case "move":
            return MoveAct(act_id, int(arg))
        case "trim":
            return TrimAct(act_id, int(arg))
        case "cut":
            return MoveCut(pick, int(arg))
        case "split":
            return SplitAct(act_id, int(arg), new_id=f"split{serial}")
        case "seed":
            return SetActField(act_id, "seed", arg)
        case "prompt":
            return SetActField(act_id, "prompt", arg)
        case _:
            return SnapCutsToBeats(tolerance_frames=int(arg), downbeats_only=pick % 2 == 1)


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(_edit, max_size=30), durations=st.lists(st.integers(1, 90), min_size=0, max_size=6))
def test_random_edits_then_undo_all_restores_the_document_byte_for_byte(
    edits: list[tuple[str, int, object]], durations: list[int]
) -> None:
    project = _project(*durations)
    project.beats = BeatGrid(
        tempo=120, beats=tuple(i * 0.5 for i in range(40)), downbeats=tuple(i * 2.0 for i in range(10))
    )
    original = dumps_project(project)
    history = History(project)
    for serial, edit in enumerate(edits):
        before = dumps_project(project)
        try:
            history.execute(_command_for(project, edit, serial))
        except EditError:
            assert dumps_project(project) == before  # a refused edit changes nothing
        project.check_consistency()
        if history.can_undo and serial % 3 == 0:
            _undo_redo_round_trip(history)
    while history.can_undo:
        history.undo()
        project.check_consistency()
    assert dumps_project(project) == original
