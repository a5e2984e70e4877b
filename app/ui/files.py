"""File handling for the editor: new, open, save, save as, recent files, autosave, crash recovery, relink."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QThread, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from app.engine.cancel import CancelToken
from app.errors import Cancelled, InputError
from app.model import MediaRef, Project
from app.model.commands import RelinkMedia
from app.model.project_file import SUFFIX
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController

AUTOSAVE_INTERVAL_MS = 60_000
AUTOSAVE_EVERY_EDITS = 20
MAX_RECENT = 10
_FILTER = f"Storybeat projects (*{SUFFIX})"


class _RelinkThread(QThread):
    found = Signal(object)  # dict[str, MediaRef], or the error message (str)

    def __init__(
        self, project: Project, project_dir: Path, folder: Path, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._project, self._project_dir, self._folder = project, project_dir, folder
        self.cancel = CancelToken()

    def run(self) -> None:
        from app.engine.media import MediaResolver
        from app.engine.relink import find_moved_media

        try:
            resolver = MediaResolver(self._project_dir)
            self.found.emit(find_moved_media(self._project, resolver, self._folder, self.cancel))
        except Cancelled:
            self.found.emit("relink search cancelled")
        except OSError as error:  # an unreadable folder or file: report it, keep the editor running
            self.found.emit(f"cannot search {self._folder}: {error}")


class FileController(QObject):
    """The File menu's behaviour, kept out of the main window so each reads in one sitting."""

    recent_changed = Signal()

    def __init__(
        self, document: DocumentController, settings: QSettings, recovery: RecoveryStore, window: QWidget
    ) -> None:
        super().__init__(window)
        self.document = document
        self.settings = settings
        self.recovery = recovery
        self.window = window
        self._relink_thread: _RelinkThread | None = None
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self.autosave)
        self._autosave_timer.start()
        document.changed.connect(self._on_document_changed)

    # -- recent files ------------------------------------------------------------------------------------

    def recent(self) -> list[Path]:
        value = self.settings.value("files/recent", [])
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        return [Path(item) for item in items if isinstance(item, str)]

    def _remember(self, path: Path) -> None:
        items = [str(path.resolve())] + [str(p) for p in self.recent() if p != path.resolve()]
        self.settings.setValue("files/recent", items[:MAX_RECENT])
        self.recent_changed.emit()

    # -- commands ----------------------------------------------------------------------------------------

    def confirm_discard(self) -> bool:
        """Ask to save unsaved changes; False when the user cancels."""
        if not self.document.history.is_modified:
            return True
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"Save changes to {self.document.title.rstrip(' *')} before closing it?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            self.recovery.discard(self.document.path)  # discarded changes must not come back as "recovered"
            return True
        return False

    def new(self) -> None:
        if self.confirm_discard():
            self.document.replace(Project(), None)

    def open_dialog(self) -> None:
        if not self.confirm_discard():
            return
        name, _ = QFileDialog.getOpenFileName(self.window, "Open project", str(self._last_folder()), _FILTER)
        if name:
            self.open(Path(name))

    def open(self, path: Path) -> bool:
        """Open `path`, reporting a bad file in a dialog (the current project stays open then)."""
        try:
            self.document.open(path)
        except InputError as error:
            QMessageBox.warning(self.window, "Cannot open project", str(error))
            return False
        self._remember(path)
        self.offer_relink()
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        start = str(self.document.path or self._last_folder() / f"Untitled{SUFFIX}")
        name, _ = QFileDialog.getSaveFileName(self.window, "Save project as", start, _FILTER)
        if not name:
            return False
        path = Path(name) if name.endswith(SUFFIX) else Path(name + SUFFIX)
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        old_path = self.document.path
        try:
            self.document.save(path)
        except (InputError, OSError) as error:
            QMessageBox.warning(self.window, "Cannot save project", f"{path}: {error}")
            return False
        self.recovery.discard(old_path)
        self.recovery.discard(path)
        self.document.edits_since_autosave = 0
        self._remember(path)
        return True

    def _last_folder(self) -> Path:
        recent = self.recent()
        return recent[0].parent if recent else Path.home()

    # -- autosave and recovery ---------------------------------------------------------------------------

    def _on_document_changed(self, _changes: object) -> None:
        if self.document.edits_since_autosave >= AUTOSAVE_EVERY_EDITS:
            self.autosave()

    def autosave(self) -> None:
        """Write the recovery copy if anything changed since the last one (never the project file)."""
        if self.document.edits_since_autosave == 0 or not self.document.history.is_modified:
            return
        try:
            self.recovery.write(self.document.project, self.document.path)
        except (InputError, OSError) as error:
            self.document.message.emit(f"Autosave failed: {error}")
            return
        self.document.edits_since_autosave = 0

    def close_cleanly(self) -> None:
        """The user closed the editor on purpose: the recovery copy is no longer needed."""
        self._autosave_timer.stop()
        self.recovery.discard(self.document.path)
        if self._relink_thread is not None:
            self._relink_thread.cancel.cancel()
            self._relink_thread.wait()

    def offer_recovery(self) -> None:
        """After a crash: offer the newest recovery copy; keep or drop it as the user says."""
        for recovery in self.recovery.pending():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovery.saved_at_ns / 1e9))
            name = recovery.project_path.name if recovery.project_path else "an unsaved project"
            answer = QMessageBox.question(
                self.window,
                "Recover unsaved work?",
                f"Storybeat did not close cleanly. Recover the changes to {name} autosaved at {when}?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.recovery.discard(recovery.project_path)
                continue
            try:
                project = recovery.load()
            except InputError as error:
                QMessageBox.warning(self.window, "Cannot recover", str(error))
                continue
            self.document.replace(project, recovery.project_path, modified=True)
            return

    # -- relink ------------------------------------------------------------------------------------------

    def offer_relink(self) -> None:
        from app.engine.media import MediaResolver

        missing = MediaResolver(self.document.project_dir).missing(self.document.project)
        if not missing:
            return
        listed = "\n".join(f"• {m.path.name} ({m.where})" for m in missing[:8])
        more = f"\n… and {len(missing) - 8} more" if len(missing) > 8 else ""
        answer = QMessageBox.question(
            self.window,
            "Missing media",
            f"{len(missing)} media file(s) were not found:\n{listed}{more}\n\nSearch a folder for them?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Search for moved media in", str(Path.home()))
        if folder:
            self.relink_from(Path(folder))

    def relink_from(self, folder: Path) -> None:
        """Hash media under `folder` on a thread; relink what matches as one undoable edit."""
        snapshot = self.document.project.model_copy(deep=True)
        progress = QProgressDialog("Searching for moved media…", "Cancel", 0, 0, self.window)
        thread = _RelinkThread(snapshot, self.document.project_dir, folder, self)
        progress.canceled.connect(thread.cancel.cancel)
        progress.show()

        def on_found(moves: dict[str, MediaRef] | str) -> None:
            thread.wait()
            progress.close()
            self._relink_thread = None
            if isinstance(moves, str):
                self.document.message.emit(moves)
                return
            if moves:
                self.document.execute(RelinkMedia(moves))
            self.document.message.emit(f"Relinked {len(moves)} file(s) from {folder}")

        thread.found.connect(on_found)
        self._relink_thread = thread
        thread.start()
