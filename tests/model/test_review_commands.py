"""Review commands: rating and annotating acts, and what review mode rates; undo restores exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model import Act, Project, RateTake, SetTakeNote, Take
from app.model.commands import Command, EditError
from app.model.history import History
from app.model.project_file import dumps_project, parse_project
from app.model.review_commands import (
    RateAct,
    SetActNote,
    note_command,
    rate_command,
    reviewed_take,
    shown_rating,
)


def _history() -> History:
    takes = [Take(id="t1", seed=5, backend="motion", rating=2), Take(id="t2", seed=6, backend="motion")]
    acts = [
        Act(id="a", name="Dawn", duration_frames=24, notes="warm light"),
        Act(id="b", name="Noon", duration_frames=24, takes=takes, selected_take="t1", rating=4),
    ]
    return History(Project(acts=acts))


def _round_trip(history: History, command: Command) -> None:
    """Run `command` as one history step; undo gives the document byte for byte, redo the edited one."""
    before = dumps_project(history.project)
    history.execute(command)
    after = dumps_project(history.project)
    assert after != before
    history.undo()
    assert dumps_project(history.project) == before
    history.redo()
    assert dumps_project(history.project) == after


def test_rate_act_sets_and_clears_the_rating_as_one_undo_step() -> None:
    history = _history()
    _round_trip(history, RateAct("a", 3))
    assert history.project.act("a").rating == 3
    _round_trip(history, RateAct("a", None))
    assert history.project.act("a").rating is None
    history.undo()
    assert history.project.act("a").rating == 3


def test_ratings_survive_saving_and_loading() -> None:
    history = _history()
    history.execute(RateAct("a", 5))
    assert parse_project(dumps_project(history.project), Path("film.storybeat")).act("a").rating == 5


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_rate_act_refuses_ratings_outside_one_to_five(rating: int) -> None:
    history = _history()
    before = dumps_project(history.project)
    with pytest.raises(EditError, match=r"act 'Dawn' rating"):
        history.execute(RateAct("a", rating))
    assert dumps_project(history.project) == before
    assert not history.can_undo


def test_unknown_acts_are_refused() -> None:
    history = _history()
    with pytest.raises(EditError, match="no act with id 'zz'"):
        history.execute(RateAct("zz", 3))
    with pytest.raises(EditError, match="no act with id 'zz'"):
        history.execute(SetActNote("zz", "too dark"))


def test_act_notes_append_one_line_per_note_and_undo_restores() -> None:
    history = _history()
    _round_trip(history, SetActNote("a", "  too dark\n at the end "))
    assert history.project.act("a").notes == "warm light\ntoo dark at the end"
    history.execute(SetActNote("b", "hold longer"))
    assert history.project.act("b").notes == "hold longer"  # no leading blank line on empty notes
    history.undo()
    assert history.project.act("b").notes == ""


def test_a_blank_note_is_refused() -> None:
    history = _history()
    with pytest.raises(EditError, match=r"act 'Dawn' note: the note is empty"):
        history.execute(SetActNote("a", " \n "))
    assert history.project.act("a").notes == "warm light"


def test_review_rates_the_selected_take_else_the_act() -> None:
    history = _history()
    with_take, without = history.project.act("b"), history.project.act("a")
    assert reviewed_take(without) is None
    taken = reviewed_take(with_take)
    assert taken is not None and taken.id == "t1"
    assert shown_rating(with_take) == 2  # the take's, not the act's own 4
    assert shown_rating(without) is None

    command = rate_command(with_take, 5)
    assert isinstance(command, RateTake) and (command.take_id, command.rating) == ("t1", 5)
    history.execute(command)
    assert shown_rating(history.project.act("b")) == 5
    assert history.project.act("b").rating == 4
    assert isinstance(rate_command(without, 1), RateAct)

    note = note_command(with_take, "best take")
    assert isinstance(note, SetTakeNote) and note.take_id == "t1"
    assert isinstance(note_command(without, "too dark"), SetActNote)


def test_without_a_selected_take_the_act_rating_shows() -> None:
    history = _history()
    act = history.project.act("b")
    act.selected_take = None
    assert reviewed_take(act) is None
    assert shown_rating(act) == 4
