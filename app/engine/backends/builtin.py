"""The built-in CPU `motion` backend: camera moves and flow morphs over the keyframes (always available)."""

from __future__ import annotations

from app.engine.backends.base import MotionRequest
from app.engine.backends.motion import MotionClip
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import Clip


class BuiltinMotionBackend:
    name = "motion"
    revision = "1"

    def animate(
        self, request: MotionRequest, cancel: CancelToken | None = None, progress: ProgressFn | None = None
    ) -> Clip:
        # Frames are computed on demand, so there is nothing to cancel here; the exporter checks per frame.
        # With an end keyframe (first-and-last-frame continuity) the camera move morphs into it.
        images = list(request.keyframes)
        if request.last_keyframe is not None:
            images.append(request.last_keyframe)
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
