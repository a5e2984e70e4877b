"""The timeline widget: paints the document and turns mouse, wheel, keyboard and drops into commands.

The widget decides nothing about the document: positions come from TimelineGeometry, what a drag would do
from app.ui.timeline.drags (driven by MouseGestures), and every edit is one command through
DocumentController.execute, so it can be undone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QHelpEvent,
    QHideEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QScrollBar, QSizePolicy, QWidget

from app.model.commands import Changes, RemoveActs, SplitAct
from app.model.review_commands import reviewed_take, shown_rating
from app.model.timebase import frames_to_seconds
from app.ui.document import DocumentController
from app.ui.timeline.audio_tracks import add_audio_track
from app.ui.timeline.content import TimelineContent
from app.ui.timeline.drags import ClipMoveDrag, MoveDrag, RollDrag, TrimDrag
from app.ui.timeline.dropped_audio import add_audio, audio_drop_target, audio_paths
from app.ui.timeline.dropped_images import add_images, image_paths, template_id, template_targets
from app.ui.timeline.geometry import HEADER_WIDTH, HitKind, RowKind, TimelineGeometry, insertion_boundary
from app.ui.timeline.hover_tip import HoverTip
from app.ui.timeline.mouse import MouseGestures
from app.ui.timeline.painter import PaintState, TimelinePainter

if TYPE_CHECKING:
    from app.engine.qc.types import Finding
    from app.engine.worker import DraftService

ZOOM_STEP = 1.5
WHEEL_ZOOM_STEP = 1.25
#: What "fit" shows of an empty project.
EMPTY_FIT_SECONDS = 30


class TimelineView(QWidget):
    """Ruler, acts track, beat track and audio tracks of `document`, with a horizontal scroll bar.

    `drafts` (the engine's DraftService) supplies thumbnails, draft states and waveforms; without it the
    timeline draws the document alone.
    """

    #: The frames [first, end) now on screen, after every scroll, zoom, resize or length change.
    visible_range_changed = Signal(int, int)
    #: A template card was dropped on an act: (template id, ids of the acts to apply it to).
    template_dropped = Signal(str, list)

    def __init__(
        self, document: DocumentController, drafts: DraftService | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._content = TimelineContent.from_project(document.project, self._source_seconds())
        self._geometry = TimelineGeometry(self.width(), self._content.audio_tracks)
        self._painter = TimelinePainter(self.font())
        self._mouse = MouseGestures(self, document, self._geometry, self._content)
        self._fit_pending = True  # keep fitting the project to the width until the user zooms or edits
        self._drop_boundary: int | None = None  # where dragged image files would be inserted
        self._failed_ids: set[str] = set()
        self._qc_findings: dict[str, list[Finding]] = {}  # act id -> findings of the latest quality checks
        self._qc_badges: dict[str, str] = {}  # act id -> worst severity among them, "fail" | "warn"
        self._qc_current = True
        self._shown_playhead = document.playhead
        self._visible = (0, 0)
        self._focus_sent: tuple[int, tuple[int, int]] | None = None
        self._scrollbar = QScrollBar(Qt.Orientation.Horizontal, self)
        self._tip = HoverTip(self)
        self._scrollbar.valueChanged.connect(self._on_scrollbar_value_changed)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # the paint covers every pixel
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # No fixed status tip: the status bar hints at what is under the pointer (see hints.py).
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        document.selection_changed.connect(self.update)
        document.playhead_changed.connect(self._on_document_playhead_changed)
        if drafts is not None:
            drafts.act_status_changed.connect(self._on_drafts_act_status_changed)
            drafts.frames_changed.connect(self._on_drafts_frames_changed)
            drafts.audio_ready.connect(self._on_drafts_audio_ready)

    # -- public API ---------------------------------------------------------------------------------------

    @property
    def timeline_geometry(self) -> TimelineGeometry:
        """Zoom, scroll and rows (read it to map frames to pixels; change the view through the slots)."""
        return self._geometry

    def visible_frames(self) -> tuple[int, int]:
        """Timeline frames [first, end) on screen, clamped to the project."""
        return self._geometry.visible_frames(self._content.total_frames)

    def split_at_playhead(self) -> None:
        """Split the act under the playhead there (refused, with a message, on a cut or past the end)."""
        project, playhead = self._document.project, self._document.playhead
        index = project.act_at(playhead)
        if index is None:
            self._document.message.emit("Split: the playhead is not over an act")
            return
        self._document.execute(SplitAct(project.acts[index].id, playhead - self._content.bounds[index]))

    def delete_selected(self) -> None:
        """Ripple-delete the selected acts (those drawn selected): the acts after them move up to close the
        gap. With none selected nothing is deleted, and the status bar says so."""
        if not self._document.selected_ids:
            self._document.message.emit("Nothing deleted: no act is selected")
            return
        self._document.execute(RemoveActs(list(self._document.selected_ids)))

    def add_audio_track(self) -> None:
        """Add an empty audio track below the others (refused, with a message, past the eighth)."""
        add_audio_track(self._document)

    def zoom_in(self) -> None:
        """Zoom in around the playhead (around the middle when the playhead is off screen)."""
        self._zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom(1 / ZOOM_STEP)

    def zoom_to_fit(self) -> None:
        """Show the whole project."""
        self._fit_pending = False
        self._geometry.fit(self._fit_frames())
        self._after_view_change()

    def set_qc_findings(self, findings: Mapping[str, Sequence[Finding]], current: bool) -> None:
        """Badge the acts with quality-check findings (by act id), red where one failed, amber for warnings;
        `current` False draws them hollow: the checks saw an earlier state of the film."""
        self._qc_findings = {act_id: list(found) for act_id, found in findings.items() if found}
        self._qc_badges = {
            act_id: "fail" if any(str(f.severity) == "fail" for f in found) else "warn"
            for act_id, found in self._qc_findings.items()
        }
        self._qc_current = current
        row = self._geometry.row(RowKind.acts)
        self.update(QRect(0, row.top, self.width(), row.height))

    def qc_badge(self, act_id: str) -> str | None:
        """The QC badge drawn on the act: "fail", "warn" or None."""
        return self._qc_badges.get(act_id)

    def tooltip_text(self) -> str:
        """The text of the tooltip on screen ("" when none is): see hover_tip.py for why it is not a
        QToolTip."""
        return self._tip.text() if self._tip.isVisible() else ""

    def set_snapping(self, enabled: bool) -> None:
        """Snapping of trims and cut moves to beats, downbeats, cuts and the playhead (Shift overrides)."""
        self._mouse.snapping = enabled

    # -- Qt events ----------------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(900, self._geometry.tracks_height + self._scrollbar.sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(HEADER_WIDTH + 100, self.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._geometry.width = self.width()
        self._place_scrollbar()
        self._refit_or_clamp()

    def paintEvent(self, event: QPaintEvent) -> None:
        drag = self._mouse.drag
        moving = drag if isinstance(drag, MoveDrag) else None
        guide = drag.snapped if isinstance(drag, TrimDrag | RollDrag | ClipMoveDrag) else None
        drop = moving.boundary if moving is not None else self._drop_boundary
        preview = self._mouse.preview
        state = PaintState(
            project=self._mouse.shown_project(),  # with a dragged audio clip as it would be
            content=self._content,
            bounds=self._content.bounds_array if preview is None else preview,
            selected=frozenset(self._document.selected_ids),
            playhead=self._document.playhead,
            drafts=self._drafts,
            failed_ids=self._failed_ids,
            guide=(guide.frame, guide.kind.name) if guide is not None else None,
            moving_index=moving.index if moving is not None else None,
            ghost_start=moving.ghost_start if moving is not None else 0.0,
            drop_frame=self._content.bounds[drop] if drop is not None else None,
            qc_badges=self._qc_badges,
            qc_current=self._qc_current,
        )
        painter = QPainter(self)
        try:
            self._painter.paint(painter, event.rect(), self._geometry, state)
            # Left of the scroll bar and below it (when the widget is taller than its tracks).
            tracks = self._geometry.tracks_height
            painter.fillRect(0, tracks, HEADER_WIDTH, self._scrollbar.height(), self.palette().window())
            below = tracks + self._scrollbar.height()
            painter.fillRect(0, below, self.width(), max(0, self.height() - below), self.palette().window())
        finally:
            painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._tip.hide()
        self._mouse.press(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._tip.follow(event.position().toPoint())
        self._mouse.move(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._mouse.release(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._mouse.double_click(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._tip.hide()
        if self._mouse.drag is None:
            self.unsetCursor()
        self._mouse.clear_hint()
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel zooms around the pointer; the wheel (or Shift+wheel, or a trackpad) scrolls."""
        self._tip.hide()
        angle, pixels = event.angleDelta(), event.pixelDelta()
        self._fit_pending = False
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            notches = (angle.y() or angle.x()) / 120
            self._geometry.zoom_at(event.position().x(), WHEEL_ZOOM_STEP**notches, self._content.total_frames)
        else:
            # Shift+wheel arrives as a horizontal delta on some platforms and as a vertical one on others.
            if not pixels.isNull():
                step = float(-(pixels.x() or pixels.y()))
            else:
                step = -(angle.x() or angle.y()) / 120 * self._geometry.content_width / 8
            self._geometry.set_scroll(self._geometry.scroll_px + step, self._content.total_frames)
        event.accept()
        self._after_view_change()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._tip.hide()
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif key == Qt.Key.Key_S and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.split_at_playhead()
        elif key == Qt.Key.Key_Escape and self._mouse.drag is not None:
            self._mouse.cancel()
        elif key == Qt.Key.Key_Shift:
            self._mouse.modifiers_changed(event.modifiers())
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Shift:
            self._mouse.modifiers_changed(event.modifiers())
        super().keyReleaseEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            # Not QToolTip: its window would take the next click (see hover_tip.py).
            text, zone = self._tooltip(event.pos().x(), event.pos().y())
            self._tip.show_text(text, event.globalPos(), zone)
            if not text:
                event.ignore()
            return True
        return super().event(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._tip.hide()
        super().hideEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if image_paths(mime) or audio_paths(mime) or template_id(mime) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if template_id(event.mimeData()) is not None:
            # A template lands on an act, not between acts: no insertion line.
            if self._act_index_at(event.position().x(), event.position().y()) is None:
                event.ignore()
            else:
                event.acceptProposedAction()
            return
        x, y = event.position().x(), event.position().y()
        boundary = self._drop_index(x, y) if image_paths(event.mimeData()) else None
        sound = audio_drop_target(self._geometry, x, y) if audio_paths(event.mimeData()) else None
        if boundary is None and sound is None:
            event.ignore()
        else:
            event.acceptProposedAction()
        if boundary != self._drop_boundary:
            self._drop_boundary = boundary
            self.update()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drop_boundary = None
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        """Image files dropped on the acts track become acts, inserted between the acts nearest the drop;
        sound files dropped on an audio track become clips there, from the frame under the drop; a template
        card dropped on an act asks for its template on that act (or on the selection holding it)."""
        self._drop_boundary = None
        self.update()
        dropped_template = template_id(event.mimeData())
        if dropped_template is not None:
            act_index = self._act_index_at(event.position().x(), event.position().y())
            if act_index is None:
                event.ignore()
                return
            event.acceptProposedAction()
            self.template_dropped.emit(dropped_template, template_targets(self._document, act_index))
            return
        sound = audio_drop_target(self._geometry, event.position().x(), event.position().y())
        sounds = audio_paths(event.mimeData())
        if sound is not None and sounds:
            event.acceptProposedAction()
            add_audio(self._document, sounds, *sound)
            return
        paths = image_paths(event.mimeData())
        index = self._drop_index(event.position().x(), event.position().y())
        if not paths or index is None:
            event.ignore()
            return
        event.acceptProposedAction()
        add_images(self._document, paths, index)

    # -- document and engine signals ----------------------------------------------------------------------

    def _on_document_changed(self, changes: Changes) -> None:
        self._mouse.cancel()
        self._tip.hide()  # it may describe an act that moved, changed or went
        # An edit stops the automatic fit (what is under the pointer must not move), except for the first
        # acts of an empty project.
        self._fit_pending = self._fit_pending and self._content.total_frames == 0
        if changes.audio:
            self._painter.waveforms.clear()
        self._reload_content()
        self._painter.drop_thumbnails(keep=self._content.index_by_id)  # those of removed acts

    def _on_document_replaced(self) -> None:
        self._mouse.cancel()
        self._tip.hide()
        self._mouse.forget_selection_anchor()
        self._failed_ids.clear()
        self._painter.drop_thumbnails()
        self._painter.waveforms.clear()
        self._fit_pending = True
        self._shown_playhead = self._document.playhead
        self._reload_content()

    def _on_document_playhead_changed(self, frame: int) -> None:
        old, self._shown_playhead = self._shown_playhead, frame
        busy = self._mouse.scrubbing or self._mouse.drag is not None
        if not busy and self._geometry.ensure_visible(frame, self._content.total_frames):
            self._fit_pending = False
            self._after_view_change()  # scrolled: everything moved
            return
        # Only the strips under the old and the new line change, and the timecode in the ruler's header.
        height = self._geometry.tracks_height
        for position in (old, frame):
            self.update(QRect(int(self._geometry.x_of(position)) - 8, 0, 17, height))
        self.update(QRect(0, 0, HEADER_WIDTH, self._geometry.row(RowKind.ruler).height))
        self._send_focus()

    def _on_drafts_act_status_changed(self, act_id: str) -> None:
        assert self._drafts is not None
        if str(self._drafts.status(act_id).state) == "failed":
            self._failed_ids.add(act_id)
        else:
            self._failed_ids.discard(act_id)
        self._update_act(act_id)

    def _on_drafts_frames_changed(self) -> None:
        row = self._geometry.row(RowKind.acts)
        self.update(QRect(0, row.top, self.width(), row.height))

    def _on_drafts_audio_ready(self) -> None:
        self._painter.waveforms.clear()
        self._reload_content()  # clips that play to the end of their source now have a known end

    def _on_scrollbar_value_changed(self, value: int) -> None:
        if self._geometry.set_scroll(value, self._content.total_frames):
            self._fit_pending = False
            self._after_view_change(sync_scrollbar=False)

    # -- helpers ------------------------------------------------------------------------------------------

    def _reload_content(self) -> None:
        self._content = TimelineContent.from_project(self._document.project, self._source_seconds())
        self._mouse.content = self._content
        if self._content.audio_tracks != len(self._geometry.rows) - 3:
            self._geometry.set_audio_tracks(self._content.audio_tracks)
            self.updateGeometry()
            self._place_scrollbar()
        self._refit_or_clamp()

    def _refit_or_clamp(self) -> None:
        if self._fit_pending:
            self._geometry.fit(self._fit_frames())
        self._geometry.set_scroll(self._geometry.scroll_px, self._content.total_frames)
        self._after_view_change()

    def _place_scrollbar(self) -> None:
        height = self._scrollbar.sizeHint().height()
        self._scrollbar.setGeometry(
            HEADER_WIDTH, self._geometry.tracks_height, self.width() - HEADER_WIDTH, height
        )

    def _fit_frames(self) -> int:
        return self._content.total_frames or round(EMPTY_FIT_SECONDS * self._document.project.settings.fps)

    def _zoom(self, factor: float) -> None:
        geometry = self._geometry
        x = geometry.x_of(self._document.playhead)
        if not HEADER_WIDTH <= x <= geometry.width:
            x = HEADER_WIDTH + geometry.content_width / 2
        self._fit_pending = False
        geometry.zoom_at(x, factor, self._content.total_frames)
        self._after_view_change()

    def _after_view_change(self, sync_scrollbar: bool = True) -> None:
        """Repaint after a scroll, zoom, resize or content change; tell the engine what is on screen."""
        if sync_scrollbar:
            bar, geometry = self._scrollbar, self._geometry
            bar.blockSignals(True)
            bar.setRange(0, math.ceil(geometry.max_scroll(self._content.total_frames)))
            bar.setPageStep(geometry.content_width)
            bar.setSingleStep(max(1, geometry.content_width // 20))
            bar.setValue(round(geometry.scroll_px))
            bar.blockSignals(False)
        self.update()
        visible = self.visible_frames()
        if visible != self._visible:
            self._visible = visible
            self.visible_range_changed.emit(*visible)
        self._send_focus()

    def _send_focus(self) -> None:
        focus = (self._document.playhead, self._visible)
        if self._drafts is not None and focus != self._focus_sent:
            self._focus_sent = focus
            self._drafts.set_focus(*focus)

    def _drop_index(self, x: float, y: float) -> int | None:
        """The act position at which files dropped at (x, y) are inserted; None outside the acts track."""
        if x < HEADER_WIDTH or not self._geometry.row(RowKind.acts).contains(y):
            return None
        return insertion_boundary(self._content.bounds, self._geometry.frame_at(x))

    def _act_index_at(self, x: float, y: float) -> int | None:
        """The index of the act drawn at (x, y) pixels, or None where there is no act."""
        hit = self._mouse.hit(x, y)
        return hit.index if hit.kind in (HitKind.act, HitKind.act_edge) else None

    def _update_act(self, act_id: str) -> None:
        index = self._content.index_by_id.get(act_id)
        if index is None:
            return
        row, bounds = self._geometry.row(RowKind.acts), self._content.bounds
        x0, x1 = int(self._geometry.x_of(bounds[index])), int(self._geometry.x_of(bounds[index + 1]))
        if x1 >= HEADER_WIDTH and x0 <= self.width():
            self.update(QRect(x0 - 1, row.top, x1 - x0 + 2, row.height))

    def _source_seconds(self) -> dict[str, float]:
        """The length in seconds of each decoded audio clip's source, by clip id."""
        if self._drafts is None:
            return {}
        found = {clip.id: self._drafts.peaks(clip.id) for clip in self._document.project.audio}
        return {clip_id: peaks.duration_s for clip_id, peaks in found.items() if peaks is not None}

    def _tooltip(self, x: float, y: float) -> tuple[str, QRect]:
        """Name, length and draft state of the act under (x, y), a failed draft's message in full, its
        rating and its quality-check findings; with the act's rectangle, where the text holds. Over an
        audio clip's volume line or fade handle, or a track's mute box, what it is set to."""
        audio = self._mouse.audio_tooltip(x, y)
        if audio is not None:
            return audio
        hit = self._mouse.hit(x, y)
        if hit.kind not in (HitKind.act, HitKind.act_edge):
            return "", QRect()
        row, bounds = self._geometry.row(RowKind.acts), self._content.bounds
        x0, x1 = int(self._geometry.x_of(bounds[hit.index])), int(self._geometry.x_of(bounds[hit.index + 1]))
        zone = QRect(x0, row.top, x1 - x0 + 1, row.height)
        act = self._document.project.acts[hit.index]
        seconds = frames_to_seconds(act.duration_frames, self._document.project.settings.fps)
        lines = [f"{act.name} — {act.duration_frames} frames ({seconds:.2f} s)"]
        if self._drafts is not None:
            status = self._drafts.status(act.id)
            state = str(status.state)
            if state == "failed":
                lines.append(f"Draft failed: {status.message}")
            elif state == "rendering":
                lines.append(f"Rendering draft… {status.progress:.0%}")
            else:
                lines.append({"ready": "Draft up to date", "queued": "Draft queued"}.get(state, state))
            if state == "ready" and status.fallback:
                lines.append(f"Rendered by the built-in motion backend: {status.fallback}")
        rating = shown_rating(act)
        if rating is not None:
            rated = "selected take" if reviewed_take(act) is not None else "act"
            lines.append(f"Rating {'★' * rating}{'☆' * (5 - rating)} ({rated})")
        findings = self._qc_findings.get(act.id, [])
        if findings:
            lines.append("Quality checks" + ("" if self._qc_current else " (out of date)") + ":")
            lines.extend(f"  {str(f.severity).upper()}: {f.message}" for f in findings)
        return "\n".join(lines), zone
