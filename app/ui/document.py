"""The open document as the editor sees it: project, history, file path, selection and playhead.

Widgets never change the Project directly: they call `execute(command)` and repaint on `changed`. This is
the only place that turns a refused edit into a message for the status bar.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.errors import InputError
from app.model import Project
from app.model.commands import Changes, Command
from app.model.history import CommandGroup, History
from app.model.project_file import load_project, save_project


class DocumentController(QObject):
    #: Emitted after every edit, undo and redo with the Changes (GUI thread).
    changed = Signal(object)
    #: Emitted when a different project was loaded or created (everything must refresh).
    replaced = Signal()
    selection_changed = Signal()
    playhead_changed = Signal(int)
    #: A one-line message for the user (a refused edit, a save error).
    message = Signal(str)
    #: The file path or the modified flag changed (window title).
    file_state_changed = Signal()

    def __init__(
        self, project: Project | None = None, path: Path | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project or Project()
        self.path = path
        self.history = History(self.project)
        self.history.subscribe(self._on_history_changed)
        self.selected_ids: list[str] = []
        self.playhead = 0
        self.edits_since_autosave = 0

    # -- files ---------------------------------------------------------------------------------------------

    @property
    def project_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def title(self) -> str:
        name = self.path.name if self.path else "Untitled"
        return f"{name}{' *' if self.history.is_modified else ''}"

    def replace(self, project: Project, path: Path | None, modified: bool = False) -> None:
        """Show another project (new, opened, recovered); the undo history starts afresh."""
        self.project = project
        self.path = path.resolve() if path else None
        self.history = History(project)
        self.history.subscribe(self._on_history_changed)
        if modified:
            self.history.mark_unsaved()  # a recovered project differs from its file until saved
        self.selected_ids = []
        self.playhead = 0
        self.edits_since_autosave = 0
        self.replaced.emit()
        self.file_state_changed.emit()

    def open(self, path: Path) -> None:
        """Load `path`; raises ProjectError (nothing changes) when it cannot be read."""
        path = path.resolve()
        self.replace(load_project(path), path)

    def save(self, path: Path | None = None) -> None:
        """Save to `path` (or the current path). Raises InputError when it cannot be written.

        Saving into another folder rewrites the relative media paths so they still find the same files;
        the undo history then starts afresh (its steps hold paths relative to the old folder).
        """
        chosen = path or self.path
        if chosen is None:
            raise InputError("the project has no file name yet; use Save As")
        target = chosen.resolve()
        if target.parent != self.project_dir.resolve():
            from app.engine.templates.library import moved_with_template_assets

            moved = moved_with_template_assets(self.project, self.project_dir, target.parent)
            save_project(moved, target)
            self.replace(moved, target)
            return
        save_project(self.project, target)
        self.path = target
        self.history.mark_saved()
        self.file_state_changed.emit()

    # -- edits ---------------------------------------------------------------------------------------------

    def execute(self, command: Command) -> bool:
        """Run an edit; a refused edit shows its message and returns False (nothing changed)."""
        try:
            self.history.execute(command)
        except InputError as error:
            self.message.emit(str(error))
            return False
        return True

    @contextmanager
    def group(self, label: str) -> Iterator[CommandGroup]:
        with self.history.group(label) as group:
            yield group

    def undo(self) -> None:
        self.history.undo()

    def redo(self) -> None:
        self.history.redo()

    def _on_history_changed(self, changes: Changes) -> None:
        self.edits_since_autosave += 1
        ids = {act.id for act in self.project.acts}
        if any(act_id not in ids for act_id in self.selected_ids):
            self.set_selection([act_id for act_id in self.selected_ids if act_id in ids])
        self.set_playhead(min(self.playhead, max(0, self.project.duration_frames - 1)))
        self.changed.emit(changes)
        self.file_state_changed.emit()

    # -- selection and playhead ----------------------------------------------------------------------------

    def set_selection(self, act_ids: list[str]) -> None:
        if act_ids != self.selected_ids:
            self.selected_ids = list(act_ids)
            self.selection_changed.emit()

    def set_playhead(self, frame: int) -> None:
        frame = max(0, min(frame, max(0, self.project.duration_frames - 1)))
        if frame != self.playhead:
            self.playhead = frame
            self.playhead_changed.emit(frame)
