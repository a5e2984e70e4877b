"""The Takes panel: generate N takes of the selected act, compare them side by side, pick, rate and annotate.

Each cell loops its take's preview, rendered in the background by the draft worker
(`DraftService.set_take_focus`, asked for only while the panel is on screen, see `set_active`); one timer
at the project frame rate drives a shared frame index, so every cell shows the same moment of its take.
Every edit is a take command executed through the document, so it undoes and redoes like any other edit.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import RenderError
from app.model import AddTakes, RateTake, RemoveTake, SelectTake, SetTakeNote, fresh_seeds
from app.model.act import Act, Take
from app.model.commands import Changes
from app.ui.document import DocumentController
from app.ui.viewer import wrap_rgb

if TYPE_CHECKING:
    from app.engine.clip import StoredClip
    from app.engine.worker import ActStatus, DraftService

MAX_TAKES_PER_GENERATE = 8
DEFAULT_TAKES_PER_GENERATE = 4
PICTURE_WIDTH = 192  # pixels; the height follows the project's aspect
#: Decoded preview frames one cell keeps (bytes); frames past it are read from the cache on every loop.
FRAME_CACHE_BYTES = 8 * 1024**2
_RATING_KEYS: dict[int, int | None] = {
    Qt.Key.Key_0: None,
    Qt.Key.Key_1: 1,
    Qt.Key.Key_2: 2,
    Qt.Key.Key_3: 3,
    Qt.Key.Key_4: 4,
    Qt.Key.Key_5: 5,
}
_STAR_LIT = QColor("#f2c14e")
_STAR_DIM = QColor("#6c6f75")
_STYLE = """
TakeCell { border: 2px solid #2b2d31; border-radius: 4px; }
TakeCell:focus { border-color: #3d6fb6; }
TakeCell[chosen="true"] { border-color: #f2c14e; }
QLabel#takeStatus[fallback="true"] { color: #f0a030; }
QLabel#takeStatus[failed="true"] { color: #f0484f; }
"""


def describe_take_status(status: ActStatus) -> str:
    """One line for a take's preview: queued / rendering n % / failed: why / rendered by the fallback."""
    if status.state == "rendering":
        return f"Rendering {status.progress:.0%}"
    if status.state == "failed":
        return f"Failed: {status.message}"
    if status.state == "ready":
        return f"Fallback: {status.fallback}" if status.fallback else ""
    return "Queued"


class StarRating(QWidget):
    """Five clickable stars. `rated(rating)` asks for 1–5, or None when the current rating is clicked."""

    rated = Signal(object)
    STAR = 18  # pixels per star

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rating: int | None = None
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Rate this take (keys 1–5; 0 clears)")
        self.setFixedSize(5 * self.STAR, self.STAR)

    def set_rating(self, rating: int | None) -> None:
        if rating != self.rating:
            self.rating = rating
            self.update()

    def star_at(self, x: float) -> int:
        """The star (1–5) under widget x coordinate `x` (pixels)."""
        return max(1, min(5, int(x // self.STAR) + 1))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        star = self.star_at(event.position().x())
        self.rated.emit(None if star == self.rating else star)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for star in range(1, 6):
            lit = self.rating is not None and star <= self.rating
            painter.setPen(QPen(_STAR_LIT if lit else _STAR_DIM, 1.2))
            painter.setBrush(_STAR_LIT if lit else Qt.BrushStyle.NoBrush)
            painter.drawPolygon(_star_outline((star - 0.5) * self.STAR, self.STAR / 2, self.STAR * 0.45))


def _star_outline(x: float, y: float, radius: float) -> QPolygonF:
    """A five-pointed star centred on (x, y) pixels, pointing up."""
    points = []
    for corner in range(10):
        reach = radius if corner % 2 == 0 else radius * 0.45
        angle = math.pi / 2 + corner * math.pi / 5
        points.append(QPointF(x + reach * math.cos(angle), y - reach * math.sin(angle)))
    return QPolygonF(points)


class TakeCell(QFrame):
    """One take: its looping preview, seed and backend, status, stars, note, "use" and "remove" buttons.

    The cell only shows and asks; the panel turns its requests into commands.
    """

    rate_requested = Signal(str, object)  # take id, rating 1–5 or None
    note_committed = Signal(str, str)  # take id, note
    use_requested = Signal(str)  # take id; the chosen take's cell asks for the act's own seed with ""
    remove_requested = Signal(str)  # take id

    def __init__(self, take_id: str, picture_size: QSize, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.take_id = take_id
        self.chosen = False
        self.shown_index: int | None = None  # body frame index on screen, None while there is no preview
        self._clip: StoredClip | None = None
        self._frames: dict[int, QPixmap] = {}
        self._cached_bytes = 0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self.picture = QLabel()  # the preview frame, or a line saying why there is none yet
        self.picture.setFixedSize(picture_size)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setWordWrap(True)
        self.picture.setStyleSheet("background: #0d0e10; color: #8b8e94;")
        self.title = QLabel()
        self.status = QLabel()
        self.status.setObjectName("takeStatus")
        self.status.setWordWrap(True)
        self.stars = StarRating()
        self.stars.rated.connect(lambda rating: self.rate_requested.emit(self.take_id, rating))
        self.note = QLineEdit()
        self.note.setPlaceholderText("Why this take…")
        self.note.editingFinished.connect(self.commit_note)
        self.use = QPushButton("Use this take")
        self.use.clicked.connect(lambda: self.use_requested.emit("" if self.chosen else self.take_id))
        self.remove = QToolButton()
        self.remove.setText("Remove")
        self.remove.setToolTip("Remove this take (undoable)")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.take_id))
        for button in (self.stars, self.use, self.remove):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys 0–5 keep going to the cell
        buttons = QHBoxLayout()
        buttons.addWidget(self.use, 1)
        buttons.addWidget(self.remove)
        for widget in (self.picture, self.title, self.status, self.stars, self.note):
            layout.addWidget(widget)
        layout.addLayout(buttons)

    def show_take(self, take: Take, chosen: bool) -> None:
        """Show the take's fields; a note the user is still typing is left alone."""
        self.title.setText(f"Seed {take.seed} · {take.backend}")
        self.stars.set_rating(take.rating)
        if not self.note.isModified():
            self.note.setText(take.note)
        self.chosen = chosen
        self.use.setText("Use act seed" if chosen else "Use this take")
        self.use.setToolTip(
            "Go back to the act's own seed" if chosen else "Render the act with this take's seed"
        )
        self.setProperty("chosen", chosen)
        self.style().polish(self)

    def show_status(self, status: ActStatus) -> None:
        text = describe_take_status(status)
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setProperty("fallback", bool(status.fallback))
        self.status.setProperty("failed", status.state == "failed")
        self.status.style().polish(self.status)
        if self.shown_index is None:
            self.picture.setText(text or "Loading the preview…")

    def set_picture_size(self, size: QSize) -> None:
        if size != self.picture.size():
            self.picture.setFixedSize(size)
            self._frames.clear()
            self._cached_bytes = 0

    def set_clip(self, clip: StoredClip | None) -> None:
        """Loop this preview from now on (frames are read from the stage cache as they are first shown)."""
        if clip is not self._clip:
            self._clip = clip
            self._frames.clear()
            self._cached_bytes = 0

    def show_frame(self, index: int) -> None:
        """Show body frame `index` modulo the preview's length (the panel's shared frame counter)."""
        pixmap = self._pixmap(index % self._clip.length) if self._clip is not None else None
        if pixmap is not None and self._clip is not None:
            self.shown_index = index % self._clip.length
            self.picture.setPixmap(pixmap)
        elif self.shown_index is not None:
            self.shown_index = None
            self.picture.setText(self.status.text() or "Loading the preview…")

    def _pixmap(self, index: int) -> QPixmap | None:
        pixmap = self._frames.get(index)
        if pixmap is None and self._clip is not None:
            try:
                rgb = self._clip.frame(index)
            except (OSError, RenderError):
                return None  # the cache dropped the preview meanwhile; the worker renders it again
            _, image = wrap_rgb(rgb)
            scaled = image.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            pixmap = QPixmap.fromImage(scaled)  # owns its pixels: `rgb` may go now
            size = pixmap.width() * pixmap.height() * 4
            if self._cached_bytes + size <= FRAME_CACHE_BYTES:
                self._frames[index] = pixmap
                self._cached_bytes += size
        return pixmap

    @Slot()
    def commit_note(self) -> None:
        """Send the note if the user changed it since it was last shown or sent."""
        if self.note.isModified():
            self.note.setModified(False)
            self.note_committed.emit(self.take_id, self.note.text().strip())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _RATING_KEYS and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.rate_requested.emit(self.take_id, _RATING_KEYS[key])
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)


class TakesPanel(QWidget):
    """The takes of the one selected act (see the module docstring)."""

    def __init__(
        self, document: DocumentController, drafts: DraftService, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._act_id: str | None = None  # the act whose takes the cells show; edits go to it
        self._cells: dict[str, TakeCell] = {}
        self._columns = 0
        self.active = False  # on screen: previews are rendered and played only then
        self._frame = 0  # the shared loop position, in frames
        self._rng = random.SystemRandom()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._build()
        document.changed.connect(self._on_document_changed)
        document.selection_changed.connect(self._on_document_selection_changed)
        document.replaced.connect(self._on_document_replaced)
        drafts.take_ready.connect(self._on_drafts_take_ready)
        drafts.take_status_changed.connect(self._on_drafts_take_status_changed)
        self._refresh()

    def _build(self) -> None:
        self.setStyleSheet(_STYLE)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        outer.addWidget(self.heading)
        row = QHBoxLayout()
        self.count = QSpinBox()
        self.count.setRange(1, MAX_TAKES_PER_GENERATE)
        self.count.setValue(DEFAULT_TAKES_PER_GENERATE)
        self.count.setSuffix(" takes")
        self.count.setToolTip("How many takes to generate, each with a new seed")
        self.generate = QPushButton("Generate takes")
        self.generate.setToolTip("Add takes with new seeds, rendered by the act's final backend")
        self.generate.clicked.connect(self._on_generate_clicked)
        self.use_act_seed = QPushButton("Use act seed")
        self.use_act_seed.setToolTip("Render the act with its own seed again")
        self.use_act_seed.clicked.connect(lambda: self._on_cell_use_requested(""))
        row.addWidget(self.count)
        row.addWidget(self.generate, 1)
        row.addWidget(self.use_act_seed)
        outer.addLayout(row)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._scroll.setWidget(self._grid_host)
        outer.addWidget(self._scroll, 1)

    # -- reading the document ------------------------------------------------------------------------------

    def _selected_act(self) -> Act | None:
        ids = self._document.selected_ids
        if len(ids) != 1:
            return None
        return next((act for act in self._document.project.acts if act.id == ids[0]), None)

    def _shown_act(self) -> Act | None:
        return next((act for act in self._document.project.acts if act.id == self._act_id), None)

    def cell(self, take_id: str) -> TakeCell:
        """The cell showing take `take_id` (KeyError when it is not shown)."""
        return self._cells[take_id]

    def cells(self) -> list[TakeCell]:
        """The cells in the order of the act's takes."""
        act = self._shown_act()
        takes = act.takes if act is not None else []
        return [self._cells[take.id] for take in takes if take.id in self._cells]

    # -- refreshing ----------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Show the takes of the act selected now (cells are kept for takes still there)."""
        act = self._selected_act()
        if (act.id if act else None) != self._act_id:
            self._act_id = act.id if act else None
            self._frame = 0
            self._request_previews()
        if act is None:
            self.heading.setText("Select one act to see its takes")
        else:
            seed = f"act seed {act.seed}" + (" (locked)" if act.seed_locked else "")
            empty = "" if act.takes else ": none yet, generate some to compare seeds"
            self.heading.setText(f"Takes of '{act.name}' — {seed}{empty}")
        for widget in (self.count, self.generate):
            widget.setEnabled(act is not None)
        self.use_act_seed.setEnabled(act is not None and act.selected_take is not None)
        self._sync_cells(act)
        self._update_timer()

    def _sync_cells(self, act: Act | None) -> None:
        takes = act.takes if act is not None else []
        wanted = {take.id for take in takes}
        for take_id in [i for i in self._cells if i not in wanted]:
            cell = self._cells.pop(take_id)
            self._grid.removeWidget(cell)
            cell.deleteLater()
        ratio = self._document.project.settings.height / self._document.project.settings.width
        size = QSize(PICTURE_WIDTH, max(24, round(PICTURE_WIDTH * ratio)))
        for take in takes:
            if take.id not in self._cells:
                self._cells[take.id] = self._new_cell(take.id, size)
            cell = self._cells[take.id]
            assert act is not None
            cell.set_picture_size(size)  # the project's frame size may have changed
            cell.show_take(take, take.id == act.selected_take)
            cell.show_status(self._drafts.take_status(act.id, take.id))
            cell.set_clip(self._drafts.take_clip(act.id, take.id))
            cell.show_frame(self._frame)
        self._layout_cells(force=True)

    def _new_cell(self, take_id: str, size: QSize) -> TakeCell:
        cell = TakeCell(take_id, size, self._grid_host)
        cell.rate_requested.connect(self._on_cell_rate_requested)
        cell.note_committed.connect(self._on_cell_note_committed)
        cell.use_requested.connect(self._on_cell_use_requested)
        cell.remove_requested.connect(self._on_cell_remove_requested)
        return cell

    def _layout_cells(self, force: bool = False) -> None:
        """Place the cells in as many columns as fit the panel's width."""
        cells = self.cells()
        width = max(1, cells[0].sizeHint().width()) if cells else PICTURE_WIDTH
        columns = max(1, (self._scroll.viewport().width() - 8) // (width + self._grid.spacing()))
        if columns == self._columns and not force:
            return
        self._columns = columns
        for cell in cells:
            self._grid.removeWidget(cell)
        for index, cell in enumerate(cells):
            self._grid.addWidget(cell, index // columns, index % columns)

    def set_active(self, active: bool) -> None:
        """Whether the panel is on screen. A dock tab behind another one is not, though Qt keeps it
        "visible" (it moves it off screen): connect the dock's visibilityChanged here. Inactive, the panel
        asks for no previews and its timer stops, leaving the worker to the act drafts."""
        self.active = active
        self._request_previews()
        self._layout_cells()
        self._update_timer()

    def _request_previews(self) -> None:
        self._drafts.set_take_focus(self._act_id if self.active else None)

    def _update_timer(self) -> None:
        fps = self._document.project.settings.fps
        interval = max(1, round(1000 / fps))
        if self.active and self._cells:
            # Only a new frame rate restarts a running timer: edits must not stall the loop.
            if not self._timer.isActive() or self._timer.interval() != interval:
                self._timer.start(interval)
        else:
            self._timer.stop()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout_cells()

    # -- slots ---------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        self._refresh()

    @Slot()
    def _on_document_selection_changed(self) -> None:
        # A note the user is still typing belongs to the act shown so far: commit it there first.
        for cell in list(self._cells.values()):
            cell.commit_note()
        self._refresh()

    @Slot()
    def _on_document_replaced(self) -> None:
        self._refresh()  # nothing is selected in another project: the cells go, unsent notes with them

    @Slot(str, str)
    def _on_drafts_take_ready(self, act_id: str, take_id: str) -> None:
        cell = self._cells.get(take_id)
        if act_id == self._act_id and cell is not None:
            cell.set_clip(self._drafts.take_clip(act_id, take_id))
            cell.show_frame(self._frame)

    @Slot(str, str)
    def _on_drafts_take_status_changed(self, act_id: str, take_id: str) -> None:
        cell = self._cells.get(take_id)
        if act_id == self._act_id and cell is not None:
            cell.show_status(self._drafts.take_status(act_id, take_id))

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._frame += 1
        for cell in self._cells.values():
            cell.show_frame(self._frame)

    @Slot()
    def _on_generate_clicked(self) -> None:
        act = self._shown_act()
        if act is not None:
            seeds = fresh_seeds(act, self.count.value(), self._rng)
            self._document.execute(AddTakes(act.id, seeds, act.final_backend))

    @Slot(str, object)
    def _on_cell_rate_requested(self, take_id: str, rating: int | None) -> None:
        act = self._shown_act()
        if act is not None and any(t.id == take_id and t.rating != rating for t in act.takes):
            self._document.execute(RateTake(act.id, take_id, rating))

    @Slot(str, str)
    def _on_cell_note_committed(self, take_id: str, note: str) -> None:
        act = self._shown_act()
        if act is not None and any(t.id == take_id and t.note != note for t in act.takes):
            self._document.execute(SetTakeNote(act.id, take_id, note))

    @Slot(str)
    def _on_cell_use_requested(self, take_id: str) -> None:
        act = self._shown_act()
        if act is not None and act.selected_take != (take_id or None):
            self._document.execute(SelectTake(act.id, take_id or None))

    @Slot(str)
    def _on_cell_remove_requested(self, take_id: str) -> None:
        act = self._shown_act()
        if act is not None:
            self._document.execute(RemoveTake(act.id, take_id))
