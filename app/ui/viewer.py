"""The preview viewer: the draft frame under the playhead, letterboxed, with safe areas and a timecode.

The widget only fetches and paints. DraftService.frame() reads a stored proxy frame (a few milliseconds);
nothing here computes pictures. Fetching is deferred to the next paint so that many playhead moves between
two paints (fast scrubbing, shuttle at 8x) cost one fetch.

When the act under the playhead failed to render (a reference that is no longer an image, a model error),
the viewer shows a failure slate naming the act and the reason instead of any picture: the proxy it still
holds is of the act before the edit that failed, and showing it would say all is well.

With camera editing on (View ▸ Edit Camera Keys) the camera overlay (app.ui.camera_overlay) covers the
picture: the selected act's keyframe with the camera's view at the playhead, to drag. Off, the draft shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, QSize, QSizeF, Qt, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.model.commands import Changes
from app.model.timebase import timecode
from app.ui.camera_overlay import CameraOverlay
from app.ui.document import DocumentController

if TYPE_CHECKING:
    from app.engine.worker import DraftService

BACKGROUND = QColor(14, 14, 16)
SLATE = QColor(32, 32, 36)
SLATE_TEXT = QColor(150, 150, 160)
FAILED_SLATE = QColor(58, 22, 26)
FAILED_TITLE = QColor(255, 120, 120)
OVERLAY_TEXT = QColor(235, 235, 235)
OVERLAY_BOX = QColor(0, 0, 0, 150)
SAFE_AREA_PEN = QColor(255, 255, 255, 110)
#: Broadcast safe areas as fractions of the picture's width and height.
ACTION_SAFE = 0.93
TITLE_SAFE = 0.90
_MARGIN = 6


def wrap_rgb(frame: np.ndarray) -> tuple[np.ndarray, QImage]:
    """Wrap an RGB uint8 (H, W, 3) frame as a QImage sharing its memory.

    Returns the array that backs the image (the input itself when it is already C-contiguous, else one copy):
    QImage does not own that memory, so the caller must keep the array alive as long as the image.
    """
    backing = np.ascontiguousarray(frame, dtype=np.uint8)
    height, width = backing.shape[:2]
    image = QImage(backing.data, width, height, backing.strides[0], QImage.Format.Format_RGB888)
    return backing, image


def fit_rect(content: QSizeF, bounds: QRectF) -> QRectF:
    """The largest rectangle with `content`'s aspect ratio centred in `bounds` (letterbox or pillarbox)."""
    scaled = content.scaled(bounds.size(), Qt.AspectRatioMode.KeepAspectRatio)
    left = bounds.left() + (bounds.width() - scaled.width()) / 2
    top = bounds.top() + (bounds.height() - scaled.height()) / 2
    return QRectF(left, top, scaled.width(), scaled.height())


class PreviewViewer(QWidget):
    """Shows the draft frame at `document.playhead`.

    When no draft frame exists there it keeps the last frame it showed (the picture does not flash while a
    re-render is on its way), else the act's thumbnail, else a slate saying the draft is rendering. An act
    whose draft failed shows a failure slate with the reason instead (module doc).
    """

    def __init__(
        self, document: DocumentController, drafts: DraftService, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._safe_area = False
        self._stale = True  # the playhead or the drafts changed since the last fetch
        # QImage borrows the numpy buffers: each image's array is kept beside it.
        self._frame: tuple[np.ndarray, QImage] | None = None
        self._thumbnail: tuple[np.ndarray, QImage] | None = None
        self.failure: tuple[str, str] | None = None  # (act name, why) while the act shown failed to render
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent fills every pixel
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.camera_overlay = CameraOverlay(document, self)
        self.camera_overlay.hide()
        document.playhead_changed.connect(self._on_document_playhead_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        drafts.frames_changed.connect(self._on_drafts_frames_changed)
        drafts.act_status_changed.connect(self._on_drafts_act_status_changed)

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    @property
    def safe_area(self) -> bool:
        return self._safe_area

    @Slot(bool)
    def set_safe_area(self, enabled: bool) -> None:
        """Show or hide the action-safe (93 %) and title-safe (90 %) boxes."""
        if enabled != self._safe_area:
            self._safe_area = enabled
            self.update()

    @property
    def camera_editing(self) -> bool:
        return not self.camera_overlay.isHidden()

    @Slot(bool)
    def set_camera_editing(self, enabled: bool) -> None:
        """Show the camera overlay (the selected act's keyframe and camera view, to edit) instead of the
        draft frame, or the draft again."""
        self.camera_overlay.setGeometry(self.rect())
        self.camera_overlay.setVisible(enabled)
        if not enabled:
            self._invalidate()

    def shutdown(self) -> None:
        """Wait for the overlay's picture read under way (before exit)."""
        self.camera_overlay.shutdown()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.camera_overlay.setGeometry(self.rect())

    # -- document and drafts -------------------------------------------------------------------------------

    def _invalidate(self) -> None:
        self._stale = True
        self.update()

    @Slot(int)
    def _on_document_playhead_changed(self, frame: int) -> None:
        self._invalidate()

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        self._invalidate()

    @Slot()
    def _on_document_replaced(self) -> None:
        # The last frame belongs to the previous project: showing it as a stand-in would be wrong.
        self._frame = None
        self._thumbnail = None
        self._invalidate()

    @Slot()
    def _on_drafts_frames_changed(self) -> None:
        self._invalidate()

    @Slot(str)
    def _on_drafts_act_status_changed(self, act_id: str) -> None:
        self._invalidate()

    def _fetch(self) -> None:
        self._stale = False
        playhead = self._document.playhead
        project = self._document.project
        index = project.act_at(playhead)
        act = None if index is None else project.acts[index]
        status = None if act is None else self._drafts.status(act.id)
        if act is not None and status is not None and status.state == "failed":
            self.failure = (act.name, status.message)
            return
        self.failure = None
        frame = self._drafts.frame(playhead)
        if frame is not None:
            self._frame = wrap_rgb(frame)
            self._thumbnail = None
            return
        if self._frame is not None:
            return
        thumbnail = None if act is None else self._drafts.thumbnail(act.id)
        self._thumbnail = None if thumbnail is None else wrap_rgb(thumbnail)

    # -- painting ------------------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.camera_editing:
            return  # the overlay covers every pixel; the draft is fetched when it shows again
        if self._stale:
            self._fetch()
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), BACKGROUND)
            bounds = QRectF(self.rect())
            shown = self._frame or self._thumbnail
            if self.failure is not None:
                settings = self._document.project.settings
                picture = fit_rect(QSizeF(settings.width, settings.height), bounds)
                self._paint_failure(painter, picture, *self.failure)
            elif shown is not None:
                image = shown[1]
                picture = fit_rect(QSizeF(image.size()), bounds)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                painter.drawImage(picture, image)
            else:
                settings = self._document.project.settings
                picture = fit_rect(QSizeF(settings.width, settings.height), bounds)
                self._paint_slate(painter, picture)
            if self._safe_area:
                _paint_safe_areas(painter, picture)
            self._paint_caption(painter)
        finally:
            painter.end()

    def _paint_slate(self, painter: QPainter, picture: QRectF) -> None:
        painter.fillRect(picture, SLATE)
        painter.setPen(SLATE_TEXT)
        text = "Rendering draft…" if self._document.project.acts else "Empty timeline — add an act"
        painter.drawText(picture, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_failure(self, painter: QPainter, picture: QRectF, name: str, why: str) -> None:
        """The failure slate: a dark red picture area, "Act '<name>' failed to render" and the reason."""
        painter.fillRect(picture, FAILED_SLATE)
        text_box = picture.adjusted(4 * _MARGIN, 4 * _MARGIN, -4 * _MARGIN, -4 * _MARGIN)
        title = f"Act '{name}' failed to render"
        metrics = painter.fontMetrics()
        title_box = QRectF(text_box.left(), text_box.center().y() - metrics.height(), text_box.width(), 0)
        title_box.setHeight(metrics.height())
        painter.setPen(FAILED_TITLE)
        painter.drawText(title_box, Qt.AlignmentFlag.AlignCenter, title)
        reason_box = QRectF(text_box.left(), title_box.bottom() + _MARGIN, text_box.width(), 0)
        reason_box.setBottom(text_box.bottom())
        painter.setPen(OVERLAY_TEXT)
        painter.drawText(
            reason_box,
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop) | int(Qt.TextFlag.TextWordWrap),
            why or "no reason given",
        )

    def _paint_caption(self, painter: QPainter) -> None:
        """Timecode and the act's name in the bottom-left corner, on a translucent box."""
        project = self._document.project
        playhead = self._document.playhead
        index = project.act_at(playhead)
        caption = timecode(playhead, project.settings.fps)
        if index is not None:
            caption += f"   {project.acts[index].name}"
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(caption) + 2 * _MARGIN
        height = metrics.height() + _MARGIN
        box = QRectF(_MARGIN, self.height() - height - _MARGIN, width, height)
        painter.fillRect(box, OVERLAY_BOX)
        painter.setPen(OVERLAY_TEXT)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, caption)


def _paint_safe_areas(painter: QPainter, picture: QRectF) -> None:
    pen = QPen(SAFE_AREA_PEN)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for fraction in (ACTION_SAFE, TITLE_SAFE):
        inset_x = picture.width() * (1 - fraction) / 2
        inset_y = picture.height() * (1 - fraction) / 2
        painter.drawRect(picture.adjusted(inset_x, inset_y, -inset_x, -inset_y))
