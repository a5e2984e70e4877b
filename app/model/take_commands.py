"""Edit commands on an act's takes: generate, pick, rate, annotate and remove variations of one act.

A take differs from its act only by seed (and the backend it was generated with). Takes never change the
act's own `seed`, so a locked seed (`Act.seed_locked`) does not stop takes from being generated: the lock
keeps the act's seed, which "Use act seed" (`SelectTake(act_id, None)`) returns to. The seed renders use is
`Act.effective_seed()`: the selected take's seed, else the act's own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.model.act import MAX_SEED, Act, Take
from app.model.commands import Changes, Command, EditError, find_act
from app.model.project import Project


def fresh_seeds(act: Act, n: int, rng: random.Random) -> list[int]:
    """`n` distinct seeds in 0..MAX_SEED used neither by the act itself nor by any of its takes."""
    used = {act.seed, *(take.seed for take in act.takes)}
    seeds: list[int] = []
    while len(seeds) < n:
        seed = rng.randint(0, MAX_SEED)
        if seed not in used:
            used.add(seed)
            seeds.append(seed)
    return seeds


def _take_index(act: Act, take_id: str) -> int:
    for index, take in enumerate(act.takes):
        if take.id == take_id:
            return index
    raise EditError(f"act '{act.name}' has no take with id {take_id!r}")


def _take(act: Act, take_id: str) -> Take:
    return act.takes[_take_index(act, take_id)]


def _set_take_field(act: Act, take: Take, name: str, value: Any) -> None:
    """Assign through the Take's validation; a refused value becomes one EditError line."""
    try:
        setattr(take, name, value)
    except ValidationError as error:
        raise EditError(f"act '{act.name}' take {take.seed} {name}: {error.errors()[0]['msg']}") from None


@dataclass
class AddTakes(Command):
    """Append one take per seed, generated with `backend` (the caller picks seeds, see `fresh_seeds`)."""

    act_id: str
    seeds: list[int]
    backend: str
    label: str = "Generate takes"
    # Made on the first apply and reused on redo, so the takes keep their ids (the cells and caches that
    # know them stay valid).
    _added: list[Take] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        if not self.seeds:
            raise EditError(f"act '{act.name}': no seeds given for new takes")
        if not self.backend:
            raise EditError(f"act '{act.name}': takes need a backend name")
        existing = {(take.seed, take.backend) for take in act.takes}
        if len(set(self.seeds)) != len(self.seeds) or any((s, self.backend) in existing for s in self.seeds):
            raise EditError(f"act '{act.name}': a take with one of seeds {self.seeds} already exists")
        if not self._added:
            try:
                self._added = [Take(seed=seed, backend=self.backend) for seed in self.seeds]
            except ValidationError as error:
                raise EditError(f"act '{act.name}' take seed: {error.errors()[0]['msg']}") from None
        act.takes.extend(self._added)
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        added = {take.id for take in self._added}
        act.takes = [take for take in act.takes if take.id not in added]
        return Changes(acts=frozenset({act.id}))


@dataclass
class SelectTake(Command):
    """Render the act with this take's seed from now on; None returns to the act's own seed."""

    act_id: str
    take_id: str | None
    label: str = "Use take"
    _old: str | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        if self.take_id is not None:
            _take(act, self.take_id)
        self._old = act.selected_take
        act.selected_take = self.take_id
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        act.selected_take = self._old
        return Changes(acts=frozenset({act.id}))


@dataclass
class RateTake(Command):
    """Give a take 1–5 stars, or None to clear its rating."""

    act_id: str
    take_id: str
    rating: int | None
    label: str = "Rate take"
    _old: int | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        take = _take(act, self.take_id)
        old = take.rating
        _set_take_field(act, take, "rating", self.rating)
        self._old = old
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        _take(act, self.take_id).rating = self._old
        return Changes(acts=frozenset({act.id}))


@dataclass
class SetTakeNote(Command):
    """Say in words why a take works or does not."""

    act_id: str
    take_id: str
    note: str
    label: str = "Edit take note"
    _old: str = field(default="", repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        take = _take(act, self.take_id)
        old = take.note
        _set_take_field(act, take, "note", self.note)
        self._old = old
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        _take(act, self.take_id).note = self._old
        return Changes(acts=frozenset({act.id}))


@dataclass
class RemoveTake(Command):
    """Delete a take; if it was the selected one the act goes back to its own seed."""

    act_id: str
    take_id: str
    label: str = "Remove take"
    _removed: tuple[int, Take] | None = field(default=None, repr=False)
    _old_selected: str | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        act = find_act(project, self.act_id)
        index = _take_index(act, self.take_id)
        take = act.takes[index]
        self._removed = (index, take)
        self._old_selected = act.selected_take
        # Clear the selection first: an act never points at a take it does not have.
        if act.selected_take == take.id:
            act.selected_take = None
        del act.takes[index]
        return Changes(acts=frozenset({act.id}))

    def revert(self, project: Project) -> Changes:
        assert self._removed is not None
        act = project.act(self.act_id)
        index, take = self._removed
        act.takes.insert(index, take)
        act.selected_take = self._old_selected
        return Changes(acts=frozenset({act.id}))
