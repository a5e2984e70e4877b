"""The diffusers pipelines Storybeat runs, and what each can do.

Only the concrete classes listed here are ever instantiated: a model folder's `model_index.json` names its
pipeline class, and a name outside this allow-list is refused (a folder cannot make us import or run
anything else). Each entry declares the capabilities the engine plans with: the task, the frame-count rule
(LTX wants 8n+1 frames, Wan 4n+1), the size multiple, the rate the model was trained at, default steps and
guidance, and whether it can be pinned to a last frame as well as a first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from app.errors import InputError


class Task(StrEnum):
    image_to_video = "image_to_video"
    text_to_image = "text_to_image"
    image_to_image = "image_to_image"


class Family(StrEnum):
    """Pipelines of one family take the same call arguments."""

    svd = "svd"
    ltx = "ltx"
    ltx_condition = "ltx_condition"
    cogvideox = "cogvideox"
    wan = "wan"
    stable_diffusion = "stable_diffusion"
    sdxl = "sdxl"
    flux = "flux"


@dataclass(frozen=True)
class FrameRule:
    """Valid frame counts are `step * n + offset` within [minimum, maximum]."""

    step: int = 1
    offset: int = 0
    minimum: int = 1
    maximum: int = 1

    def nearest_at_least(self, frames: int) -> int:
        """The smallest valid count ≥ `frames`, capped at the maximum (longer acts are retimed)."""
        wanted = max(frames, self.minimum)
        n = -(-(wanted - self.offset) // self.step)  # ceil
        return min(max(self.step * n + self.offset, self.minimum), self.maximum)


@dataclass(frozen=True)
class PipelineSpec:
    class_name: str
    family: Family
    task: Task
    frames: FrameRule
    size_multiple: int
    native_fps: Fraction  # the rate the model's frames are meant to play at (1 for still images)
    default_steps: int
    default_guidance: float
    uses_prompt: bool
    negative_prompt: bool
    first_last_frame: bool = False  # can also be pinned to the act's last frame
    #: For text-to-image pipelines: the image-to-image class loadable from the same weights (`from_pipe`).
    img2img_class: str | None = None


_STILL = FrameRule(1, 0, 1, 1)

PIPELINES: dict[str, PipelineSpec] = {
    spec.class_name: spec
    for spec in (
        PipelineSpec(
            "StableVideoDiffusionPipeline", Family.svd, Task.image_to_video, FrameRule(1, 0, 2, 25), 64,
            Fraction(7), 25, 3.0, uses_prompt=False, negative_prompt=False,
        ),
        PipelineSpec(
            "LTXImageToVideoPipeline", Family.ltx, Task.image_to_video, FrameRule(8, 1, 9, 257), 32,
            Fraction(24), 40, 3.0, uses_prompt=True, negative_prompt=True,
        ),
        PipelineSpec(
            "LTXConditionPipeline", Family.ltx_condition, Task.image_to_video, FrameRule(8, 1, 9, 257), 32,
            Fraction(24), 40, 3.0, uses_prompt=True, negative_prompt=True, first_last_frame=True,
        ),
        PipelineSpec(
            "CogVideoXImageToVideoPipeline", Family.cogvideox, Task.image_to_video, FrameRule(8, 1, 9, 81),
            16, Fraction(8), 50, 6.0, uses_prompt=True, negative_prompt=True,
        ),
        PipelineSpec(
            "WanImageToVideoPipeline", Family.wan, Task.image_to_video, FrameRule(4, 1, 5, 129), 16,
            Fraction(16), 40, 5.0, uses_prompt=True, negative_prompt=True, first_last_frame=True,
        ),
        PipelineSpec(
            "StableDiffusionPipeline", Family.stable_diffusion, Task.text_to_image, _STILL, 8, Fraction(1),
            30, 7.5, uses_prompt=True, negative_prompt=True, img2img_class="StableDiffusionImg2ImgPipeline",
        ),
        PipelineSpec(
            "StableDiffusionXLPipeline", Family.sdxl, Task.text_to_image, _STILL, 8, Fraction(1), 30, 6.0,
            uses_prompt=True, negative_prompt=True, img2img_class="StableDiffusionXLImg2ImgPipeline",
        ),
        PipelineSpec(
            "FluxPipeline", Family.flux, Task.text_to_image, _STILL, 16, Fraction(1), 28, 3.5,
            uses_prompt=True, negative_prompt=False, img2img_class="FluxImg2ImgPipeline",
        ),
        PipelineSpec(
            "StableDiffusionImg2ImgPipeline", Family.stable_diffusion, Task.image_to_image, _STILL, 8,
            Fraction(1), 30, 7.5, uses_prompt=True, negative_prompt=True,
        ),
        PipelineSpec(
            "StableDiffusionXLImg2ImgPipeline", Family.sdxl, Task.image_to_image, _STILL, 8, Fraction(1), 30,
            6.0, uses_prompt=True, negative_prompt=True,
        ),
        PipelineSpec(
            "FluxImg2ImgPipeline", Family.flux, Task.image_to_image, _STILL, 16, Fraction(1), 28, 3.5,
            uses_prompt=True, negative_prompt=False,
        ),
    )
}  # fmt: skip


def pipeline_spec(class_name: str) -> PipelineSpec:
    """The spec of an allowed pipeline class; InputError naming the allowed ones otherwise."""
    try:
        return PIPELINES[class_name]
    except KeyError:
        allowed = ", ".join(sorted(PIPELINES))
        raise InputError(f"pipeline class {class_name!r} is not supported (allowed: {allowed})") from None


def tasks_of(spec: PipelineSpec) -> set[Task]:
    """What a model of this class can be used for (a text-to-image model also refines images)."""
    return {spec.task} | ({Task.image_to_image} if spec.img2img_class else set())


def nearest_size(width: int, height: int, multiple: int) -> tuple[int, int]:
    """The closest valid size to `width`×`height` (never below one multiple per side)."""
    return (
        max(multiple, round(width / multiple) * multiple),
        max(multiple, round(height / multiple) * multiple),
    )
