"""The viewer's camera overlay: the selected act's keyframe picture, whole and un-zoomed, with the camera's
view at the playhead drawn on it as a turned rectangle that the mouse edits.

Drag inside the rectangle to move the camera, drag a corner to zoom, drag the round handle above the top
edge to turn it; the wheel zooms. While a drag lasts only the overlay's own preview changes; on release the
pose becomes the act's camera key at the playhead (added, or the key there replaced) as one undo step. A
gesture that leaves the framing as it was (a click, a move the picture's edges stop) adds nothing; a move
refused because the view fills the picture says to zoom in first. A caption strip below the picture, outside
the handles' reach, says where the camera is and what a drag does. The
pose shown comes from `MotionSettings.key_at`, the interpolation the motion backend renders, so the
rectangle is the rendered framing (the backend zooms in further only where a view would show past the
picture's edge, which the rectangle then says). Nothing here computes frames: the picture is the act's first
reference, read scaled down off the GUI thread, and fitted while painting as `app.engine.keyframe.fit_image`
fits it (cover crops, stretch ignores the aspect, contain pads — here with a dimmed copy, not a blurred one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QPointF,
    QRectF,
    QSize,
    QSizeF,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QColor,
    QHideEvent,
    QImage,
    QImageReader,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from app.model.act import Act, CameraKey, FitMode
from app.model.commands import Changes, SetActField
from app.model.timebase import timecode
from app.ui.document import DocumentController

BACKGROUND = QColor(14, 14, 16)
GRID_GROUND = QColor(38, 40, 46)
GRID_LINE = QColor(58, 61, 68)
OUTSIDE_VIEW = QColor(0, 0, 0, 150)  # dims the picture outside the camera's view
VIEW_PEN = QColor("#f2c14e")
VIEW_PAST_EDGE_PEN = QColor("#ff6b4a")  # the view reaches past the picture: the render zooms in further
CAPTION_TEXT = QColor(235, 235, 235)
CAPTION_GROUND = QColor(24, 24, 28)
#: Room around the picture (pixels) so the rotate handle above a full-frame view stays on screen.
MARGIN = 34
HANDLE_GAP = 22  # pixels from the view's top edge to the rotate handle
HANDLE_RADIUS = 6
GRAB = 10  # pixels within which a corner or the rotate handle is caught
#: Pixels between the picture and the caption strip: a full-frame view's corner handles stay clear of it.
CAPTION_GAP = GRAB + 4
CAPTION_PADDING = 4  # pixels around the caption's text
CAPTION_LINES = 2
ZOOM_IN_FIRST = "Zoom in first (corner handles or the wheel) to move the camera"
MOVE_SLOP = 3  # pixels the pointer goes before a move that cannot happen is called refused
WHEEL_STEP = 1.1  # zoom factor per wheel notch
WHEEL_COMMIT_MS = 400  # a wheel gesture ends (and becomes one undo step) after this pause
PICTURE_MAX_SIDE = 1600  # the picture is read scaled down to this (pixels): it is only a guide
_CENTRE_MARK = 5
_CURSORS = {
    "move": Qt.CursorShape.SizeAllCursor,
    "zoom": Qt.CursorShape.SizeFDiagCursor,
    "rotate": Qt.CursorShape.CrossCursor,
    None: Qt.CursorShape.ArrowCursor,
}


# -- geometry (pure: the picture rectangle in widget pixels, poses as CameraKey) ----------------------------


def view_centre(key: CameraKey, picture: QRectF) -> QPointF:
    return QPointF(
        picture.left() + (0.5 + key.x) * picture.width(), picture.top() + (0.5 + key.y) * picture.height()
    )


def _turned(key: CameraKey, dx: float, dy: float) -> QPointF:
    """(dx, dy) in the view's own axes, turned as the view lies on the picture (the other way from how the
    picture appears turned: y points down)."""
    angle = math.radians(-key.rotation)
    return QPointF(dx * math.cos(angle) - dy * math.sin(angle), dx * math.sin(angle) + dy * math.cos(angle))


def view_corners(key: CameraKey, picture: QRectF) -> list[QPointF]:
    """The view's corners on the picture (widget pixels): top-left, top-right, bottom-right, bottom-left."""
    centre = view_centre(key, picture)
    half_width, half_height = picture.width() / 2 / key.zoom, picture.height() / 2 / key.zoom
    signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    return [centre + _turned(key, sx * half_width, sy * half_height) for sx, sy in signs]


def rotate_handle(key: CameraKey, picture: QRectF) -> QPointF:
    """Where the rotate handle sits: HANDLE_GAP pixels above the middle of the view's top edge."""
    return view_centre(key, picture) + _turned(key, 0.0, -(picture.height() / 2 / key.zoom + HANDLE_GAP))


def _half_extents(zoom: float, rotation: float, aspect: float) -> tuple[float, float]:
    """Half the width and height (fractions of the picture's) of the box around a view turned `rotation`."""
    cos, sin = abs(math.cos(math.radians(rotation))), abs(math.sin(math.radians(rotation)))
    return (cos + sin / aspect) / (2 * zoom), (aspect * sin + cos) / (2 * zoom)


def fits_picture(key: CameraKey, aspect: float) -> bool:
    """Whether the view lies inside the picture (`aspect`: width over height), so it renders as drawn."""
    reach_x, reach_y = _half_extents(key.zoom, key.rotation, aspect)
    return abs(key.x) + reach_x <= 0.5 + 1e-6 and abs(key.y) + reach_y <= 0.5 + 1e-6


def _room(zoom: float, rotation: float, aspect: float) -> tuple[float, float]:
    """How far (fractions of the picture) the view's centre can go from the middle and stay inside."""
    reach_x, reach_y = _half_extents(zoom, rotation, aspect)
    return max(0.0, 0.5 - reach_x), max(0.0, 0.5 - reach_y)


def can_move(key: CameraKey, aspect: float) -> bool:
    """Whether the view has room to move at all: not when it fills the picture (zoom 1, or turned)."""
    return _room(key.zoom, key.rotation, aspect) != (0.0, 0.0)


def kept_inside(key: CameraKey, aspect: float) -> CameraKey:
    """`key` with its centre moved the least that keeps the view inside the picture (centred on an axis where
    it cannot fit), rounded to the precision the inspector shows, all fields within CameraKey's ranges."""
    zoom = min(8.0, max(1.0, key.zoom))
    rotation = (key.rotation + 180.0) % 360.0 - 180.0
    room_x, room_y = _room(zoom, rotation, aspect)
    return CameraKey(
        frame=key.frame,
        x=round(min(room_x, max(-room_x, key.x)), 4),
        y=round(min(room_y, max(-room_y, key.y)), 4),
        zoom=round(zoom, 3),
        rotation=round(rotation, 2),
    )


def same_framing(a: CameraKey, b: CameraKey, aspect: float) -> bool:
    """Whether two poses give the same key once kept inside the picture: a gesture from `a` that ends on
    `b` changed nothing (a click, a move the picture's edges stopped, a zoom already at its limit)."""
    return kept_inside(a, aspect) == kept_inside(b, aspect)


def _pointer_angle(centre: QPointF, point: QPointF) -> float:
    """Degrees clockwise from straight up of `point` seen from `centre` (widget pixels, y down)."""
    return math.degrees(math.atan2(point.x() - centre.x(), centre.y() - point.y()))


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


# -- reading the picture off the GUI thread ----------------------------------------------------------------


def read_picture(path: str, max_side: int = PICTURE_MAX_SIDE) -> QImage:
    """The image at `path`, upright (EXIF) and scaled down to at most `max_side` pixels a side (a null
    image when it cannot be read). JPEGs scale while decoding, so this stays light."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > max_side:
        reader.setScaledSize(size.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class PictureLoader(QObject):
    """Reads pictures with `read_picture` on one pool thread; `loaded(path, image)` arrives on the GUI thread.

    Call `shutdown()` before exit (it is connected to aboutToQuit as well): it waits for a read under way.
    """

    loaded = Signal(str, QImage)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def request(self, path: Path) -> None:
        self._pool.start(partial(self._read, str(path)))

    def _read(self, path: str) -> None:  # on the pool thread
        self.loaded.emit(path, read_picture(path))

    @Slot()
    def shutdown(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()


# -- the overlay -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Drag:
    kind: str  # "move" | "zoom" | "rotate"
    start: QPointF  # where the button went down (widget pixels)
    key: CameraKey  # the pose then


class CameraOverlay(QWidget):
    """Edits the camera keys of the single selected act at the playhead (see the module docstring)."""

    def __init__(self, document: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._loader = PictureLoader(self)
        self._loader.loaded.connect(self._on_loader_loaded)
        self._picture_path: str | None = None  # the reference shown (or being read)
        self._picture: QImage | None = None  # None while reading it or when it could not be read
        self._unreadable = False  # the reference shown could not be read as an image
        self._drag: _Drag | None = None
        self._preview: CameraKey | None = None  # the pose being dragged or wheeled, not yet a key
        self._wheel_start: CameraKey | None = None  # the pose when the wheel gesture under way began
        self._hint: str | None = None  # why the last gesture changed nothing, until the next one
        self._wheel_timer = QTimer(self)
        self._wheel_timer.setSingleShot(True)
        self._wheel_timer.setInterval(WHEEL_COMMIT_MS)
        self._wheel_timer.timeout.connect(self._on_wheel_timer_timeout)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMouseTracking(True)  # the cursor shows what a drag would do
        document.changed.connect(self._on_document_changed)
        document.selection_changed.connect(self._on_document_selection_changed)
        document.playhead_changed.connect(self._on_document_playhead_changed)
        document.replaced.connect(self._on_document_selection_changed)

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def shutdown(self) -> None:
        """Wait for a picture being read (before exit)."""
        self._loader.shutdown()

    # -- what is edited ------------------------------------------------------------------------------------

    def act(self) -> Act | None:
        """The act whose camera is shown: the selection when it is exactly one act."""
        selected = self._document.selected_ids
        if len(selected) != 1:
            return None
        project = self._document.project
        return next((act for act in project.acts if act.id == selected[0]), None)

    def frame_in_act(self, act: Act) -> int:
        """The playhead in frames from the act's first frame (outside 0..duration-1 when it is elsewhere)."""
        project = self._document.project
        return self._document.playhead - project.act_starts()[project.index_of(act.id)]

    def shown_key(self, act: Act) -> CameraKey:
        """The pose drawn, as a key at the frame it is shown for: the one being dragged, else the camera at
        the playhead (at the act's nearest frame when the playhead is elsewhere); an act without keys starts
        from a centred, unzoomed view."""
        if self._preview is not None:
            return self._preview
        frame = min(act.duration_frames - 1, max(0, self.frame_in_act(act)))
        if act.motion.keyframes:
            return act.motion.key_at(frame).model_copy(update={"frame": frame})
        return CameraKey(frame=frame)

    def caption_rect(self) -> QRectF:
        """The caption strip along the widget's bottom edge, below the picture and its handles."""
        height = CAPTION_LINES * self.fontMetrics().height() + 2 * CAPTION_PADDING
        return QRectF(0, self.height() - height, self.width(), height)

    def picture_rect(self) -> QRectF:
        """Where the whole fitted keyframe picture is drawn (widget pixels): MARGIN pixels inside the widget's
        edges, CAPTION_GAP above the caption strip."""
        settings = self._document.project.settings
        bottom = self.caption_rect().height() + CAPTION_GAP
        bounds = QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -bottom)
        scaled = QSizeF(settings.width, settings.height).scaled(
            bounds.size(), Qt.AspectRatioMode.KeepAspectRatio
        )
        left = bounds.left() + (bounds.width() - scaled.width()) / 2
        top = bounds.top() + (bounds.height() - scaled.height()) / 2
        return QRectF(left, top, scaled.width(), scaled.height())

    def view_polygon(self) -> QPolygonF | None:
        """The camera's view as drawn now (widget pixels), None when no act is shown."""
        act = self.act()
        return None if act is None else QPolygonF(view_corners(self.shown_key(act), self.picture_rect()))

    def rotate_handle_position(self) -> QPointF | None:
        act = self.act()
        return None if act is None else rotate_handle(self.shown_key(act), self.picture_rect())

    @property
    def picture_loaded(self) -> bool:
        return self._picture is not None

    def _editable(self, act: Act) -> bool:
        return 0 <= self.frame_in_act(act) < act.duration_frames

    def _aspect(self) -> float:
        settings = self._document.project.settings
        return settings.width / settings.height

    # -- document ------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        self._hint = None
        self._update_picture()
        self.update()

    @Slot()
    def _on_document_selection_changed(self) -> None:
        self._cancel_gesture()
        self._hint = None
        self._update_picture()
        self.update()

    @Slot(int)
    def _on_document_playhead_changed(self, frame: int) -> None:
        self._commit_wheel()  # a wheel gesture belongs to the frame it began at
        self._hint = None
        self.update()

    def _update_picture(self) -> None:
        """Read the act's first reference when it is not the one shown (the shot starts on it)."""
        if not self.isVisible():
            return
        act = self.act()
        path = None
        if act is not None and act.references:
            path = str(act.references[0].resolve(self._document.project_dir))
        if path == self._picture_path:
            return
        self._picture_path, self._picture, self._unreadable = path, None, False
        if path is not None:
            self._loader.request(Path(path))

    @Slot(str, QImage)
    def _on_loader_loaded(self, path: str, image: QImage) -> None:
        if path == self._picture_path:
            self._picture = None if image.isNull() else image
            self._unreadable = image.isNull()
            self.update()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._update_picture()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._commit_wheel()
        self._cancel_gesture()

    # -- gestures ------------------------------------------------------------------------------------------

    def _hit(self, key: CameraKey, point: QPointF) -> str | None:
        picture = self.picture_rect()
        if _distance(point, rotate_handle(key, picture)) <= GRAB:
            return "rotate"
        corners = view_corners(key, picture)
        if any(_distance(point, corner) <= GRAB for corner in corners):
            return "zoom"
        if QPolygonF(corners).containsPoint(point, Qt.FillRule.OddEvenFill):
            return "move"
        return None

    def _edited(self, key: CameraKey, update: dict[str, float]) -> CameraKey:
        """`key` with `update`, kept inside the picture; `key` itself when that frames the same (so a click
        does not snap a view that reaches past the picture)."""
        edited = kept_inside(key.model_copy(update=update), self._aspect())
        return key if same_framing(edited, key, self._aspect()) else edited

    def _dragged(self, drag: _Drag, point: QPointF) -> CameraKey:
        """The pose `drag` gives with the pointer at `point`."""
        key, picture = drag.key, self.picture_rect()
        centre = view_centre(key, picture)
        if drag.kind == "move":
            delta = point - drag.start
            moved = {"x": key.x + delta.x() / picture.width(), "y": key.y + delta.y() / picture.height()}
        elif drag.kind == "zoom":  # the grabbed corner follows the pointer's distance from the centre
            moved = {"zoom": key.zoom * _distance(drag.start, centre) / max(1.0, _distance(point, centre))}
        else:  # the view turns with the pointer: the picture the other way
            turned = _pointer_angle(centre, point) - _pointer_angle(centre, drag.start)
            moved = {"rotation": key.rotation - turned}
        return self._edited(key, moved)

    def _drag_to(self, drag: _Drag, point: QPointF) -> None:
        """Preview the pose `drag` gives at `point`; a move that cannot go anywhere says to zoom in first."""
        self._preview = self._dragged(drag, point)
        stuck = (
            drag.kind == "move"
            and _distance(point, drag.start) >= MOVE_SLOP
            and not can_move(drag.key, self._aspect())
        )
        self._hint = ZOOM_IN_FIRST if stuck else None
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        act = self.act()
        self._commit_wheel()
        if event.button() != Qt.MouseButton.LeftButton or act is None or not self._editable(act):
            event.ignore()
            return
        key = self.shown_key(act)
        kind = self._hit(key, event.position())
        if kind is not None:
            self._drag = _Drag(kind, event.position(), key)
            self._hint = None
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self._drag_to(self._drag, event.position())
            return
        act = self.act()
        kind = (
            None
            if act is None or not self._editable(act)
            else self._hit(self.shown_key(act), event.position())
        )
        self.setCursor(_CURSORS[kind])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        self._drag_to(drag, event.position())
        if self._hint is not None:
            self._document.message.emit(self._hint)
        labels = {"move": "Move camera", "zoom": "Zoom camera", "rotate": "Turn camera"}
        self._commit(labels[drag.kind], drag.key)

    def wheelEvent(self, event: QWheelEvent) -> None:
        act = self.act()
        notches = event.angleDelta().y() / 120
        if act is None or not self._editable(act) or self._drag is not None or notches == 0:
            event.ignore()
            return
        key = self.shown_key(act)
        if self._wheel_start is None:
            self._wheel_start = key
        self._preview = self._edited(key, {"zoom": key.zoom * WHEEL_STEP**notches})
        self._hint = None
        self._wheel_timer.start()
        self.update()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self._cancel_gesture()
            self.update()
        else:
            super().keyPressEvent(event)

    @Slot()
    def _on_wheel_timer_timeout(self) -> None:
        self._commit("Zoom camera", self._wheel_start)

    def _commit_wheel(self) -> None:
        """End a wheel gesture now (another gesture begins, the playhead moves, the overlay hides)."""
        if self._wheel_timer.isActive():
            self._wheel_timer.stop()
            self._commit("Zoom camera", self._wheel_start)

    def _cancel_gesture(self) -> None:
        self._wheel_timer.stop()
        self._drag = None
        self._preview = None
        self._wheel_start = None

    def _commit(self, label: str, start: CameraKey | None) -> None:
        """Make the previewed pose the act's key at the frame the gesture began on (one undo step), unless
        it frames what `start`, the pose the gesture began from, did."""
        act, key = self.act(), self._preview
        self._cancel_gesture()
        self.update()
        if act is None or key is None or start is None or same_framing(key, start, self._aspect()):
            return
        motion = act.motion.with_key(key)
        if motion != act.motion:
            self._document.execute(SetActField(act.id, "motion", motion, label=label))

    # -- painting ------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), BACKGROUND)
            act = self.act()
            picture = self.picture_rect()
            self._paint_picture(painter, picture, act)
            # Before the view: a handle turned far enough to reach the strip is drawn over it, not under it.
            self._paint_caption(painter, self.caption())
            if act is not None:
                key = self.shown_key(act)
                corners = view_corners(key, picture)
                self._paint_view(painter, picture, key, corners, fits_picture(key, self._aspect()))
        finally:
            painter.end()

    def _paint_picture(self, painter: QPainter, picture: QRectF, act: Act | None) -> None:
        image = self._picture
        if image is None:
            _paint_grid(painter, picture)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        whole = QRectF(image.rect())
        fit = act.fit if act is not None else FitMode.cover
        if fit is FitMode.stretch:
            painter.drawImage(picture, image, whole)
            return
        painter.drawImage(picture, image, _cover_source(whole, picture.size()))
        if fit is FitMode.contain:  # the whole picture on a dimmed cover-fit copy of itself
            painter.fillRect(picture, OUTSIDE_VIEW)
            inner = whole.size().scaled(picture.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(QPointF(0, 0), inner)
            target.moveCenter(picture.center())
            painter.drawImage(target, image, whole)

    def _paint_view(
        self, painter: QPainter, picture: QRectF, key: CameraKey, corners: list[QPointF], fits: bool
    ) -> None:
        outside = QPainterPath()
        outside.addRect(picture)
        view = QPainterPath()
        view.addPolygon(QPolygonF(corners))
        view.closeSubpath()
        painter.fillPath(outside.subtracted(view), OUTSIDE_VIEW)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = VIEW_PEN if fits else VIEW_PAST_EDGE_PEN
        painter.setPen(QPen(colour, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolygon(QPolygonF(corners))
        handle = rotate_handle(key, picture)
        top_middle = (corners[0] + corners[1]) / 2
        painter.drawLine(top_middle, handle)
        painter.setBrush(colour)
        painter.drawEllipse(handle, HANDLE_RADIUS, HANDLE_RADIUS)
        for corner in corners:
            painter.drawRect(QRectF(corner.x() - 4, corner.y() - 4, 8, 8))
        centre = view_centre(key, picture)
        painter.drawLine(centre - QPointF(_CENTRE_MARK, 0), centre + QPointF(_CENTRE_MARK, 0))
        painter.drawLine(centre - QPointF(0, _CENTRE_MARK), centre + QPointF(0, _CENTRE_MARK))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def caption(self) -> list[str]:
        """The caption's lines (at most CAPTION_LINES): which camera is shown and where it is, then the one
        thing most worth saying: why the last gesture changed nothing, a problem, or what a drag does."""
        act = self.act()
        if act is None:
            return ["Camera keys: select one act to edit its camera"]
        key = self.shown_key(act)
        fps = self._document.project.settings.fps
        frame = self.frame_in_act(act)
        pose = f"x {key.x:+.3f}  y {key.y:+.3f}  zoom {key.zoom:.2f}  turn {key.rotation:+.1f}°"
        if not self._editable(act):
            where = f"Camera of '{act.name}' (move the playhead into the act to set a key):  {pose}"
        elif not act.motion.keyframes:
            where = (
                f"'{act.name}' has no camera keys: its preset move plays; a drag adds a key from this view"
            )
        elif any(existing.frame == frame for existing in act.motion.keyframes):
            where = f"Camera key at {timecode(frame, fps)} of '{act.name}':  {pose}"
        else:
            where = (
                f"Camera at {timecode(frame, fps)} of '{act.name}' (between keys: a drag adds one):  {pose}"
            )
        advice = self._advice(act, key)
        return [where] if advice is None else [where, advice]

    def _advice(self, act: Act, key: CameraKey) -> str | None:
        if self._hint is not None:
            return self._hint
        if not fits_picture(key, self._aspect()):
            return "The view reaches past the picture: the render zooms in further to hide the edge"
        if act.references and self._unreadable:
            return "The reference picture cannot be read: a grid stands in for it"
        if act.references and self._picture is None:
            return "Reading the picture…"
        if not act.references:
            return "No reference picture: the engine makes this act's keyframe"
        if not self._editable(act):
            return None
        if not can_move(key, self._aspect()):
            return f"{ZOOM_IN_FIRST} · drag the dot to turn"
        return "Drag to move · drag a corner to zoom · drag the dot to turn · wheel zooms"

    def _paint_caption(self, painter: QPainter, lines: list[str]) -> None:
        strip = self.caption_rect()
        painter.fillRect(strip, CAPTION_GROUND)
        painter.setPen(CAPTION_TEXT)
        metrics = painter.fontMetrics()
        width = round(strip.width()) - 4 * CAPTION_PADDING
        for number, line in enumerate(lines[:CAPTION_LINES]):
            baseline = strip.top() + CAPTION_PADDING + metrics.ascent() + number * metrics.height()
            text = metrics.elidedText(line, Qt.TextElideMode.ElideRight, width)
            painter.drawText(QPointF(strip.left() + 2 * CAPTION_PADDING, baseline), text)


def _cover_source(image: QRectF, target: QSizeF) -> QRectF:
    """The centred part of `image` a cover fit to `target`'s aspect shows (the overflow is cropped)."""
    aspect = target.width() / target.height()
    if image.width() / image.height() > aspect:
        width = image.height() * aspect
        return QRectF(image.left() + (image.width() - width) / 2, image.top(), width, image.height())
    height = image.width() / aspect
    return QRectF(image.left(), image.top() + (image.height() - height) / 2, image.width(), height)


def _paint_grid(painter: QPainter, picture: QRectF) -> None:
    """A neutral grid standing in for the picture (none, or not read yet): thirds and eighths."""
    painter.fillRect(picture, GRID_GROUND)
    painter.setPen(QPen(GRID_LINE, 1))
    for step in range(1, 8):
        x = picture.left() + picture.width() * step / 8
        y = picture.top() + picture.height() * step / 8
        painter.drawLine(QPointF(x, picture.top()), QPointF(x, picture.bottom()))
        painter.drawLine(QPointF(picture.left(), y), QPointF(picture.right(), y))
