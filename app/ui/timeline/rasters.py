"""Track contents drawn with numpy into images (one column per pixel), cached until the view changes.

Thousands of beat ticks or waveform columns would cost one QPainter call each from Python; as arrays they
cost a few vectorised operations and one drawImage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QColor, QImage

from app.ui.timeline.content import BeatStyle, TimelineContent
from app.ui.timeline.geometry import TimelineGeometry
from app.ui.timeline.style import Palette

if TYPE_CHECKING:
    from app.engine.audio.peaks import WaveformPeaks


def _pixel(color: QColor) -> np.uint32:
    """The colour as one RGBA8888 pixel in memory order."""
    rgba = np.array([color.red(), color.green(), color.blue(), color.alpha()], dtype=np.uint8)
    return rgba.view(np.uint32)[0]


def _image(pixels: np.ndarray) -> QImage:
    """A QImage copy of a (height, width) uint32 array of RGBA8888 pixels."""
    height, width = pixels.shape
    return QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


class WaveformCache:
    """The last waveform image of each clip, reused while the view neither scrolls nor zooms."""

    def __init__(self) -> None:
        self._pixel = _pixel(Palette.wave)
        self._images: dict[str, tuple[tuple[object, ...], QImage]] = {}

    def clear(self) -> None:
        self._images.clear()

    def image(
        self, clip_id: str, peaks: WaveformPeaks, start_s: float, end_s: float, width: int, height: int
    ) -> QImage:
        """Source seconds [start_s, end_s) as a `width` × `height` image, one column per pixel."""
        key = (peaks, round(start_s, 6), round(end_s, 6), width, height)
        cached = self._images.get(clip_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        low, high = peaks.columns(start_s, end_s, width)
        middle = (height - 1) / 2
        tops = np.clip(np.rint(middle - np.asarray(high) * middle), 0, height - 1).astype(np.int16)
        bottoms = np.clip(np.rint(middle - np.asarray(low) * middle), 0, height - 1).astype(np.int16)
        rows = np.arange(height, dtype=np.int16)[:, None]
        pixels = np.where((rows >= tops) & (rows <= bottoms), self._pixel, np.uint32(0))
        image = _image(pixels)
        self._images[clip_id] = (key, image)
        return image


#: Per beat style: colour, first row of the tick (from the row's top), width in pixels.
_TICKS = (
    (BeatStyle.beat, Palette.beat, 12, 1),
    (BeatStyle.downbeat, Palette.downbeat, 4, 1),
    (BeatStyle.manual, Palette.manual_beat, 12, 2),
)


_MIN_BEAT_SPACING_PX = 4


class BeatTickCache:
    """The beat track's ticks for the current zoom and scroll, as one image the width of the timeline."""

    def __init__(self) -> None:
        self._content: TimelineContent | None = None
        self._key: tuple[float, float, int, int] | None = None
        self._image = QImage()

    def image(self, content: TimelineContent, geometry: TimelineGeometry, height: int) -> QImage:
        """Ticks of every beat on screen; x = 0 of the image is the first pixel right of the track headers."""
        key = (geometry.pixels_per_frame, geometry.scroll_px, geometry.content_width, height)
        if content is self._content and key == self._key:
            return self._image
        width = geometry.content_width
        pixels = np.zeros((height, width), dtype=np.uint32)
        frames = content.beat_frame_array
        xs = np.floor(frames * geometry.pixels_per_frame - geometry.scroll_px).astype(np.int64)
        # Beats closer than a few pixels would merge into a solid band: then only downbeats (and the user's
        # own markers) are drawn, as a DAW does when zoomed out.
        mean_gap = (frames[-1] - frames[0]) / (len(frames) - 1) if len(frames) > 1 else 0.0
        crowded = 0 < mean_gap * geometry.pixels_per_frame < _MIN_BEAT_SPACING_PX
        for style, color, top, thickness in _TICKS:
            if crowded and style is BeatStyle.beat:
                continue
            columns = xs[content.beat_style_array == style]
            for offset in range(thickness):
                shifted = columns + offset
                pixels[top : height - 2, shifted[(shifted >= 0) & (shifted < width)]] = _pixel(color)
        self._content, self._key, self._image = content, key, _image(pixels)
        return self._image
