"""Drawing the ruler, the audio tracks and the track headers (the acts track is in painter.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLine, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QPainter, QPen, QPolygonF

from app.model import Project
from app.model.audio_commands import track_label
from app.model.timebase import frames_to_seconds, timecode
from app.ui.timeline.content import AudioSpan, audio_span
from app.ui.timeline.geometry import (
    FADE_HANDLE_PX,
    HEADER_WIDTH,
    Row,
    RowKind,
    TimelineGeometry,
    clip_band,
    fade_handle_x,
    has_fade_handles,
    mute_box,
    ruler_steps,
    volume_y,
)
from app.ui.timeline.rasters import WaveformCache
from app.ui.timeline.style import Fonts, Palette

if TYPE_CHECKING:
    from app.engine.worker import DraftService

#: How far left of the damaged area a ruler label may start and still reach into it (pixels).
_LABEL_REACH_PX = 120
#: How strongly the clips of a muted audio track are drawn.
MUTED_OPACITY = 0.4


def paint_ruler(
    painter: QPainter,
    row: Row,
    geometry: TimelineGeometry,
    project: Project,
    frames: tuple[float, float],
    fonts: Fonts,
) -> None:
    """Timecode ruler: labelled major ticks (HH:MM:SS, or HH:MM:SS:FF when zoomed to frames), minor ticks,
    and the in/out range as a band with brackets at its in and out points."""
    painter.fillRect(HEADER_WIDTH, row.top, geometry.content_width, row.height, Palette.ruler)
    marked = project.in_out.clipped(project.duration_frames) if project.in_out is not None else None
    if marked is not None and marked.end >= frames[0] and marked.start <= frames[1]:
        x0, x1 = int(geometry.x_of(marked.start)), int(geometry.x_of(marked.end))
        painter.fillRect(x0, row.top, max(1, x1 - x0), row.height, Palette.in_out_range)
        for x in (x0, x1 - 2):
            painter.fillRect(x, row.top, 2, row.height, Palette.in_out_edge)
    fps = project.settings.fps
    nominal = max(1, round(fps))
    major, minor = ruler_steps(nominal, geometry.pixels_per_frame)
    first = int(max(0.0, frames[0] - geometry.frames_in(_LABEL_REACH_PX)) // minor) * minor
    bottom = row.bottom - 1
    lines, labels = [], []
    for frame in range(first, int(frames[1]) + 1, minor):
        x = int(geometry.x_of(frame))
        if frame % major == 0:
            lines.append(QLine(x, row.top + 6, x, bottom))
            labels.append((x, frame))
        else:
            lines.append(QLine(x, bottom - 5, x, bottom))
    painter.setPen(Palette.tick)
    painter.drawLines(lines)
    painter.setFont(fonts.small)
    painter.setPen(Palette.label)
    seconds_only = major % nominal == 0
    baseline = row.top + 4 + fonts.small_metrics.ascent()
    for x, frame in labels:
        text = timecode(frame, fps)
        painter.drawText(x + 4, baseline, text[:-3] if seconds_only else text)
    painter.fillRect(HEADER_WIDTH, bottom, geometry.content_width, 1, Palette.divider)


def paint_audio(
    painter: QPainter,
    row: Row,
    geometry: TimelineGeometry,
    project: Project,
    total_frames: int,
    drafts: DraftService | None,
    frames: tuple[float, float],
    fonts: Fonts,
    waveforms: WaveformCache,
) -> None:
    """The clips of audio track `row.track`: extent, waveform (or a flat line until decoded), file name, fade
    ramps with their handles and the volume line; dimmed when the track is muted."""
    fps = project.settings.fps
    top, height = clip_band(row)
    for clip in project.audio:
        if clip.track != row.track:
            continue
        peaks = drafts.peaks(clip.id) if drafts is not None else None
        span = audio_span(clip, project, total_frames, peaks.duration_s if peaks is not None else None)
        if span.end <= frames[0] or span.start >= frames[1]:
            continue
        painter.setOpacity(MUTED_OPACITY if span.muted else 1.0)
        x0, x1 = int(geometry.x_of(span.start)), int(geometry.x_of(span.end))
        painter.fillRect(x0, top, max(1, x1 - x0), height, Palette.audio_clip)
        # Only the part on screen becomes an image: a long clip at a high zoom stays cheap.
        left, right = max(x0, HEADER_WIDTH), min(x1, geometry.width)
        if peaks is not None and right > left:
            into_clip = (geometry.frame_at(left) - clip.offset_frames) / float(fps)
            start_s = frames_to_seconds(clip.in_frames, fps) + into_clip
            end_s = start_s + geometry.frames_in(right - left) / float(fps)
            painter.drawImage(
                left, top, waveforms.image(clip.id, peaks, start_s, end_s, right - left, height)
            )
        elif right > left:
            painter.fillRect(left, top + height // 2, right - left, 1, Palette.placeholder)
        name = clip.media.path.rsplit("/", 1)[-1]
        text = f"{name} — decoding…" if drafts is not None and peaks is None else name
        if span.muted:
            text += " (muted)"
        painter.setFont(fonts.small)
        label_width = fonts.small_metrics.horizontalAdvance(text) + 8
        # Right of the fade-in handle, which sits in the top left corner of a clip without a fade-in.
        label_left = left + FADE_HANDLE_PX + 2 if left == x0 else left
        painter.fillRect(
            label_left,
            top,
            min(label_width, max(0, x1 - label_left)),
            fonts.small_metrics.height() + 2,
            Palette.label_ground,
        )
        painter.setPen(Palette.label)
        painter.drawText(label_left + 4, top + 1 + fonts.small_metrics.ascent(), text)
        _paint_levels(painter, row, geometry, span)  # over the name: the handles stay in reach
    painter.setOpacity(1.0)
    painter.fillRect(HEADER_WIDTH, row.bottom - 1, geometry.content_width, 1, Palette.divider)


def _paint_levels(painter: QPainter, row: Row, geometry: TimelineGeometry, span: AudioSpan) -> None:
    """A clip's fade ramps (shaded triangles), its volume line and its two fade handles."""
    top, height = clip_band(row)
    bottom = top + height - 1
    x0, x1 = geometry.x_of(span.start), geometry.x_of(span.end)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    ramps = []
    if span.fade_in:
        ramps.append((x0, geometry.x_of(span.start + span.fade_in)))
    if span.fade_out:
        ramps.append((x1, geometry.x_of(span.end - span.fade_out)))
    for edge, inner in ramps:
        # Shaded above the ramp: the part of the sound the fade takes away.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Palette.fade)
        painter.drawPolygon(QPolygonF([QPointF(edge, top), QPointF(inner, top), QPointF(edge, bottom)]))
        painter.setPen(QPen(Palette.fade_line, 1))
        painter.drawLine(QPointF(edge, bottom), QPointF(inner, top))
    line = volume_y(row, span.gain_db)
    painter.setPen(QPen(Palette.volume, 1.5))
    painter.drawLine(QPointF(x0, line), QPointF(x1, line))
    if has_fade_handles(geometry, span):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(Palette.fade_handle_border, 1))
        painter.setBrush(Palette.fade_handle)
        sides = (True, False) if span.length_known else (True,)
        for fade_in in sides:
            centre = fade_handle_x(geometry, span, fade_in)
            half = FADE_HANDLE_PX / 2
            painter.drawRect(QRectF(centre - half, top, FADE_HANDLE_PX - 1, FADE_HANDLE_PX - 1))
    painter.restore()


def paint_headers(
    painter: QPainter, geometry: TimelineGeometry, project: Project, playhead: int, fonts: Fonts
) -> None:
    """Track names left of the tracks, with a mute toggle (M) on each audio track; the ruler's header shows
    the playhead's timecode."""
    painter.fillRect(0, 0, HEADER_WIDTH, geometry.tracks_height, Palette.header)
    painter.setFont(fonts.small)
    metrics = fonts.small_metrics
    for row in geometry.rows:
        if row.kind is RowKind.ruler:
            text = timecode(playhead, project.settings.fps)
        elif row.kind is RowKind.acts:
            text = f"Acts ({len(project.acts)})"
        elif row.kind is RowKind.beats:
            text = f"Beats {project.beats.tempo:.0f}" if project.beats.tempo else "Beats"
        else:
            left = _paint_mute_box(painter, row, project)
            text = track_label(project, row.track) if row.track < len(project.audio_tracks) else ""
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, left - 10)
        painter.setPen(Palette.playhead if row.kind is RowKind.ruler else Palette.header_text)
        painter.drawText(6, row.top + (row.height + metrics.ascent()) // 2 - 1, text)
        painter.fillRect(0, row.bottom - 1, HEADER_WIDTH, 1, Palette.divider)
    painter.fillRect(HEADER_WIDTH - 1, 0, 1, geometry.tracks_height, Palette.divider)


def _paint_mute_box(painter: QPainter, row: Row, project: Project) -> int:
    """The M toggle of an audio track's header: filled when the track is muted, outlined otherwise. Returns
    its left edge."""
    left, top, side = mute_box(row)
    muted = row.track < len(project.audio_tracks) and project.audio_tracks[row.track].muted
    box = QRect(left, top, side, side)
    if muted:
        painter.fillRect(box, Palette.mute_on)
    painter.setPen(Palette.mute_on if muted else Palette.tick)
    painter.drawRect(box.adjusted(0, 0, -1, -1))
    painter.setPen(Palette.mute_text if muted else Palette.header_text)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "M")
    return left
