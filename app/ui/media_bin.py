"""The Media dock: the project's pictures and sounds as a bin of thumbnails, as in Kdenlive or Resolve.

It lists `bin_items(project)`: what was imported (File ▸ Import Media…, or files dropped on the bin) plus
every picture an act shows and every sound a clip plays, each once, marked "in use", "missing" or
unusable; files of the same name show their folder. Imported files are added at the end, selected and
scrolled into view. Pictures are dragged from here onto the acts track (the drag carries file URLs, so the
timeline's own image drop inserts them) and sounds onto an audio track; Add to Timeline does the same
without a drag. Delete removes the selected entries from the bin while the bin has the keyboard focus (it
never reaches the window's ripple delete of acts).

Thumbnails and sound lengths are read on a small thread pool, never on the GUI thread: a picture is checked
(app.engine.image_check) and decoded straight to thumbnail size by QImageReader, a sound's container is
opened for its declared length (app.engine.audio.check). Results are kept per file version (path, size,
modification time) and arrive through a queued signal.
"""

from __future__ import annotations

import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QMargins,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QIcon,
    QImage,
    QImageReader,
    QKeyEvent,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.audio.check import check_audio
from app.engine.image_check import check_image
from app.errors import MediaError
from app.model.bin_commands import BinItem, MediaKind, RemoveFromBin, bin_items, distinct_names
from app.ui.document import DocumentController
from app.ui.media_import import (
    IMAGES_FILTER,
    add_acts_from_files,
    add_to_timeline,
    choose_files,
    import_files,
)

THUMBNAIL_SIZE = QSize(96, 64)
#: A cell of the bin is this many characters wide (a longer name is shortened in the middle, keeping its
#: suffix) and holds three lines of text under the thumbnail: the name, its folder when that is needed to
#: tell it from another file of the same name, and its state.
CELL_CHARACTERS = 20
CELL_TEXT_LINES = 3
_CELL_PADDING = 8
_CELL_SPACING = 4
#: Threads reading thumbnails and sound lengths (small: the files are read whole from disk).
PREVIEW_THREADS = 2
_MISSING_COLOUR = QColor("#e06c60")

_NO_PARENT = QModelIndex()
#: A file version: (absolute path, size in bytes, modification time in ns); None for a missing file.
FileKey = tuple[str, int, int]


@dataclass(frozen=True)
class Preview:
    """What the preview threads found out about one file version."""

    image: QImage | None = None  # a picture's thumbnail
    seconds: float | None = None  # a sound's declared length
    problem: str = ""  # why the file cannot be used ("" when it can)


class _PreviewSignals(QObject):
    ready = Signal(object, object)  # FileKey, Preview


class _PreviewJob(QRunnable):
    """Reads one file's preview on a pool thread and reports it through `signals` (queued to the GUI)."""

    def __init__(self, key: FileKey, kind: MediaKind, signals: _PreviewSignals) -> None:
        super().__init__()
        self._key, self._kind, self._signals = key, kind, signals

    def run(self) -> None:
        path = Path(self._key[0])
        try:
            preview = _read_preview(path, self._kind)
        except MediaError as error:
            preview = Preview(problem=str(error).removeprefix(f"{path}: "))
        except Exception as error:  # the bin must always hear back, or the cell would wait forever
            preview = Preview(problem=f"cannot read it ({error})")
        self._signals.ready.emit(self._key, preview)


def _read_preview(path: Path, kind: MediaKind) -> Preview:
    if kind is MediaKind.audio:
        return Preview(seconds=check_audio(path))
    check_image(path)  # a file replaced by something else since it was imported says what it is now
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid():  # decode straight to the small size (a JPEG scales while decoding)
        reader.setScaledSize(size.scaled(THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return Preview(problem=f"cannot decode it ({reader.errorString()})")
    return Preview(image=image)


def _file_key(path: Path) -> FileKey | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (str(path), found.st_size, found.st_mtime_ns) if stat.S_ISREG(found.st_mode) else None


def _symbol_icon(symbol: str, background: str) -> QIcon:
    """A thumbnail-sized tile with a large symbol: a sound's note, a missing file's question mark."""
    pixmap = QPixmap(THUMBNAIL_SIZE)
    pixmap.fill(QColor(background))
    painter = QPainter(pixmap)
    try:
        font = QFont()
        font.setPixelSize(THUMBNAIL_SIZE.height() * 2 // 3)
        painter.setFont(font)
        painter.setPen(QColor("#f0f0f0"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, symbol)
    finally:
        painter.end()
    return QIcon(pixmap)


def format_seconds(seconds: float) -> str:
    """A sound's length as m:ss (h:mm:ss past an hour)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class MediaBinModel(QAbstractListModel):
    """The bin's items for a list view: name and state as text, a thumbnail, the full path as tooltip;
    dragged items carry their files as URLs."""

    #: Rows whose file version has no preview yet: (file key, kind) — the panel starts reading them.
    previews_wanted = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.items: list[BinItem] = []
        self.names: list[str] = []  # what each item is called in its cell (see distinct_names)
        self._paths: list[Path] = []
        self._keys: list[FileKey | None] = []
        self._previews: dict[FileKey, Preview] = {}
        self._icons: dict[FileKey, QIcon] = {}
        self._pending: set[FileKey] = set()
        self._sound_icon = _symbol_icon("♪", "#3b4a66")
        self._waiting_icon = _symbol_icon("", "#444444")
        self._missing_icon = _symbol_icon("?", "#6b2f2a")

    def set_items(self, items: list[BinItem], project_dir: Path) -> None:
        """Show `items` (files are looked at on disk: present or missing, which version)."""
        self.beginResetModel()
        self.items = items
        self._paths = [item.ref.resolve(project_dir).resolve() for item in items]  # no "x/../" shown
        self.names = distinct_names(self._paths)
        self._keys = [_file_key(path) for path in self._paths]
        self.endResetModel()
        wanted = []
        for item, key in zip(items, self._keys, strict=True):
            if key is not None and key not in self._previews and key not in self._pending:
                self._pending.add(key)
                wanted.append((key, item.kind))
        if wanted:
            self.previews_wanted.emit(wanted)

    def clear_previews(self) -> None:
        """Forget every preview read so far (another project was opened); the next listing reads again."""
        self._previews.clear()
        self._icons.clear()

    def add_preview(self, key: FileKey, preview: Preview) -> None:
        """A preview read on a pool thread (GUI thread: the thumbnail becomes a pixmap here)."""
        self._pending.discard(key)
        self._previews[key] = preview
        if preview.image is not None:
            self._icons[key] = QIcon(QPixmap.fromImage(preview.image))
        for row, row_key in enumerate(self._keys):
            if row_key == key:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    # -- what the view asks ---------------------------------------------------------------------------

    def preview(self, row: int) -> Preview | None:
        """The row's preview, or None while it is being read (or the file is missing)."""
        key = self._keys[row]
        return self._previews.get(key) if key is not None else None

    def has_thumbnail(self, row: int) -> bool:
        key = self._keys[row]
        return key is not None and key in self._icons

    def is_missing(self, row: int) -> bool:
        return self._keys[row] is None

    def state(self, row: int) -> str:
        """The cell's second line: a sound's length, "in use", "missing" or "unusable"."""
        item, preview = self.items[row], self.preview(row)
        words = []
        if preview is not None and preview.seconds is not None:
            words.append(format_seconds(preview.seconds))
        if self.is_missing(row):
            words.append("missing")
        elif preview is not None and preview.problem:
            words.append("unusable")
        if item.used:
            words.append("● in use")
        return " · ".join(words)

    def tooltip(self, row: int) -> str:
        item, preview = self.items[row], self.preview(row)
        lines = [str(self._paths[row])]
        if self.is_missing(row):
            lines.append("Missing: the file is not there (File ▸ Relink Media… finds moved files)")
        elif preview is not None and preview.problem:
            lines.append(f"Cannot be used: {preview.problem}")
        what = "Picture" if item.kind is MediaKind.image else "Sound"
        if preview is not None and preview.seconds is not None:
            what += f", {format_seconds(preview.seconds)}"
        lines.append(what)
        lines.append(f"Used by: {', '.join(item.used_by)}" if item.used else "Not used yet")
        if not item.in_bin:
            lines.append("Listed while in use (it was not imported into the bin)")
        return "\n".join(lines)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self.items)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if not index.isValid():
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            state = self.state(row)
            return f"{self.names[row]}\n{state}" if state else self.names[row]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole:
            preview = self.preview(row)
            unusable = self.is_missing(row) or (preview is not None and bool(preview.problem))
            return _MISSING_COLOUR if unusable else None
        return None

    def _icon(self, row: int) -> QIcon:
        key = self._keys[row]
        if key is None:
            return self._missing_icon
        if self.items[row].kind is MediaKind.audio:
            return self._sound_icon
        return self._icons.get(key, self._waiting_icon)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        """The dragged items' files as URLs: the timeline's drop takes them as it takes files from a file
        manager (pictures on the acts track, sounds on an audio track)."""
        mime = QMimeData()
        rows = sorted({index.row() for index in indexes if index.isValid()})
        mime.setUrls([QUrl.fromLocalFile(str(self._paths[row])) for row in rows])
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def _is_delete(event: QKeyEvent) -> bool:
    plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return plain and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)


class _CellDelegate(QStyledItemDelegate):
    """Every item fills its cell, so each has room for all its lines (with uniform item sizes Qt would
    otherwise size every item like the last one, and a one-line last item cut the others' text short)."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return self._view.gridSize().shrunkBy(QMargins(0, 0, _CELL_SPACING, _CELL_SPACING))


class BinList(QListView):
    """The bin's icon view. Delete and Backspace are the bin's own keys while it has the focus; files dropped
    on it from elsewhere are reported by `files_dropped`."""

    delete_pressed = Signal()
    files_dropped = Signal(list)  # list[Path]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(THUMBNAIL_SIZE)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name keeps its suffix
        self.setItemDelegate(_CellDelegate(self))
        self._fit_cells_to_font()
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)  # icons are not rearranged by dragging them
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)  # after setMovement, which turns dragging and drops off for Static
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.viewport().setAcceptDrops(True)  # files from elsewhere are imported
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def _fit_cells_to_font(self) -> None:
        metrics = self.fontMetrics()
        width = max(THUMBNAIL_SIZE.width(), metrics.horizontalAdvance("x" * CELL_CHARACTERS))
        height = THUMBNAIL_SIZE.height() + CELL_TEXT_LINES * metrics.lineSpacing()
        spare = _CELL_PADDING + _CELL_SPACING
        self.setGridSize(QSize(width + spare, height + spare))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit_cells_to_font()  # the stylesheet sets the font after construction
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        # The window's Delete is a window-wide shortcut that ripple-deletes the selected acts: accepting
        # the override here makes Qt deliver the key to this widget instead of firing that shortcut.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and _is_delete(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if _is_delete(event):
            event.accept()
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)

    def _outside_files(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[Path]:
        if event.source() is self:  # the bin's own items dragged over it: nothing to import
            return []
        urls = event.mimeData().urls()
        return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._outside_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._outside_files(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._outside_files(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths)


class MediaBinPanel(QWidget):
    """The Media dock's contents: Import…, Add to Timeline and Remove buttons over the bin."""

    def __init__(self, document: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._pool = QThreadPool(self)  # made first, so it is destroyed (waiting for its jobs) first
        self._pool.setMaxThreadCount(PREVIEW_THREADS)
        self._signals = _PreviewSignals(self)
        self.model = MediaBinModel(self)
        self.list = BinList(self)
        self.list.setModel(self.model)

        self.import_action = QAction("&Import…", self)
        self.import_action.setToolTip("Import pictures and sounds into the bin")
        self.import_action.triggered.connect(self.import_dialog)
        self.add_action = QAction("&Add to Timeline", self)
        self.add_action.setToolTip(
            "Insert the selected pictures as acts after the selected act (or at the end); put the selected "
            "sounds on the first audio track at the playhead"
        )
        self.add_action.triggered.connect(self.add_selected_to_timeline)
        self.remove_action = QAction("&Remove from Bin", self)
        # No shortcut of its own: it would be ambiguous with the window's Delete; BinList takes the key.
        self.remove_action.setToolTip(
            "Take the selected files out of the bin (Delete); media in use stays listed"
        )
        self.remove_action.triggered.connect(self.remove_selected)
        self.list.addActions([self.add_action, self.remove_action, self.import_action])

        buttons = QHBoxLayout()
        for action in (self.import_action, self.add_action, self.remove_action):
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)

        self._signals.ready.connect(self.model.add_preview)
        self.model.previews_wanted.connect(self._on_model_previews_wanted)
        self.list.delete_pressed.connect(self.remove_selected)
        self.list.files_dropped.connect(self.import_files)
        self.list.selectionModel().selectionChanged.connect(self._update_actions)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        self.active = False  # on screen (see set_active)
        self._stale = True  # the listing is out of date: it is made again when the bin is next on screen
        self._selection_wanted: set[str] | None = None  # see select_paths

    # -- commands -------------------------------------------------------------------------------------

    def import_dialog(self) -> None:
        """File ▸ Import Media…: choose pictures and sounds, import them into the bin."""
        paths = choose_files(self, "Import media", self._document.project_dir)
        if paths:
            self.import_files(paths)

    def import_files(self, paths: list[Path]) -> None:
        """Import `paths` into the bin, then select what they are listed as (the new entries, or those
        already there) and scroll to it."""
        listed = import_files(self._document, paths)
        if listed:
            self.select_paths([ref.path for ref in listed])

    def add_acts_dialog(self) -> None:
        """Edit ▸ Add Acts from Files…: choose pictures, insert them as acts after the selection."""
        paths = choose_files(self, "Add acts from files", self._document.project_dir, IMAGES_FILTER)
        if paths:
            add_acts_from_files(self._document, paths)

    def selected_items(self) -> list[BinItem]:
        rows = sorted(index.row() for index in self.list.selectionModel().selectedIndexes())
        return [self.model.items[row] for row in rows]

    def add_selected_to_timeline(self) -> None:
        items = self.selected_items()
        if not items:
            self._document.message.emit("Select pictures or sounds in the media bin first")
            return
        add_to_timeline(self._document, [item.ref for item in items])

    def remove_selected(self) -> None:
        """Take the selected bin entries out of the bin; media in use stays listed (and says so)."""
        items = self.selected_items()
        if not items:
            return
        in_bin = [item.ref.path for item in items if item.in_bin]
        kept = [item for item in items if not item.in_bin]
        if in_bin:
            self._document.execute(RemoveFromBin(in_bin))
        if kept:
            first = kept[0]
            others = f" (and {len(kept) - 1} more in use)" if len(kept) > 1 else ""
            self._document.message.emit(
                f"{first.name} stays in the bin while {', '.join(first.used_by)} use it{others}"
            )

    def select_paths(self, paths: Collection[str]) -> None:
        """Select just the items with these stored paths and scroll the last of them into view (a bin not on
        screen does it when it next lists)."""
        self._selection_wanted = set(paths)
        self._refresh_when_shown()

    def refresh(self) -> None:
        """List the project's media again, keeping the selection (by stored path) or making the one asked
        for by `select_paths`."""
        self._stale = False
        wanted, self._selection_wanted = self._selection_wanted, None
        selected = wanted if wanted is not None else {item.ref.path for item in self.selected_items()}
        self.model.set_items(bin_items(self._document.project), self._document.project_dir)
        selection = self.list.selectionModel()
        rows = [row for row, item in enumerate(self.model.items) if item.ref.path in selected]
        for row in rows:
            selection.select(self.model.index(row), selection.SelectionFlag.Select)
        if wanted and rows:
            last = self.model.index(rows[-1])
            selection.setCurrentIndex(last, selection.SelectionFlag.NoUpdate)
            self.list.scrollTo(last)
        self._update_actions()

    def set_active(self, active: bool) -> None:
        """Whether the bin is on screen. A dock tab behind another one is not, though Qt keeps it "visible":
        connect the dock's visibilityChanged here. Inactive, the bin lists nothing and reads no thumbnails
        (a project of many pictures opens without reading them); it catches up when it comes forward."""
        self.active = active
        if active and self._stale:
            self.refresh()

    def shutdown(self) -> None:
        """Stop reading previews and wait for the threads (the editor calls this when it closes)."""
        self._pool.clear()
        self._pool.waitForDone()

    # -- slots ----------------------------------------------------------------------------------------

    def _on_document_changed(self, _changes: object) -> None:
        self._refresh_when_shown()

    def _on_document_replaced(self) -> None:
        self.model.clear_previews()
        self._refresh_when_shown()

    def _refresh_when_shown(self) -> None:
        if self.active:
            self.refresh()
        else:
            self._stale = True

    def _on_model_previews_wanted(self, wanted: list[tuple[FileKey, MediaKind]]) -> None:
        for key, kind in wanted:
            self._pool.start(_PreviewJob(key, kind, self._signals))

    def _update_actions(self) -> None:
        items = self.selected_items()
        self.add_action.setEnabled(bool(items))
        self.remove_action.setEnabled(any(item.in_bin for item in items))
