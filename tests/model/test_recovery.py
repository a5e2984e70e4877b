"""Autosave copies are separate from the project file and are offered back only after an unclean exit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.model import Act, Project
from app.model.project_file import load_project, save_project
from app.model.recovery import RecoveryStore


def _project(prompt: str) -> Project:
    return Project(acts=[Act(id="a", duration_frames=10, prompt=prompt)])


def test_autosave_never_touches_the_project_file(tmp_path: Path) -> None:
    project_path = tmp_path / "film.storybeat"
    save_project(_project("saved"), project_path)
    before = project_path.read_bytes()
    store = RecoveryStore(tmp_path / "recovery")
    store.write(_project("unsaved edit"), project_path)
    assert project_path.read_bytes() == before
    (pending,) = store.pending()
    assert pending.project_path == project_path
    assert pending.load().acts[0].prompt == "unsaved edit"


def test_discard_after_a_clean_close_leaves_nothing_to_recover(tmp_path: Path) -> None:
    store = RecoveryStore(tmp_path / "recovery")
    store.write(_project("x"), None)
    assert [r.project_path for r in store.pending()] == [None]
    store.discard(None)
    assert store.pending() == []


def test_a_copy_older_than_its_saved_project_is_stale(tmp_path: Path) -> None:
    project_path = tmp_path / "film.storybeat"
    store = RecoveryStore(tmp_path / "recovery")
    copy = store.write(_project("old"), project_path)
    save_project(_project("newer"), project_path)
    stamp = copy.stat().st_mtime_ns
    os.utime(project_path, ns=(stamp + 10**9, stamp + 10**9))
    assert store.pending() == []
    assert load_project(project_path).acts[0].prompt == "newer"


def test_a_project_opened_by_a_relative_path_is_recovered_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    store = RecoveryStore(tmp_path / "recovery")
    store.write(_project("unsaved"), Path("film.storybeat"))
    monkeypatch.chdir(tmp_path / "other")
    (pending,) = store.pending()
    assert pending.project_path == tmp_path / "work" / "film.storybeat"
    store.discard(pending.project_path)
    assert store.pending() == []


def test_untitled_copies_of_two_sessions_are_kept_apart(tmp_path: Path) -> None:
    first, second = RecoveryStore(tmp_path, session="one"), RecoveryStore(tmp_path, session="two")
    first.write(_project("first"), None)
    second.write(_project("second"), None)
    first.discard(None)
    assert [r.load().acts[0].prompt for r in second.pending()] == ["second"]
