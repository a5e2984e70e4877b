"""The temporal stage: convert a backend's native frame rate to the project rate.

In-between frames come from optical-flow interpolation (app.engine.flow), which keeps moving edges sharp
where a crossfade would ghost them. Flow is computed once per pair of neighbouring source frames and reused
for every output frame between them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from app.engine.clip import Clip
from app.engine.flow import FlowInterpolator, crossfade

#: Output frames closer than this (in source frames) to a source frame reuse it instead of interpolating.
_SNAP = 1e-3


class RetimedClip:
    """Shows `source` (a clip at `source_fps`) at `target_fps`, stretched or not to `length` target frames.

    With `length` None, playback speed is unchanged and the length follows from the duration. Given a
    length, the source's body is spread over exactly that many target frames (used to fit a generated clip
    to the act's duration).
    """

    def __init__(
        self,
        source: Clip,
        source_fps: Fraction,
        target_fps: Fraction,
        length: int | None = None,
        method: str = "flow",
    ) -> None:
        if method not in ("flow", "blend", "nearest"):
            raise ValueError(f"unknown interpolation method {method!r} (flow, blend or nearest)")
        self._source = source
        self._method = method
        natural = math.ceil(source.length * target_fps / source_fps)
        self.length = natural if length is None else length
        # source frames advanced per target frame
        self._step = (
            Fraction(source_fps, target_fps)
            if length is None
            else Fraction(max(source.length - 1, 0), max(self.length - 1, 1))
        )
        self._pair: tuple[int, FlowInterpolator] | None = None

    def source_position(self, index: int) -> float:
        """Where target frame `index` falls on the source, in (fractional) source frames."""
        return float(index * self._step)

    def frame(self, index: int) -> np.ndarray:
        position = self.source_position(index)
        base = math.floor(position)
        t = position - base
        if t < _SNAP or self._method == "nearest":
            return self._source.frame(base + (1 if t >= 0.5 and self._method == "nearest" else 0))
        if t > 1 - _SNAP:
            return self._source.frame(base + 1)
        a, b = self._source.frame(base), self._source.frame(base + 1)
        if self._method == "blend":
            return crossfade(a, b, t)
        if self._pair is None or self._pair[0] != base:
            self._pair = (base, FlowInterpolator(a, b))
        return self._pair[1].frame_at(t)
