"""Diffusers backends: registered image-to-video models behind the MotionBackend interface, and the still
image models (text-to-image keyframes, image-to-image refinement) the keyframe stage uses.

Every generation goes through `generate()`: the model comes from the pool (kept loaded between jobs), the
memory ladder retries an out-of-memory run with a stricter policy, each denoising step reports progress and
checks the cancel token — raising there is the only way to stop a diffusers call before it decodes — and on
any exit the pipeline's offload hooks are freed. Act fields map onto pipeline arguments here: duration →
frame count on the model's rule at its native rate, size → the nearest valid multiple within the model's
trained area, motion intensity → SVD's motion bucket or a camera phrase in the prompt of text-guided models.
A CPU generator seeded with the act's seed makes the frames reproducible on the same device and dtype.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.engine.backends.base import MotionRequest
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import Clip, NotedClip, TrimmedClip
from app.engine.keyframe import fit_image
from app.engine.models.catalog import (
    ADAPTER_REVISION,
    Family,
    PipelineSpec,
    Task,
    generation_size,
    pipeline_spec,
)
from app.engine.models.memory import MemoryPolicy, decode_chunk_size, run_with_memory_ladder
from app.engine.models.pool import ModelPool, default_pool
from app.engine.models.registry import ModelEntry
from app.engine.temporal import RetimedClip
from app.errors import InputError, RenderError
from app.model import CameraMove, FitMode
from app.model.act import CameraKey, MotionSettings

#: The lower-resolution rung of the memory ladder generates at this fraction of each side.
_LOW_RESOLUTION_SCALE = 0.5

_CAMERA_PHRASES: Mapping[CameraMove, str] = {
    CameraMove.static: "static camera",
    CameraMove.zoom_in: "camera slowly zooms in",
    CameraMove.zoom_out: "camera slowly zooms out",
    CameraMove.pan_left: "camera pans left",
    CameraMove.pan_right: "camera pans right",
    CameraMove.pan_up: "camera tilts up",
    CameraMove.pan_down: "camera tilts down",
    CameraMove.rotate_cw: "camera rolls clockwise",
    CameraMove.rotate_ccw: "camera rolls counter-clockwise",
    CameraMove.dolly_in: "camera dollies forward",
    CameraMove.dolly_out: "camera dollies backward",
    CameraMove.drift: "gentle handheld drift",
}
#: The least change a keyframed move's description mentions: zoom doublings, frame fractions, degrees.
_KEYED_MIN_ZOOM = 0.05
_KEYED_MIN_SHIFT = 0.02
_KEYED_MIN_ROLL = 2.0


def motion_prompt(prompt: str, motion: MotionSettings, length: int) -> str:
    """The act's prompt with its camera move spelled out for text-guided video models. A keyframed camera
    is described by its overall move over the act's `length` frames (see `keyframed_move_phrase`)."""
    if motion.keyframes:
        phrase = keyframed_move_phrase(motion.key_at(0), motion.key_at(max(0, length - 1)))
    else:
        intensity = motion.intensity
        pace = "subtle" if intensity < 0.34 else "dynamic" if intensity > 0.67 else "smooth"
        phrase = f"{pace} motion, {_CAMERA_PHRASES[motion.camera]}"
    return f"{prompt.strip()}, {phrase}" if prompt.strip() else phrase


def keyframed_move_phrase(start: CameraKey, end: CameraKey) -> str:
    """How the camera goes from pose `start` (the act's first frame) to `end` (its last), in the words of
    the preset moves: "camera slowly zooms in and pans right". Changes too small to see are left out."""
    zoom = math.log2(end.zoom / start.zoom)  # doublings of the zoom
    pan, tilt, roll = end.x - start.x, end.y - start.y, end.rotation - start.rotation
    moves = []
    if abs(zoom) >= _KEYED_MIN_ZOOM:
        moves.append("zooms in" if zoom > 0 else "zooms out")
    if abs(pan) >= _KEYED_MIN_SHIFT:
        moves.append("pans right" if pan > 0 else "pans left")
    if abs(tilt) >= _KEYED_MIN_SHIFT:
        moves.append("tilts down" if tilt > 0 else "tilts up")
    if abs(roll) >= _KEYED_MIN_ROLL:
        moves.append("rolls clockwise" if roll > 0 else "rolls counter-clockwise")
    if not moves:
        return "static camera"
    # How big the move is, 1 for a doubling of the zoom, a quarter of the frame travelled or a 30° roll.
    size = max(abs(zoom), 4.0 * abs(pan), 4.0 * abs(tilt), abs(roll) / 30.0)
    pace = "slowly " if size < 0.5 else "quickly " if size > 1.5 else ""
    listed = moves[0] if len(moves) == 1 else f"{', '.join(moves[:-1])} and {moves[-1]}"
    return f"camera {pace}{listed}"


def motion_bucket(intensity: float) -> int:
    """SVD's motion bucket id (1..255; its default 127 is intensity 0.5)."""
    return 1 + round(intensity * 252)


def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image))


def _to_uint8(frames: np.ndarray) -> list[np.ndarray]:
    """Pipeline output (float 0..1, frames × H × W × 3) as uint8 RGB frames."""
    scaled = np.clip(np.rint(np.asarray(frames, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(frame) for frame in scaled]


def _output_frames(output: Any) -> np.ndarray:
    """The first video (or image batch) of a diffusers output with output_type="np"."""
    if hasattr(output, "frames"):
        return np.asarray(output.frames[0])
    return np.asarray(output.images)


def generate(
    entry: ModelEntry,
    class_name: str,
    arguments: Callable[[MemoryPolicy], dict[str, Any]],
    *,
    pool: ModelPool | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[np.ndarray], MemoryPolicy]:
    """Run `class_name` of the registered model with `arguments(policy)`; uint8 RGB frames and the memory
    policy they were made under.

    Out-of-memory runs are retried down the memory ladder (the pool remembers the policy that worked);
    Cancelled propagates from the step callback and nothing partial is returned.
    """
    with (pool or default_pool()).acquire(entry, class_name, cancel) as loaded:

        def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress(step + 1, max(int(getattr(pipe, "num_timesteps", 0) or 0), step + 1))
            return {}

        def attempt(policy: MemoryPolicy) -> tuple[list[np.ndarray], MemoryPolicy]:
            if policy != loaded.policy:
                loaded.set_policy(policy)
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                output = loaded.pipe(**arguments(policy), output_type="np", callback_on_step_end=on_step)
            finally:
                # A finished call frees its offload hooks itself; an interrupted one (cancel, OOM) does not.
                free_hooks = getattr(loaded.pipe, "maybe_free_model_hooks", None)
                if free_hooks is not None:
                    free_hooks()
            return _to_uint8(_output_frames(output)), policy

        return run_with_memory_ladder(attempt, loaded.policy)


def _generator(seed: int) -> Any:
    import torch

    # A CPU generator draws the same noise whatever device the model runs on.
    return torch.Generator(device="cpu").manual_seed(seed)


class FramesClip:
    """Generated frames as a clip at the model's rate; indices outside the frames clamp to the ends."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        if not frames:
            raise RenderError("the model returned no frames")
        self._frames = frames
        self.length = len(frames)

    def frame(self, index: int) -> np.ndarray:
        return self._frames[min(max(index, 0), self.length - 1)]


def model_frame_count(
    spec: PipelineSpec, length: int, fps: Fraction, rate: Fraction | None = None
) -> tuple[int, bool]:
    """Frames to generate for an act body of `length` frames at `fps`, and whether they cover it in real time.

    The body needs length/fps seconds at the generation rate (the model's native one unless `rate` is
    given) plus the end point; rounding up to the model's rule leaves a few extra frames that serve as the
    out-handle. A body longer than the model's maximum is generated at the maximum and stretched (slower
    motion) rather than refused.
    """
    needed = math.ceil(length * (rate or spec.native_fps) / fps) + 1
    count = spec.frames.nearest_at_least(needed)
    return count, count >= needed


@dataclass(frozen=True)
class FolderTraits:
    """What a model folder's own config decides beyond its pipeline class."""

    first_last_frame: bool  # can be pinned to a last frame
    needs_last_frame: bool  # must be (Wan FLF2V checkpoints take `last_image` on every call)
    fixed_size: tuple[int, int] | None  # runs only at this size (learned positional embeddings)


def folder_traits(folder: Path, spec: PipelineSpec) -> FolderTraits:
    """Read the traits from the denoiser's config (`transformer/config.json`); InputError when it is not
    the JSON object a model of this family has."""
    path = folder / "transformer" / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
        if spec.family is Family.wan:
            # Wan's first-and-last-frame checkpoints add positional embeddings for the second image; plain
            # image-to-video checkpoints fail when given a last image.
            flf = config.get("pos_embed_seq_len") is not None
            return FolderTraits(first_last_frame=flf, needs_last_frame=flf, fixed_size=None)
        if spec.family is Family.cogvideox and config.get("use_learned_positional_embeddings"):
            # CogVideoX 1.0 learned its positional embeddings at one size (720×480) and refuses any other.
            size = (int(config["sample_width"]) * 8, int(config["sample_height"]) * 8)
            return FolderTraits(first_last_frame=False, needs_last_frame=False, fixed_size=size)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: cannot read the model's transformer config ({error})") from None
    return FolderTraits(spec.first_last_frame, needs_last_frame=False, fixed_size=None)


class DiffusionBackend:
    """A registered image-to-video model as a motion backend."""

    def __init__(self, entry: ModelEntry, pool: ModelPool | None = None) -> None:
        self.entry = entry
        self.spec = pipeline_spec(entry.pipeline)
        if self.spec.task is not Task.image_to_video:
            raise InputError(
                f"model {entry.name!r} ({entry.pipeline}) makes still images, not video: use it as an act's "
                "keyframe or refine model, not as its draft or final backend"
            )
        self.name = entry.name
        self.revision = f"{entry.revision[:16]}.{ADAPTER_REVISION}"
        self.traits = folder_traits(entry.path, self.spec)
        self._pool = pool
        # What the model reads, so cache keys leave out what it ignores (an edit there changes nothing).
        self.uses_prompt = self.spec.uses_prompt
        self.uses_last_frame = self.traits.first_last_frame

    def animate(
        self, request: MotionRequest, cancel: CancelToken | None = None, progress: ProgressFn | None = None
    ) -> Clip:
        rate = request.generation_fps or self.spec.native_fps
        count, real_time = model_frame_count(self.spec, request.length, request.fps, rate)
        frames, policy = generate(
            self.entry,
            self.entry.pipeline,
            lambda policy: self.arguments(request, count, policy),
            pool=self._pool,
            cancel=cancel,
            progress=progress,
        )
        resized = [_resize(frame, request.width, request.height) for frame in frames]
        source = FramesClip(resized)
        method = request.interpolation
        clip: Clip = (
            TrimmedClip(RetimedClip(source, rate, request.fps, method=method), request.length)
            if real_time
            else RetimedClip(source, rate, request.fps, length=request.length, method=method)
        )
        if policy >= MemoryPolicy.lower_resolution:
            return NotedClip(clip, f"{self.name!r} ran out of memory: generated at half resolution")
        return clip

    def arguments(self, request: MotionRequest, frames: int, policy: MemoryPolicy) -> dict[str, Any]:
        """The pipeline call arguments for `request` (without output type and callback)."""
        spec = self.spec
        width, height = self.traits.fixed_size or _size_under(policy, spec, request.width, request.height)
        first_image = fit_image(request.keyframes[0], width, height, request.fit)
        first = _pil(first_image)
        steps = request.steps or spec.default_steps
        guidance = spec.default_guidance if request.guidance is None else request.guidance
        common: dict[str, Any] = {
            "height": height,
            "width": width,
            "num_frames": frames,
            "num_inference_steps": steps,
            "generator": _generator(request.seed),
        }
        if spec.family is Family.svd:
            chunk = decode_chunk_size(policy)
            return {
                **common,
                "image": first,
                "fps": round(request.generation_fps or spec.native_fps),
                "motion_bucket_id": motion_bucket(request.motion.intensity),
                "min_guidance_scale": 1.0,
                "max_guidance_scale": guidance,
                "decode_chunk_size": chunk or frames,
            }
        common.update(
            prompt=motion_prompt(request.prompt, request.motion, request.length),
            negative_prompt=request.negative_prompt or None,
            guidance_scale=guidance,
        )
        last = None
        if request.last_keyframe is not None and self.traits.first_last_frame:
            last = _pil(fit_image(request.last_keyframe, width, height, FitMode.cover))
        elif self.traits.needs_last_frame:
            last = _pil(first_image)  # no end given: the shot returns to where it started
        if spec.family is Family.ltx:
            return {**common, "image": first, "frame_rate": round(request.generation_fps or spec.native_fps)}
        if spec.family is Family.ltx_condition:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            conditions = [LTXVideoCondition(image=first, frame_index=0)]
            if last is not None:
                conditions.append(LTXVideoCondition(image=last, frame_index=frames - 1))
            frame_rate = round(request.generation_fps or spec.native_fps)
            return {**common, "conditions": conditions, "frame_rate": frame_rate}
        if spec.family is Family.wan:
            return {**common, "image": first, **({"last_image": last} if last is not None else {})}
        if spec.family is Family.cogvideox:
            return {**common, "image": first}
        raise InputError(f"model {self.name!r}: {spec.class_name} is not an image-to-video pipeline")


def _size_under(policy: MemoryPolicy, spec: PipelineSpec, width: int, height: int) -> tuple[int, int]:
    """The generation size for a `width`×`height` result under `policy` (halved on the last rung)."""
    scale = _LOW_RESOLUTION_SCALE if policy >= MemoryPolicy.lower_resolution else 1.0
    return generation_size(spec, width, height, scale)


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    # Generation size keeps the target's aspect up to the size multiple; cover absorbs the rounding.
    return fit_image(frame, width, height, FitMode.cover)


def _still_arguments(
    spec: PipelineSpec,
    prompt: str,
    negative_prompt: str,
    seed: int,
    steps: int | None,
    guidance: float | None,
) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "prompt": prompt or "a cinematic still",
        "num_inference_steps": steps or spec.default_steps,
        "guidance_scale": spec.default_guidance if guidance is None else guidance,
        "generator": _generator(seed),
    }
    if spec.negative_prompt and negative_prompt:
        arguments["negative_prompt"] = negative_prompt
    return arguments


def text_to_image(
    entry: ModelEntry,
    *,
    prompt: str,
    negative_prompt: str,
    seed: int,
    width: int,
    height: int,
    steps: int | None = None,
    guidance: float | None = None,
    pool: ModelPool | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """A keyframe for an act without references, `width`×`height` uint8 RGB."""
    spec = pipeline_spec(entry.pipeline)
    if spec.task is not Task.text_to_image:
        raise InputError(f"model {entry.name!r} ({entry.pipeline}) is not a text-to-image model")

    def arguments(policy: MemoryPolicy) -> dict[str, Any]:
        gen_width, gen_height = _size_under(policy, spec, width, height)
        base = _still_arguments(spec, prompt, negative_prompt, seed, steps, guidance)
        return {**base, "width": gen_width, "height": gen_height}

    images, _ = generate(entry, entry.pipeline, arguments, pool=pool, cancel=cancel, progress=progress)
    return _resize(images[0], width, height)


def refine_image(
    entry: ModelEntry,
    image: np.ndarray,
    *,
    prompt: str,
    negative_prompt: str,
    seed: int,
    strength: float,
    steps: int | None = None,
    guidance: float | None = None,
    pool: ModelPool | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """`image` refined by the model's image-to-image pipeline (same size out as in)."""
    spec = pipeline_spec(entry.pipeline)
    class_name = spec.class_name if spec.task is Task.image_to_image else spec.img2img_class
    if class_name is None:
        raise InputError(f"model {entry.name!r} ({entry.pipeline}) cannot refine images")
    height, width = image.shape[:2]
    if strength <= 0:
        return image
    # Image-to-image runs steps × strength denoising steps; fewer than one is an error in diffusers.
    total_steps = max(steps or spec.default_steps, math.ceil(1 / strength))

    def arguments(policy: MemoryPolicy) -> dict[str, Any]:
        gen_width, gen_height = _size_under(policy, spec, width, height)
        fitted = cv2.resize(image, (gen_width, gen_height), interpolation=cv2.INTER_AREA)
        base = _still_arguments(spec, prompt, negative_prompt, seed, total_steps, guidance)
        extra = {"width": gen_width, "height": gen_height} if spec.family is Family.flux else {}
        return {**base, **extra, "image": _pil(fitted), "strength": strength}

    images, _ = generate(entry, class_name, arguments, pool=pool, cancel=cancel, progress=progress)
    return _resize(images[0], width, height)
