"""The built-in CPU `motion` backend: camera moves and flow morphs over the keyframes (always available)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from app.engine.backends.base import MotionRequest
from app.engine.backends.motion import MotionClip
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import Clip, TrimmedClip
from app.engine.temporal import RetimedClip


class BuiltinMotionBackend:
    name = "motion"
    revision = "1"
    uses_prompt = False  # camera moves over the keyframe: words change nothing
    uses_last_frame = True  # morphs into the next act's keyframe

    def animate(
        self, request: MotionRequest, cancel: CancelToken | None = None, progress: ProgressFn | None = None
    ) -> Clip:
        # Frames are computed on demand, so there is nothing to cancel here; the exporter checks per frame.
        # With an end keyframe (first-and-last-frame continuity) the camera move morphs into it.
        images = list(request.keyframes)
        if request.last_keyframe is not None:
            images.append(request.last_keyframe)
        rate = request.generation_fps
        if rate is None or rate == request.fps:
            return MotionClip(
                images=images,
                fit=request.fit,
                settings=request.motion,
                length=request.length,
                width=request.width,
                height=request.height,
                seed=request.seed,
                reactivity=request.reactivity,
            )
        # Motion made at another rate (animation "on twos", a choppy VHS look, a dreamy blend): the same move
        # over the same time, sampled at `rate`, then converted to the project rate.
        length = math.ceil(request.length * rate / request.fps) + 1
        source = MotionClip(
            images=images,
            fit=request.fit,
            settings=request.motion,
            length=length,
            width=request.width,
            height=request.height,
            seed=request.seed,
            reactivity=_resampled(request.reactivity, length, request.fps / rate),
            key_step=float(request.fps / rate),  # camera keys are in act frames at the project rate
        )
        return TrimmedClip(
            RetimedClip(source, rate, request.fps, method=request.interpolation), request.length
        )


def _resampled(envelope: np.ndarray | None, length: int, step: Fraction) -> np.ndarray | None:
    """An envelope per project frame read at every `step`-th frame (`length` values)."""
    if envelope is None:
        return None
    positions = np.minimum(np.arange(length) * float(step), len(envelope) - 1).round().astype(int)
    return np.ascontiguousarray(envelope[positions])
