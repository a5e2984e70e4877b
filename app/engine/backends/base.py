"""The interface every motion backend implements (built-in CPU motion, diffusers image-to-video, …)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np

from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import Clip
from app.model.act import FitMode, InterpolationMethod, MotionSettings


@dataclass(frozen=True)
class MotionRequest:
    """Everything a backend needs to animate one act (a frozen snapshot; safe to hand to a worker thread)."""

    keyframes: Sequence[np.ndarray]  # RGB uint8 at their own resolution, at least one
    fit: FitMode
    motion: MotionSettings
    length: int  # act body in frames at `fps`
    width: int
    height: int
    fps: Fraction
    seed: int
    prompt: str = ""
    negative_prompt: str = ""
    reactivity: np.ndarray | None = None  # onset envelope (0..1) per body frame, for audio-reactive motion
    # Where the act should end up (the next act's keyframe) for first-and-last-frame generation, else None.
    last_keyframe: np.ndarray | None = None
    steps: int | None = None  # denoising steps for generative backends (None: the model's default)
    guidance: float | None = None  # classifier-free guidance for generative backends (None: model default)
    # Make the motion at this rate and convert it to `fps` with `interpolation` (None: the backend's own
    # rate — the project rate for the built-in backend, the trained rate for a model).
    generation_fps: Fraction | None = None
    interpolation: InterpolationMethod = InterpolationMethod.flow


class MotionBackend(Protocol):
    #: Stable name used in projects and on the command line.
    name: str
    #: Changes whenever the backend's output for the same request changes (part of every cache key).
    revision: str
    #: Whether the prompts change its pictures (cache keys leave out what a backend ignores).
    uses_prompt: bool
    #: Whether it can be pinned to a last frame (`MotionRequest.last_keyframe`).
    uses_last_frame: bool

    def animate(
        self, request: MotionRequest, cancel: CancelToken | None = None, progress: ProgressFn | None = None
    ) -> Clip:
        """A clip of `request.length` frames at `request.fps` and the requested size.

        Generative backends do their work here (reporting `progress` per denoising step and stopping at
        `cancel`); the built-in backend returns a clip that computes frames on demand."""
        ...
