"""Drawing the ruler, the audio tracks and the track headers (the acts track is in painter.py)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from PySide6.QtCore import QLine
from PySide6.QtGui import QPainter

from app.model import AudioClip, Project
from app.model.timebase import frames_to_seconds, timecode
from app.ui.timeline.geometry import HEADER_WIDTH, Row, RowKind, TimelineGeometry, ruler_steps
from app.ui.timeline.rasters import WaveformCache
from app.ui.timeline.style import Fonts, Palette

if TYPE_CHECKING:
    from app.engine.worker import DraftService

#: How far left of the damaged area a ruler label may start and still reach into it (pixels).
_LABEL_REACH_PX = 120


def paint_ruler(
    painter: QPainter,
    row: Row,
    geometry: TimelineGeometry,
    project: Project,
    frames: tuple[float, float],
    fonts: Fonts,
) -> None:
    """Timecode ruler: labelled major ticks (HH:MM:SS, or HH:MM:SS:FF when zoomed to frames), minor ticks."""
    painter.fillRect(HEADER_WIDTH, row.top, geometry.content_width, row.height, Palette.ruler)
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
    """The clips of audio track `row.track`: extent, waveform (or a flat line until decoded), file name."""
    fps = project.settings.fps
    top, height = row.top + 3, row.height - 6
    for clip in project.audio:
        if clip.track != row.track:
            continue
        peaks = drafts.peaks(clip.id) if drafts is not None else None
        source_s = peaks.duration_s if peaks is not None else None
        end = clip.offset_frames + clip_length(clip, fps, total_frames, source_s)
        if end <= frames[0] or clip.offset_frames >= frames[1]:
            continue
        x0, x1 = int(geometry.x_of(clip.offset_frames)), int(geometry.x_of(end))
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
        painter.setFont(fonts.small)
        label_width = fonts.small_metrics.horizontalAdvance(text) + 8
        painter.fillRect(
            left,
            top,
            min(label_width, max(0, x1 - left)),
            fonts.small_metrics.height() + 2,
            Palette.label_ground,
        )
        painter.setPen(Palette.label)
        painter.drawText(left + 4, top + 1 + fonts.small_metrics.ascent(), text)
    painter.fillRect(HEADER_WIDTH, row.bottom - 1, geometry.content_width, 1, Palette.divider)


def clip_length(clip: AudioClip, fps: Fraction, total_frames: int, source_s: float | None) -> int:
    """Frames an audio clip covers: its own length, else to the end of its source (when decoded), else to
    the end of the acts (`total_frames`)."""
    if clip.length_frames is not None:
        return clip.length_frames
    if source_s is not None:
        return max(1, round(source_s * float(fps)) - clip.in_frames)
    return max(1, total_frames - clip.offset_frames)


def paint_headers(
    painter: QPainter, geometry: TimelineGeometry, project: Project, playhead: int, fonts: Fonts
) -> None:
    """Track names left of the tracks; the ruler's header shows the playhead's timecode."""
    painter.fillRect(0, 0, HEADER_WIDTH, geometry.tracks_height, Palette.header)
    painter.setFont(fonts.small)
    for row in geometry.rows:
        if row.kind is RowKind.ruler:
            text = timecode(playhead, project.settings.fps)
        elif row.kind is RowKind.acts:
            text = f"Acts ({len(project.acts)})"
        elif row.kind is RowKind.beats:
            text = f"Beats {project.beats.tempo:.0f}" if project.beats.tempo else "Beats"
        else:
            text = f"A{row.track + 1}"
        painter.setPen(Palette.playhead if row.kind is RowKind.ruler else Palette.header_text)
        painter.drawText(6, row.top + (row.height + fonts.small_metrics.ascent()) // 2 - 1, text)
        painter.fillRect(0, row.bottom - 1, HEADER_WIDTH, 1, Palette.divider)
    painter.fillRect(HEADER_WIDTH - 1, 0, 1, geometry.tracks_height, Palette.divider)
