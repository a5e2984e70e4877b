"""Review edits: a reviewer's rating (1–5 stars) and notes on an act, and what review mode rates.

Review mode rates what plays: an act with a selected take plays that take, so the take gets the rating and
the note (`RateTake`, `SetTakeNote`); an act without one gets them itself (`RateAct`, `SetActNote`).
`rate_command` and `note_command` pick the command, `reviewed_take` and `shown_rating` say what is rated.

An act's notes are free text the author also edits in the inspector, so a review note is *appended* to
them as a line of its own (nothing typed earlier is overwritten); a take's note is one line, set whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from app.model.act import Act, Take
from app.model.commands import Changes, Command, EditError, find_act
from app.model.project import Project
from app.model.take_commands import RateTake, SetTakeNote


def reviewed_take(act: Act) -> Take | None:
    """The take review mode rates and annotates for `act`: its selected take, or None (the act itself)."""
    return next((take for take in act.takes if take.id == act.selected_take), None)


def shown_rating(act: Act) -> int | None:
    """The stars the timeline shows for `act` (1–5 or None): its selected take's rating, else its own."""
    take = reviewed_take(act)
    return take.rating if take is not None else act.rating


def rate_command(act: Act, rating: int | None) -> Command:
    """Rate what plays for `act` (1–5, None clears): its selected take, else the act."""
    take = reviewed_take(act)
    return RateTake(act.id, take.id, rating) if take is not None else RateAct(act.id, rating)


def note_command(act: Act, note: str) -> Command:
    """Note on what plays for `act`: sets its selected take's note, else appends a line to the act's."""
    take = reviewed_take(act)
    return SetTakeNote(act.id, take.id, note) if take is not None else SetActNote(act.id, note)


@dataclass
class RateAct(Command):
    """Give an act 1–5 stars, or None to clear its rating."""

    act_id: str
    rating: int | None
    label: str = "Rate act"
    _old: int | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        old = act.rating
        try:
            act.rating = self.rating  # validate_assignment checks 1..5
        except ValidationError as error:
            raise EditError(f"act '{act.name}' rating: {error.errors()[0]['msg']}") from None
        self._old = old
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        act.rating = self._old
        return Changes(acts=frozenset({act.id}))


@dataclass
class SetActNote(Command):
    """Append `note` (one non-blank line) to the act's notes, on a line of its own."""

    act_id: str
    note: str
    label: str = "Add act note"
    _old: str = field(default="", repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        line = " ".join(self.note.split())  # one line: the notes keep one review remark per line
        if not line:
            raise EditError(f"act '{act.name}' note: the note is empty")
        self._old = act.notes
        kept = act.notes.rstrip("\n")
        act.notes = f"{kept}\n{line}" if kept else line
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        act.notes = self._old
        return Changes(acts=frozenset({act.id}))
