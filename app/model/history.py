"""Undo/redo history of commands, with grouped edits.

Grouping uses a context manager, never a global flag: if any command inside a group fails, the commands of
the group that already ran are reverted in reverse order and nothing is recorded ("if it fails, nothing is
modified").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.model.commands import Changes, Command
from app.model.project import Project

ChangeListener = Callable[[Changes], None]


@dataclass
class CommandGroup(Command):
    """Several commands applied and reverted as one history entry."""

    label: str
    commands: list[Command] = field(default_factory=list)
    #: What the commands changed when they first ran inside `History.group` (reported when it closes).
    changes: Changes = field(default_factory=Changes)

    def apply(self, project: Project) -> Changes:
        changes = Changes()
        done: list[Command] = []
        try:
            for command in self.commands:
                changes |= command.apply(project)
                done.append(command)
        except BaseException:
            for command in reversed(done):
                command.revert(project)
            raise
        return changes

    def revert(self, project: Project) -> Changes:
        changes = Changes()
        for command in reversed(self.commands):
            changes |= command.revert(project)
        return changes


class History:
    """The undo and redo stacks of one project.

    `revision` increases on every change (do, undo, redo); background jobs are tagged with it so results
    computed for an older document can be recognised and dropped.
    """

    def __init__(self, project: Project, limit: int = 1000) -> None:
        self.project = project
        self._limit = limit
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._open_groups: list[CommandGroup] = []
        self._listeners: list[ChangeListener] = []
        self._saved_at: Command | object | None = None  # the undo-stack top when last saved
        self.revision = 0

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener(changes)` after every do, undo and redo (also for a whole group when it closes)."""
        self._listeners.append(listener)

    def execute(self, command: Command) -> Changes:
        """Apply `command` and record it. Raises (and records nothing) if the command refuses."""
        changes = command.apply(self.project)
        if self._open_groups:
            self._open_groups[-1].commands.append(command)
            self._open_groups[-1].changes |= changes
            return changes
        self._record(command)
        self._notify(changes)
        return changes

    @contextmanager
    def group(self, label: str) -> Iterator[CommandGroup]:
        """Record every command executed inside the block as one entry; roll all of them back on error."""
        group = CommandGroup(label)
        self._open_groups.append(group)
        try:
            yield group
        except BaseException:
            self._open_groups.pop()
            group.revert(self.project)
            raise
        self._open_groups.pop()
        if not group.commands:
            return
        if self._open_groups:
            self._open_groups[-1].commands.append(group)
            self._open_groups[-1].changes |= group.changes
            return
        self._record(group)
        self._notify(group.changes)

    def undo(self) -> Changes:
        if not self._undo:
            return Changes()
        command = self._undo.pop()
        changes = command.revert(self.project)
        self._redo.append(command)
        self.revision += 1
        self._notify(changes)
        return changes

    def redo(self) -> Changes:
        if not self._redo:
            return Changes()
        command = self._redo.pop()
        changes = command.apply(self.project)
        self._undo.append(command)
        self.revision += 1
        self._notify(changes)
        return changes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def is_applied(self, command: Command) -> bool:
        """Whether `command` (the object executed) is in effect: done or redone, and not undone."""
        return any(entry is command for entry in self._undo)

    def is_latest(self, command: Command) -> bool:
        """Whether `command` is the step the next undo reverts."""
        return bool(self._undo) and self._undo[-1] is command

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def mark_saved(self) -> None:
        self._saved_at = self._undo[-1] if self._undo else None

    def mark_unsaved(self) -> None:
        """Treat the document as differing from its file (e.g. recovered after a crash) until saved."""
        self._saved_at = _NEVER_SAVED

    @property
    def is_modified(self) -> bool:
        return (self._undo[-1] if self._undo else None) is not self._saved_at

    def _record(self, command: Command) -> None:
        self._undo.append(command)
        del self._undo[: -self._limit]
        self._redo.clear()
        self.revision += 1

    def _notify(self, changes: Changes) -> None:
        for listener in self._listeners:
            listener(changes)


#: A save point that no undo-stack state equals.
_NEVER_SAVED = object()
