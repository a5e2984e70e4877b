"""Painting the timeline with QPainter: only what intersects the damaged rectangle, with cached images.

The acts track costs one block per act at most a few pixels wide; acts narrower than that are drawn as one
band per run with their cuts batched into one drawLines call, positions computed with numpy, so a
zoomed-out view of 1,000 acts stays cheap. Beat ticks and waveforms are images drawn with numpy (see
rasters.py); thumbnails and elided names are cached and dropped only when their inputs change: a
thumbnail by the content key of the draft it was made from, so it changes with everything the act's pictures
depend on (template, grade, finish, references, motion), also in a reopened project.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QLine, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPixmap, QPolygonF

from app.model import Act, Project, TransitionKind
from app.model.review_commands import shown_rating
from app.ui.timeline.content import TimelineContent
from app.ui.timeline.geometry import HEADER_WIDTH, Row, RowKind, TimelineGeometry
from app.ui.timeline.rasters import BeatTickCache, WaveformCache
from app.ui.timeline.style import Fonts, Palette
from app.ui.timeline.tracks import paint_audio, paint_headers, paint_ruler

if TYPE_CHECKING:
    from app.engine.worker import ActStatus, DraftService

#: Acts narrower than this (pixels) join a dense band: no name, badge or gap fits anyway.
DENSE_PX = 4.0
#: How strongly a thumbnail of an earlier state of an act (its new draft is on its way) is drawn.
STALE_THUMB_OPACITY = 0.4
NAME_BAR = 17
THUMB_HEIGHT = 44  # fits under the name bar of the acts track
BADGE = 14
STAR = 9  # pixels per review star
KEY_MARK = 4  # half the width of a camera keyframe's diamond (pixels)
KEY_MARK_FILL = QColor("#f4f6f8")
KEY_MARK_EDGE = QColor("#1b1c1f")
_MAX_ELIDED = 4096


@dataclass
class PaintState:
    """Everything one paint needs; `bounds` may be a drag preview rather than the document's positions."""

    project: Project
    content: TimelineContent
    bounds: np.ndarray  # int64 act starts + end of the last act (len = acts + 1)
    selected: frozenset[str]
    playhead: int
    drafts: DraftService | None
    failed_ids: set[str] = field(default_factory=set)
    guide: tuple[int, str] | None = None  # snap target frame and what it is
    moving_index: int | None = None  # act being dragged to a new position
    ghost_start: float = 0.0  # where its ghost is drawn (frames)
    drop_frame: int | None = None  # insertion indicator (reorder or image drop)
    qc_badges: Mapping[str, str] = field(default_factory=dict)  # act id -> worst QC severity, "fail" | "warn"
    qc_current: bool = True  # False: the badges are from checks of an earlier state of the film


class TimelinePainter:
    """Draws a PaintState; owns the caches that survive between paints."""

    def __init__(self, font: QFont) -> None:
        self.fonts = Fonts(font)
        self.waveforms = WaveformCache()
        self._beat_ticks = BeatTickCache()
        self._thumbs: dict[str, tuple[str, QPixmap | None]] = {}  # act id -> (draft key, its thumbnail)
        self._elided: dict[tuple[str, int], str] = {}

    def drop_thumbnails(self, keep: Container[str] = ()) -> None:
        """Forget the cached thumbnails of acts not in `keep` (all by default), to free them. A cached one
        is never out of date: it is keyed by the draft it shows."""
        self._thumbs = {act_id: cached for act_id, cached in self._thumbs.items() if act_id in keep}

    def paint(self, painter: QPainter, rect: QRect, geometry: TimelineGeometry, state: PaintState) -> None:
        """Draw everything intersecting `rect` (widget pixels)."""
        painter.fillRect(rect, Palette.background)
        frames = (
            geometry.frame_at(max(rect.left(), HEADER_WIDTH)) - 1,
            geometry.frame_at(rect.right() + 1) + 1,
        )
        painter.save()
        painter.setClipRect(QRect(HEADER_WIDTH, 0, geometry.content_width, geometry.tracks_height))
        project, fonts = state.project, self.fonts
        for row in geometry.rows:
            if row.top > rect.bottom() or row.bottom <= rect.top():
                continue
            if row.kind is RowKind.ruler:
                paint_ruler(painter, row, geometry, project, frames, fonts)
            elif row.kind is RowKind.acts:
                self._paint_acts(painter, row, geometry, state, frames)
            elif row.kind is RowKind.beats:
                painter.drawImage(
                    HEADER_WIDTH, row.top, self._beat_ticks.image(state.content, geometry, row.height)
                )
                painter.fillRect(HEADER_WIDTH, row.bottom - 1, geometry.content_width, 1, Palette.divider)
            else:
                paint_audio(
                    painter,
                    row,
                    geometry,
                    project,
                    state.content.total_frames,
                    state.drafts,
                    frames,
                    fonts,
                    self.waveforms,
                )
        self._paint_overlays(painter, geometry, state)
        painter.restore()
        if rect.left() < HEADER_WIDTH:
            paint_headers(painter, geometry, project, state.playhead, fonts)

    # -- acts track ---------------------------------------------------------------------------------------

    def _paint_acts(
        self,
        painter: QPainter,
        row: Row,
        geometry: TimelineGeometry,
        state: PaintState,
        frames: tuple[float, float],
    ) -> None:
        bounds = state.bounds
        count = len(bounds) - 1
        first = max(0, int(np.searchsorted(bounds, frames[0], side="right")) - 1)
        end = min(count, int(np.searchsorted(bounds, frames[1], side="left")))
        if first >= end:
            return
        top, height = row.top + 2, row.height - 4
        xs = np.floor(bounds[first : end + 1] * geometry.pixels_per_frame - geometry.scroll_px) + HEADER_WIDTH
        widths = np.diff(xs)
        dense = widths < DENSE_PX
        if dense.any():
            self._paint_dense(painter, state, xs, dense, first, top, height)
        painter.setFont(self.fonts.normal)
        acts = state.project.acts
        transitions = []
        for k in np.flatnonzero(~dense).tolist():
            index = first + k
            self._paint_act(painter, state, index, int(xs[k]), top, int(widths[k]), height)
            spec = acts[index].transition
            if spec.kind is not TransitionKind.cut and spec.frames > 0 and index < count - 1:
                transitions.append(index)
        for index in transitions:
            self._paint_transition(painter, geometry, state, index, top, height)

    def _paint_dense(
        self,
        painter: QPainter,
        state: PaintState,
        xs: np.ndarray,
        dense: np.ndarray,
        first: int,
        top: int,
        height: int,
    ) -> None:
        """Runs of narrow acts as bands with a cut line at most every other pixel; selected and failed acts
        among them stay visible."""
        edges = np.diff(np.concatenate(([0], dense.astype(np.int8), [0])))
        for start, stop in zip(
            np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True
        ):
            painter.fillRect(
                int(xs[start]), top, max(1, int(xs[stop] - xs[start])), height, Palette.act_dense
            )
        cuts = np.unique(xs[:-1][dense].astype(np.int64))
        if len(cuts) > 1:
            cuts = cuts[np.concatenate(([True], np.diff(cuts) >= 2))]
        painter.setPen(Palette.background)
        bottom = top + height - 1
        painter.drawLines([QLine(x, top, x, bottom) for x in cuts.tolist()])
        index_by_id = state.content.index_by_id
        for ids, color in (
            (state.failed_ids, Palette.act_failed),
            (state.selected, Palette.selection_border),
        ):
            for act_id in ids:
                k = index_by_id.get(act_id, -1) - first
                if 0 <= k < len(dense) and dense[k]:
                    painter.fillRect(int(xs[k]), top, max(2, int(xs[k + 1] - xs[k])), height, color)

    def _paint_act(
        self, painter: QPainter, state: PaintState, index: int, x: int, top: int, width: int, height: int
    ) -> None:
        act = state.project.acts[index]
        selected = act.id in state.selected
        status = state.drafts.status(act.id) if state.drafts is not None else None
        kind = str(status.state) if status is not None else ""
        if status is not None and kind == "ready" and status.fallback:
            kind = "fallback"
        if index == state.moving_index:
            fill = Palette.act_dimmed
        elif kind == "failed":
            fill = Palette.act_failed
        elif selected:
            fill = Palette.act_selected
        else:
            fill = Palette.acts[index % 2]
        inner = width - 1  # one dark pixel between neighbours
        painter.fillRect(x, top, inner, height, fill)
        qc = state.qc_badges.get(act.id)
        badges = int(status is not None) + int(qc is not None)  # corner badges, right to left
        if width >= 28:
            painter.fillRect(x, top, inner, NAME_BAR, Palette.name_bar)
            name = self._elide(act.name, inner - 8 - BADGE * badges)
            if name:
                painter.setPen(Palette.act_text)
                painter.drawText(x + 4, top + 2 + self.fonts.normal_metrics.ascent(), name)
        # The published thumbnail shows the act as it is only once its draft is ready; before, it shows an
        # earlier state: dimmed while the new draft is on its way, left out when that draft failed.
        if state.drafts is not None and width >= 40 and kind != "failed":
            pixmap = self._thumbnail(state.drafts, act.id)
            if pixmap is not None:
                shown = min(pixmap.width(), inner - 4)
                if kind not in ("ready", "fallback"):
                    painter.setOpacity(STALE_THUMB_OPACITY)
                painter.drawPixmap(x + 2, top + NAME_BAR + 2, pixmap, 0, 0, shown, pixmap.height())
                painter.setOpacity(1.0)
        if status is not None and width >= 24:
            self._paint_status(painter, status, kind, x, top, inner, height)
        if qc is not None and width >= 24 + BADGE:
            _paint_qc_badge(painter, qc, state.qc_current, x + inner - BADGE * badges, top)
        rating = shown_rating(act)
        if rating is not None and width >= 28:
            self._paint_rating(painter, rating, x, top + height - STAR - 3, inner)
        if act.motion.keyframes and width >= 12:
            _paint_camera_keys(painter, act, x, top + height - KEY_MARK - 1, inner)
        if selected:
            painter.setPen(QPen(Palette.selection_border, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(x + 1, top + 1, inner - 2, height - 2)

    def _paint_status(
        self, painter: QPainter, status: ActStatus, kind: str, x: int, top: int, inner: int, height: int
    ) -> None:
        """Badge in the top-right corner: green up to date, amber up to date but rendered by the fallback
        backend, blue rendering, red failed, hollow grey queued; a progress bar along the bottom while
        rendering."""
        color = Palette.badge.get(kind, Palette.badge["queued"])
        left = x + inner - BADGE
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(color, 2) if kind == "queued" else Qt.PenStyle.NoPen)
        painter.setBrush(Qt.BrushStyle.NoBrush if kind == "queued" else color)
        painter.drawEllipse(left + 2, top + 4, 9, 9)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if kind in ("failed", "fallback"):  # an exclamation mark: look at this act
            mark = Palette.act_text if kind == "failed" else Palette.background
            painter.fillRect(left + 6, top + 6, 1, 3, mark)
            painter.fillRect(left + 6, top + 10, 1, 1, mark)
        elif kind == "rendering":
            bar_top = top + height - 5
            painter.fillRect(x + 2, bar_top, inner - 4, 3, Palette.progress_track)
            painter.fillRect(
                x + 2, bar_top, int((inner - 4) * status.progress), 3, Palette.badge["rendering"]
            )

    def _paint_rating(self, painter: QPainter, rating: int, x: int, top: int, inner: int) -> None:
        """Review stars (1–5 lit of five) in the bottom-left corner; "★n" where five do not fit."""
        if inner < 5 * STAR + 8:
            painter.setFont(self.fonts.small)
            text = f"★{rating}"
            ground = self.fonts.small_metrics.horizontalAdvance(text) + 4
            painter.fillRect(x + 2, top - 1, ground, STAR + 2, Palette.star_ground)
            painter.setPen(Palette.star)
            painter.drawText(x + 4, top + self.fonts.small_metrics.ascent() - 1, text)
            painter.setFont(self.fonts.normal)
            return
        painter.fillRect(x + 2, top - 1, 5 * STAR + 4, STAR + 2, Palette.star_ground)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for star in range(5):
            lit = star < rating
            painter.setPen(QPen(Palette.star, 1))
            painter.setBrush(Palette.star if lit else Qt.BrushStyle.NoBrush)
            painter.drawPolygon(_STAR_SHAPE.translated(x + 4 + STAR * star + STAR / 2, top + STAR / 2))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_transition(
        self,
        painter: QPainter,
        geometry: TimelineGeometry,
        state: PaintState,
        index: int,
        top: int,
        height: int,
    ) -> None:
        """The transition window centred on the cut after act `index`, as a crossed box in the lower half."""
        spec = state.project.acts[index].transition
        start = int(state.bounds[index + 1]) - spec.frames // 2
        x0 = int(geometry.x_of(start))
        x1 = max(x0 + 6, int(geometry.x_of(start + spec.frames)))
        y0, y1 = top + height // 2, top + height - 7
        painter.fillRect(x0, y0, x1 - x0, y1 - y0 + 1, Palette.transition)
        painter.setPen(QPen(Palette.selection_border, 1))
        painter.drawLine(x0, y0, x1, y1)
        painter.drawLine(x0, y1, x1, y0)

    def _thumbnail(self, drafts: DraftService, act_id: str) -> QPixmap | None:
        """The act's latest published thumbnail, scaled; made again whenever a draft with another key is."""
        published = drafts.act_thumbnail(act_id)
        if published is None:
            return None
        cached = self._thumbs.get(act_id)
        if cached is None or cached[0] != published.key:
            cached = self._thumbs[act_id] = (published.key, _to_pixmap(published.image))
        return cached[1]

    def _elide(self, text: str, width: int) -> str:
        key = (text, width // 4)  # a few pixels either way elide the same: more cache hits while trimming
        elided = self._elided.get(key)
        if elided is None:
            if len(self._elided) > _MAX_ELIDED:
                self._elided.clear()
            elided = self.fonts.normal_metrics.elidedText(text, Qt.TextElideMode.ElideRight, key[1] * 4)
            self._elided[key] = elided
        return elided

    # -- overlays -----------------------------------------------------------------------------------------

    def _paint_overlays(self, painter: QPainter, geometry: TimelineGeometry, state: PaintState) -> None:
        """The in/out range's tint, the reorder ghost, the insertion mark, the snap guide and the playhead,
        over all tracks."""
        acts_row = geometry.row(RowKind.acts)
        bottom = geometry.tracks_height
        project = state.project
        marked = project.in_out.clipped(project.duration_frames) if project.in_out is not None else None
        if marked is not None:
            x0, x1 = int(geometry.x_of(marked.start)), int(geometry.x_of(marked.end))
            painter.fillRect(x0, acts_row.top, max(1, x1 - x0), bottom - acts_row.top, Palette.in_out_tint)
        if state.moving_index is not None:
            duration = state.project.acts[state.moving_index].duration_frames
            x = int(geometry.x_of(state.ghost_start))
            width = max(3, int(duration * geometry.pixels_per_frame))
            painter.fillRect(x, acts_row.top + 6, width, acts_row.height - 12, Palette.ghost)
        if state.drop_frame is not None:
            x = int(geometry.x_of(state.drop_frame))
            painter.fillRect(x - 1, acts_row.top, 3, acts_row.height, Palette.guide)
        if state.guide is not None:
            frame, kind = state.guide
            x = int(geometry.x_of(frame))
            painter.setPen(QPen(Palette.guide, 1, Qt.PenStyle.DashLine))
            painter.drawLine(x, 0, x, bottom)
            painter.setFont(self.fonts.small)
            painter.drawText(x + 4, bottom - 4, kind)
        x = int(geometry.x_of(state.playhead))
        painter.fillRect(x, 0, 1, bottom, Palette.playhead)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Palette.playhead)
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 7, 0), QPointF(x + 0.5, 9)]))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)


def _star_shape(radius: float) -> QPolygonF:
    """A five-pointed star centred on (0, 0), pointing up."""
    points = []
    for corner in range(10):
        reach = radius if corner % 2 == 0 else radius * 0.45
        angle = math.pi / 2 + corner * math.pi / 5
        points.append(QPointF(reach * math.cos(angle), -reach * math.sin(angle)))
    return QPolygonF(points)


_STAR_SHAPE = _star_shape(STAR * 0.48)
_KEY_SHAPE = QPolygonF(
    [QPointF(0, -KEY_MARK), QPointF(KEY_MARK, 0), QPointF(0, KEY_MARK), QPointF(-KEY_MARK, 0)]
)
_WARNING_SHAPE = QPolygonF([QPointF(6, 0), QPointF(12, 11), QPointF(0, 11)])


def _paint_qc_badge(painter: QPainter, severity: str, current: bool, left: int, top: int) -> None:
    """A warning triangle, red for a failed check and amber for a warning; hollow when out of date."""
    color = Palette.qc.get(severity, Palette.qc["warn"])
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(color, 1.5))
    painter.setBrush(color if current else Qt.BrushStyle.NoBrush)
    painter.drawPolygon(_WARNING_SHAPE.translated(left + 1, top + 3))
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.fillRect(left + 7, top + 7, 1, 4, Palette.background if current else color)
    painter.fillRect(left + 7, top + 12, 1, 1, Palette.background if current else color)


def _paint_camera_keys(painter: QPainter, act: Act, x: int, y: int, inner: int) -> None:
    """A diamond centred at height `y` at each camera key inside the act (keys outside it, kept by a split
    or a trim, have no frame of this act to mark)."""
    scale = inner / act.duration_frames
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(KEY_MARK_EDGE, 1))
    painter.setBrush(KEY_MARK_FILL)
    for key in act.motion.keyframes:
        if 0 <= key.frame < act.duration_frames:
            centre = x + (key.frame + 0.5) * scale
            painter.drawPolygon(_KEY_SHAPE.translated(centre, y))
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)


def _to_pixmap(rgb: np.ndarray | None) -> QPixmap | None:
    """A thumbnail (RGB uint8, H×W×3) scaled to the thumbnail height of the acts track."""
    if rgb is None or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        return None
    data = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, width * 3, QImage.Format.Format_RGB888)
    scaled = image.scaledToHeight(THUMB_HEIGHT, Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(scaled)  # a copy: `data` may go away after this
