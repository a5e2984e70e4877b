"""Clips: random-access frame sources for one act at the project rate.

Every stage after motion works on clips. `frame(i)` accepts any integer: indices outside [0, length) are
handles that transitions centred on a cut read from both neighbouring acts; a clip without real handle
material clamps to its first or last frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from app.errors import RenderError


class Clip(Protocol):
    length: int  # frames in the act body

    def frame(self, index: int) -> np.ndarray:
        """RGB uint8 (height, width, 3) frame at body index `index` (any int)."""
        ...


class GradedClip:
    """Applies a per-frame function (the colour grade) to another clip."""

    def __init__(self, source: Clip, grade: Callable[[np.ndarray], np.ndarray]) -> None:
        self._source = source
        self._grade = grade
        self.length = source.length

    def frame(self, index: int) -> np.ndarray:
        return self._grade(self._source.frame(index))


class TrimmedClip:
    """A clip shown with another body length (frames past it are the out-handle)."""

    def __init__(self, source: Clip, length: int) -> None:
        self._source = source
        self.length = length

    def frame(self, index: int) -> np.ndarray:
        return self._source.frame(index)


class NotedClip:
    """A clip with a note for the user about how it was made (e.g. a degraded generation)."""

    def __init__(self, source: Clip, note: str) -> None:
        self._source = source
        self.length = source.length
        self.note = note

    def frame(self, index: int) -> np.ndarray:
        return self._source.frame(index)


class LazyClip:
    """Builds its clip on first use, so a long render starts at once and reports progress act by act."""

    def __init__(self, build: Callable[[], Clip], length: int) -> None:
        self._build = build
        self._clip: Clip | None = None
        self.length = length

    def frame(self, index: int) -> np.ndarray:
        if self._clip is None:
            self._clip = self._build()
        return self._clip.frame(index)


# -- draft proxies on disk -----------------------------------------------------------------------------------

DRAFT_JPEG_QUALITY = 88
#: Generated frames kept for final renders: visually lossless at a tenth of PNG's size.
FINAL_JPEG_QUALITY = 95


def write_frames(
    folder: Path,
    clip: Clip,
    first: int,
    count: int,
    on_frame: Callable[[], None] | None = None,
    quality: int = DRAFT_JPEG_QUALITY,
) -> None:
    """Store frames [first, first + count) of `clip` as numbered JPEG files (random access, compact)."""
    for offset in range(count):
        image = clip.frame(first + offset)
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise RenderError(f"could not encode draft frame {first + offset}")
        (folder / f"{offset:06d}.jpg").write_bytes(data.tobytes())
        if on_frame is not None:
            on_frame()
    (folder / "range.txt").write_text(f"{first} {count}\n")


class StoredClip:
    """A clip read back from `write_frames`; indices outside the stored range clamp to its ends."""

    def __init__(self, folder: Path, length: int) -> None:
        first, count = (int(v) for v in (folder / "range.txt").read_text().split())
        self._folder = folder
        self._first = first
        self._count = count
        self.length = length

    def frame(self, index: int) -> np.ndarray:
        offset = min(max(index - self._first, 0), self._count - 1)
        data = np.fromfile(self._folder / f"{offset:06d}.jpg", dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if image is None:
            raise RenderError(f"draft frame {offset} in {self._folder} is damaged")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
