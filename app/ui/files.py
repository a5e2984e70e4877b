"""File handling for the editor: new, open, save, save as, recent files, autosave, crash recovery, relink.

The unsaved-changes prompt says what the user is doing: "Save changes to film.storybeat before opening
other.storybeat?", "… before creating a new project?", "… before quitting?" (`confirm_discard`). The file
dialogs are opened at a size that shows their columns whole (`file_dialog`; `open_file_name` and its
siblings take and return what QFileDialog's static functions do): Qt's own dialog otherwise opens at about
630 x 410 px, where the name column is cut and the date column is off the edge.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QSize, QThread, QTimer, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressDialog, QTreeView, QWidget

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
#: What the user is doing, as the unsaved-changes prompt finishes "Save changes to X before …?".
CREATING = "creating a new project"
QUITTING = "quitting"
#: The smallest file dialog: room for the sidebar, a long file name, its size, type and date.
FILE_DIALOG_MIN = QSize(900, 560)
#: A file dialog takes this share of its window (at least FILE_DIALOG_MIN, at most the screen).
FILE_DIALOG_SHARE = 0.75
#: The name column takes this share of the file list's width (the size, type and date share the rest).
NAME_COLUMN_SHARE = 0.5


def file_dialog(
    parent: QWidget | None,
    caption: str,
    folder: str,
    name_filter: str,
    mode: QFileDialog.FileMode = QFileDialog.FileMode.ExistingFile,
    accept: QFileDialog.AcceptMode = QFileDialog.AcceptMode.AcceptOpen,
) -> QFileDialog:
    """A file dialog sized to show its columns whole (module doc), in the detail view."""
    dialog = QFileDialog(parent, caption, folder, name_filter)
    dialog.setFileMode(mode)
    dialog.setAcceptMode(accept)
    dialog.setViewMode(QFileDialog.ViewMode.Detail)
    dialog.resize(file_dialog_size(parent))
    files = dialog.findChild(QTreeView, "treeView")  # Qt's own dialog; a native one sizes itself
    if files is not None:
        files.header().resizeSection(0, round(dialog.width() * NAME_COLUMN_SHARE))
    return dialog


def file_dialog_size(parent: QWidget | None) -> QSize:
    """FILE_DIALOG_SHARE of the parent window, at least FILE_DIALOG_MIN, never larger than the screen."""
    window = parent.window() if parent is not None else None
    wanted = (
        QSize(round(window.width() * FILE_DIALOG_SHARE), round(window.height() * FILE_DIALOG_SHARE))
        if window is not None
        else FILE_DIALOG_MIN
    )
    size = wanted.expandedTo(FILE_DIALOG_MIN)
    screen = (window.screen() if window is not None else None) or QApplication.primaryScreen()
    if screen is not None:
        size = size.boundedTo(screen.availableGeometry().size())
    return size


def open_file_name(parent: QWidget | None, caption: str, folder: str, name_filter: str) -> tuple[str, str]:
    """QFileDialog.getOpenFileName from a `file_dialog`: (the file chosen or "", the filter chosen)."""
    dialog = file_dialog(parent, caption, folder, name_filter)
    return _chosen(dialog)


def open_file_names(
    parent: QWidget | None, caption: str, folder: str, name_filter: str
) -> tuple[list[str], str]:
    """QFileDialog.getOpenFileNames from a `file_dialog`: (the files chosen, the filter chosen)."""
    dialog = file_dialog(parent, caption, folder, name_filter, QFileDialog.FileMode.ExistingFiles)
    if not dialog.exec():
        return [], ""
    return list(dialog.selectedFiles()), dialog.selectedNameFilter()


def save_file_name(parent: QWidget | None, caption: str, start: str, name_filter: str) -> tuple[str, str]:
    """QFileDialog.getSaveFileName from a `file_dialog` starting at `start` (a folder or a file): (where
    to save or "", the filter chosen)."""
    dialog = file_dialog(
        parent, caption, start, name_filter, QFileDialog.FileMode.AnyFile, QFileDialog.AcceptMode.AcceptSave
    )
    if Path(start).suffix:
        dialog.selectFile(start)
    return _chosen(dialog)


def _chosen(dialog: QFileDialog) -> tuple[str, str]:
    if not dialog.exec() or not dialog.selectedFiles():
        return "", ""
    return dialog.selectedFiles()[0], dialog.selectedNameFilter()


def existing_directory(parent: QWidget | None, caption: str, folder: str) -> str:
    """QFileDialog.getExistingDirectory from a `file_dialog`: the folder chosen, or ""."""
    dialog = file_dialog(parent, caption, folder, "", QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    return _chosen(dialog)[0]


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

    def confirm_discard(self, doing: str | None = None) -> bool:
        """Ask to save unsaved changes before `doing` (words that finish "Save changes to X before …?":
        "opening other.storybeat", CREATING, QUITTING); False when the user cancels."""
        if not self.document.history.is_modified:
            return True
        name = self.document.title.rstrip(" *")
        question = f"Save changes to {name} before {doing}?" if doing else f"Save changes to {name} first?"
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            question,
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
        if self.confirm_discard(CREATING):
            self.document.replace(Project(), None)

    def open_dialog(self) -> None:
        """Choose a project, then (with unsaved changes) say which one before asking to save."""
        name, _ = open_file_name(self.window, "Open project", str(self._last_folder()), _FILTER)
        if name:
            self.open_asking(Path(name))

    def open_asking(self, path: Path) -> bool:
        """Open `path` after offering to save unsaved changes ("… before opening <name>?"); False when the
        user cancels or the file cannot be opened."""
        return self.confirm_discard(f"opening {path.name}") and self.open(path)

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
        name, _ = save_file_name(self.window, "Save project as", start, _FILTER)
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
        folder = existing_directory(self.window, "Search for moved media in", str(Path.home()))
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
