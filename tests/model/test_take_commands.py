"""Take commands: generating, picking, rating, annotating and removing takes; undo restores exactly."""

from __future__ import annotations

import random

import pytest

from app.model import Act, AddTakes, Project, RateTake, RemoveTake, SelectTake, SetTakeNote, Take, fresh_seeds
from app.model.act import MAX_SEED
from app.model.commands import Command, EditError
from app.model.history import History
from app.model.project_file import dumps_project


def _history() -> History:
    act = Act(id="a", name="Harbour", duration_frames=24, seed=11, seed_locked=True)
    return History(Project(acts=[act, Act(id="b", name="Other", duration_frames=12)]))


def _round_trip(history: History, command: Command) -> None:
    """Run `command`, then undo (the document is byte-identical to before) and redo (identical to after)."""
    before = dumps_project(history.project)
    history.execute(command)
    history.project.check_consistency()
    after = dumps_project(history.project)
    assert after != before
    history.undo()
    history.project.check_consistency()
    assert dumps_project(history.project) == before
    history.redo()
    history.project.check_consistency()
    assert dumps_project(history.project) == after


def test_fresh_seeds_are_distinct_and_avoid_the_acts_seeds() -> None:
    act = Act(duration_frames=10, seed=3, takes=[Take(seed=4, backend="motion")])
    seeds = fresh_seeds(act, 8, random.Random(0))
    assert len(set(seeds)) == 8 and not {3, 4} & set(seeds)
    assert all(0 <= seed <= MAX_SEED for seed in seeds)
    assert fresh_seeds(act, 8, random.Random(0)) == seeds  # the caller's rng decides


def test_fresh_seeds_skip_used_seeds_the_rng_would_give(monkeypatch: pytest.MonkeyPatch) -> None:
    rolls = iter([5, 3, 5, 4, 9])
    rng = random.Random()
    monkeypatch.setattr(rng, "randint", lambda low, high: next(rolls))
    act = Act(duration_frames=10, seed=3, takes=[Take(seed=4, backend="motion")])
    assert fresh_seeds(act, 2, rng) == [5, 9]


def test_add_takes_round_trip_keeps_take_ids_and_the_locked_act_seed() -> None:
    history = _history()
    act = history.project.act("a")
    command = AddTakes("a", [100, 200, 300], "motion")
    _round_trip(history, command)
    assert [take.seed for take in act.takes] == [100, 200, 300]
    assert {take.backend for take in act.takes} == {"motion"}
    ids = [take.id for take in act.takes]
    history.undo()
    history.redo()
    assert [take.id for take in act.takes] == ids  # redo brings back the same takes
    assert act.seed == 11 and act.seed_locked and act.effective_seed() == 11
    assert history.project.act("b").takes == []


def test_effective_seed_follows_select_take() -> None:
    history = _history()
    history.execute(AddTakes("a", [100, 200], "motion"))
    act = history.project.act("a")
    second = act.takes[1].id
    changes = history.execute(SelectTake("a", second))
    assert changes.acts == {"a"}  # the act renders with another seed
    assert act.effective_seed() == 200
    _round_trip(history, SelectTake("a", act.takes[0].id))
    assert act.effective_seed() == 100
    _round_trip(history, SelectTake("a", None))  # "use act seed"
    assert act.effective_seed() == 11
    history.undo()
    assert act.selected_take == act.takes[0].id


def test_rate_and_note_round_trip() -> None:
    history = _history()
    history.execute(AddTakes("a", [100], "motion"))
    take = history.project.act("a").takes[0]
    _round_trip(history, RateTake("a", take.id, 4))
    assert take.rating == 4
    _round_trip(history, RateTake("a", take.id, None))
    assert take.rating is None
    _round_trip(history, SetTakeNote("a", take.id, "best light on the water"))
    assert take.note == "best light on the water"


def test_removing_the_selected_take_returns_to_the_act_seed_and_undo_restores_it() -> None:
    history = _history()
    history.execute(AddTakes("a", [100, 200, 300], "motion"))
    act = history.project.act("a")
    middle = act.takes[1]
    history.execute(RateTake("a", middle.id, 5))
    history.execute(SelectTake("a", middle.id))
    _round_trip(history, RemoveTake("a", middle.id))
    assert [take.seed for take in act.takes] == [100, 300]
    assert act.selected_take is None and act.effective_seed() == 11
    history.undo()
    assert [take.seed for take in act.takes] == [100, 200, 300]  # back in its place
    assert act.selected_take == middle.id and act.takes[1].rating == 5

    other = act.takes[0].id
    history.execute(RemoveTake("a", other))  # removing another take keeps the selection
    assert act.selected_take == middle.id


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (AddTakes("nope", [1], "motion"), "no act with id 'nope'"),
        (AddTakes("a", [], "motion"), "no seeds"),
        (AddTakes("a", [1, 1], "motion"), "already exists"),
        (AddTakes("a", [100], "motion"), "already exists"),
        (AddTakes("a", [MAX_SEED + 1], "motion"), "take seed"),
        (AddTakes("a", [5], ""), "backend"),
        (SelectTake("a", "ghost"), "act 'Harbour' has no take with id 'ghost'"),
        (SelectTake("nope", None), "no act with id 'nope'"),
        (RateTake("a", "ghost", 3), "no take with id 'ghost'"),
        (RateTake("a", "first", 6), "rating"),
        (RateTake("a", "first", 0), "rating"),
        (SetTakeNote("b", "first", "x"), "act 'Other' has no take with id 'first'"),
        (RemoveTake("a", "ghost"), "no take with id 'ghost'"),
    ],
)
def test_refused_edits_name_the_problem_and_change_nothing(command: Command, words: str) -> None:
    history = _history()
    history.project.act("a").takes = [Take(id="first", seed=100, backend="motion", rating=2)]
    before = dumps_project(history.project)
    with pytest.raises(EditError, match=words):
        history.execute(command)
    assert dumps_project(history.project) == before
    assert not history.can_undo


def test_the_same_seed_with_another_backend_is_a_new_take() -> None:
    history = _history()
    history.execute(AddTakes("a", [100], "motion"))
    history.execute(AddTakes("a", [100], "svd"))
    assert [(t.seed, t.backend) for t in history.project.act("a").takes] == [(100, "motion"), (100, "svd")]
