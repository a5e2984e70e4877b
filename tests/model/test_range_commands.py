"""In and out points and the remembered export settings: marking, undo and redo, what an export covers."""

from __future__ import annotations

import pytest

from app.model import Act, ExportOptions, ExportRange, FrameRange, Project
from app.model.commands import Changes, EditError
from app.model.history import History
from app.model.project_file import dumps_project
from app.model.range_commands import (
    SetExportOptions,
    SetInOut,
    clear_in_out,
    export_frames,
    in_marked,
    mark_in,
    mark_out,
    out_marked,
)


def _project(*durations: int) -> Project:
    return Project(
        acts=[Act(id=f"a{i}", name=f"Act {i}", duration_frames=d) for i, d in enumerate(durations)]
    )


def _range(start: int, end: int) -> FrameRange:
    return FrameRange(start=start, end=end)


def test_marking_in_without_a_range_runs_to_the_films_end() -> None:
    assert in_marked(None, 10, 48) == _range(10, 48)


def test_marking_in_keeps_an_out_point_that_is_still_after_it() -> None:
    assert in_marked(_range(0, 30), 10, 48) == _range(10, 30)
    assert in_marked(_range(20, 30), 29, 48) == _range(29, 30)


def test_marking_in_at_or_past_the_out_point_moves_the_out_point_to_the_end() -> None:
    assert in_marked(_range(0, 30), 30, 48) == _range(30, 48)
    assert in_marked(_range(0, 30), 40, 48) == _range(40, 48)


def test_marking_in_clips_an_out_point_past_a_shortened_film() -> None:
    assert in_marked(_range(0, 90), 10, 48) == _range(10, 48)


def test_marking_out_without_a_range_starts_at_the_films_start() -> None:
    assert out_marked(None, 23, 48) == _range(0, 24)


def test_marking_out_keeps_an_in_point_at_or_before_it() -> None:
    assert out_marked(_range(10, 48), 30, 48) == _range(10, 31)
    assert out_marked(_range(10, 48), 10, 48) == _range(10, 11)


def test_marking_out_before_the_in_point_moves_the_in_point_to_the_start() -> None:
    assert out_marked(_range(10, 48), 5, 48) == _range(0, 6)


@pytest.mark.parametrize(("frame", "duration"), [(-1, 48), (48, 48), (0, 0)])
def test_marking_outside_the_film_is_refused(frame: int, duration: int) -> None:
    with pytest.raises(EditError, match="film"):
        in_marked(None, frame, duration)
    with pytest.raises(EditError, match="film"):
        out_marked(None, frame, duration)


def test_mark_in_mark_out_and_clear_are_undoable_settings_edits() -> None:
    project = _project(24, 24)
    history = History(project)
    original = dumps_project(project)

    changes = history.execute(mark_in(project, 6))
    assert changes == Changes(settings=True)
    assert project.in_out == _range(6, 48)
    assert history.undo_label == "Mark in"
    history.execute(mark_out(project, 29))
    assert project.in_out == _range(6, 30)
    assert history.undo_label == "Mark out"
    history.execute(clear_in_out())
    assert project.in_out is None
    assert history.undo_label == "Clear in and out"
    project.check_consistency()

    history.undo()
    assert project.in_out == _range(6, 30)
    history.undo()
    history.undo()
    assert dumps_project(project) == original
    history.redo()
    history.redo()
    assert project.in_out == _range(6, 30)


def test_settings_edits_ask_for_no_new_pictures() -> None:
    changes = SetInOut(_range(0, 10)).apply(_project(24))
    assert not changes.acts and not changes.timing and not changes.audio and not changes.beats


def test_a_range_past_the_films_end_is_refused_and_nothing_changes() -> None:
    project = _project(24)
    with pytest.raises(EditError, match=r"outside the film \(0\.\.23\)"):
        History(project).execute(SetInOut(_range(10, 30)))
    assert project.in_out is None


def test_export_settings_are_remembered_and_undone_in_one_step() -> None:
    project = _project(24)
    history = History(project)
    chosen = ExportOptions(format="h265", height=720, crf=24, range=ExportRange.in_out, output="cut.mp4")
    changes = history.execute(SetExportOptions(chosen))
    assert changes == Changes(settings=True)
    assert project.export == chosen
    assert history.undo_label == "Change export settings"
    history.undo()
    assert project.export == ExportOptions()
    history.redo()
    assert project.export == chosen


def test_what_an_export_covers() -> None:
    project = _project(24, 24)
    assert export_frames(project, ExportOptions()) is None
    in_out = ExportOptions(range=ExportRange.in_out)
    with pytest.raises(EditError, match="no in and out points"):
        export_frames(project, in_out)
    project.in_out = _range(12, 36)
    assert export_frames(project, in_out) == _range(12, 36)
    project.in_out = _range(40, 90)  # the film was shortened after marking
    assert export_frames(project, in_out) == _range(40, 48)
    project.in_out = _range(60, 90)
    with pytest.raises(EditError, match="no in and out points"):
        export_frames(project, in_out)
