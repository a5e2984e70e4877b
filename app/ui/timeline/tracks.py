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
    HEADER_WIDTH,
    Row,
    RowKind,
    TimelineGeometry,
    clip_band,
    fade_handle_rect,
    fade_ramp,
    has_fade_handles,
    label_room,
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
#: The in/out range along the ruler's bottom, below its labels: the band's height, the brackets' height and
#: the length of their arms (pixels).
IN_OUT_BAND_PX = 3
IN_OUT_BRACKET_PX = 8
IN_OUT_ARM_PX = 7


def paint_ruler(
    painter: QPainter,
    row: Row,
    geometry: TimelineGeometry,
    project: Project,
    frames: tuple[float, float],
    fonts: Fonts,
) -> None:
    """Timecode ruler: labelled major ticks (HH:MM:SS, or HH:MM:SS:FF when zoomed to frames), minor ticks,
    and the in/out range: tinted, with a band and brackets at its in and out points along the ruler's
    bottom, below the labels."""
    painter.fillRect(HEADER_WIDTH, row.top, geometry.content_width, row.height, Palette.ruler)
    marked = project.in_out.clipped(project.duration_frames) if project.in_out is not None else None
    bottom = row.bottom - 1
    edges = None  # the in and out points' pixels
    if marked is not None and marked.end >= frames[0] and marked.start <= frames[1]:
        edges = int(geometry.x_of(marked.start)), int(geometry.x_of(marked.end))
        x0, width = edges[0], max(1, edges[1] - edges[0])
        painter.fillRect(x0, row.top, width, row.height, Palette.in_out_range)
        painter.fillRect(x0, bottom - IN_OUT_BAND_PX, width, IN_OUT_BAND_PX, Palette.in_out_band)
    fps = project.settings.fps
    nominal = max(1, round(fps))
    major, minor = ruler_steps(nominal, geometry.pixels_per_frame)
    first = int(max(0.0, frames[0] - geometry.frames_in(_LABEL_REACH_PX)) // minor) * minor
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
    if edges is not None:
        _paint_in_out_brackets(painter, *edges, bottom)
    painter.setFont(fonts.small)
    painter.setPen(Palette.label)
    seconds_only = major % nominal == 0
    baseline = row.top + 4 + fonts.small_metrics.ascent()
    for x, frame in labels:
        text = timecode(frame, fps)
        painter.drawText(x + 4, baseline, text[:-3] if seconds_only else text)
    painter.fillRect(HEADER_WIDTH, bottom, geometry.content_width, 1, Palette.divider)


def _paint_in_out_brackets(painter: QPainter, x0: int, x1: int, bottom: int) -> None:
    """A "[" at the in point's pixel x0 and a "]" ending at the out point's x1, from the ruler's bottom
    (pixel row `bottom`, the divider) up to below its labels. Their arms point into the range, so the out
    bracket shows beside a playhead standing on the last marked frame."""
    top = bottom - IN_OUT_BRACKET_PX
    arm = min(IN_OUT_ARM_PX, max(2, (x1 - x0) // 2))
    for stem, arm_left in ((x0, x0), (x1 - 2, x1 - arm)):
        painter.fillRect(stem, top, 2, IN_OUT_BRACKET_PX, Palette.in_out_edge)
        painter.fillRect(arm_left, top, arm, 2, Palette.in_out_edge)
        painter.fillRect(arm_left, bottom - 2, arm, 2, Palette.in_out_edge)


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
        _paint_label(painter, top, geometry, span, text, fonts)
        _paint_levels(painter, row, geometry, span)  # over the name: the handles stay in reach
    painter.setOpacity(1.0)
    painter.fillRect(HEADER_WIDTH, row.bottom - 1, geometry.content_width, 1, Palette.divider)


def _paint_label(
    painter: QPainter, top: int, geometry: TimelineGeometry, span: AudioSpan, text: str, fonts: Fonts
) -> None:
    """A clip's name at its top, between its fade handles and clear of its fade ramps, elided to the room
    there (none where not even a letter fits)."""
    metrics = fonts.small_metrics
    room_left, room_right = label_room(geometry, span)
    left = round(room_left)
    room = int(room_right) - left
    text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room - 8)
    if text in ("", "…"):
        return
    painter.setFont(fonts.small)
    width = min(metrics.horizontalAdvance(text) + 8, room)
    painter.fillRect(left, top, width, metrics.height() + 2, Palette.label_ground)
    painter.setPen(Palette.label)
    painter.drawText(left + 4, top + 1 + metrics.ascent(), text)


def _paint_levels(painter: QPainter, row: Row, geometry: TimelineGeometry, span: AudioSpan) -> None:
    """A clip's fade ramps (shaded triangles up to its volume line), its volume line and its two fade
    handles."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for fade_in in (True, False):
        ramp = fade_ramp(geometry, row, span, fade_in)
        if ramp is None:
            continue
        # Shaded between the ramp and the volume line: the part of the sound the fade takes away.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Palette.fade)
        painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in ramp]))
        painter.setPen(QPen(Palette.fade_line, 1))
        painter.drawLine(QPointF(*ramp[0]), QPointF(*ramp[1]))
    line = volume_y(row, span.gain_db)
    painter.setPen(QPen(Palette.volume, 1.5))
    painter.drawLine(QPointF(geometry.x_of(span.start), line), QPointF(geometry.x_of(span.end), line))
    if has_fade_handles(geometry, span):
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(Palette.fade_handle_border, 1))
        painter.setBrush(Palette.fade_handle)
        sides = (True, False) if span.length_known else (True,)
        for fade_in in sides:
            left, top, width, height = fade_handle_rect(geometry, row, span, fade_in)
            painter.drawRect(QRectF(left, top, width - 1, height - 1))  # the pen adds the last pixel
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
