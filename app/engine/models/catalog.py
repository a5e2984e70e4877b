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

#: Bumped when the mapping from act fields to pipeline arguments changes (part of every generated key).
ADAPTER_REVISION = "1"


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
    native_pixels: int  # the frame area it was trained at: generating larger costs memory and coherence
    default_steps: int
    default_guidance: float
    uses_prompt: bool
    negative_prompt: bool
    first_last_frame: bool = False  # can also be pinned to the act's last frame
    #: For text-to-image pipelines: the image-to-image class loadable from the same weights (`from_pipe`).
    img2img_class: str | None = None


_STILL = FrameRule(1, 0, 1, 1)


def _video(class_name: str, family: Family, **capabilities: object) -> PipelineSpec:
    return PipelineSpec(class_name, family, Task.image_to_video, **capabilities)  # type: ignore[arg-type]


def _still(class_name: str, family: Family, task: Task, **capabilities: object) -> PipelineSpec:
    return PipelineSpec(
        class_name,
        family,
        task,
        frames=_STILL,
        native_fps=Fraction(1),
        **capabilities,  # type: ignore[arg-type]
    )


_SD = {"size_multiple": 8, "native_pixels": 512 * 512, "default_steps": 30, "default_guidance": 7.5}
_SDXL = {"size_multiple": 8, "native_pixels": 1024 * 1024, "default_steps": 30, "default_guidance": 6.0}
_FLUX = {"size_multiple": 16, "native_pixels": 1024 * 1024, "default_steps": 28, "default_guidance": 3.5}
_LTX = {
    "frames": FrameRule(8, 1, 9, 257),
    "size_multiple": 32,
    "native_fps": Fraction(24),
    "native_pixels": 768 * 512,
    "default_steps": 40,
    "default_guidance": 3.0,
    "uses_prompt": True,
    "negative_prompt": True,
}

PIPELINES: dict[str, PipelineSpec] = {
    spec.class_name: spec
    for spec in (
        _video(
            "StableVideoDiffusionPipeline", Family.svd, frames=FrameRule(1, 0, 2, 25), size_multiple=64,
            native_fps=Fraction(7), native_pixels=1024 * 576, default_steps=25, default_guidance=3.0,
            uses_prompt=False, negative_prompt=False,
        ),
        _video("LTXImageToVideoPipeline", Family.ltx, **_LTX),
        _video("LTXConditionPipeline", Family.ltx_condition, first_last_frame=True, **_LTX),
        _video(
            "CogVideoXImageToVideoPipeline", Family.cogvideox, frames=FrameRule(8, 1, 9, 81),
            size_multiple=16,
            native_fps=Fraction(8), native_pixels=720 * 480, default_steps=50, default_guidance=6.0,
            uses_prompt=True, negative_prompt=True,
        ),
        _video(
            "WanImageToVideoPipeline", Family.wan, frames=FrameRule(4, 1, 5, 129), size_multiple=16,
            native_fps=Fraction(16), native_pixels=832 * 480, default_steps=40, default_guidance=5.0,
            uses_prompt=True, negative_prompt=True, first_last_frame=True,
        ),
        _still(
            "StableDiffusionPipeline", Family.stable_diffusion, Task.text_to_image, uses_prompt=True,
            negative_prompt=True, img2img_class="StableDiffusionImg2ImgPipeline", **_SD,
        ),
        _still(
            "StableDiffusionXLPipeline", Family.sdxl, Task.text_to_image, uses_prompt=True,
            negative_prompt=True, img2img_class="StableDiffusionXLImg2ImgPipeline", **_SDXL,
        ),
        _still(
            "FluxPipeline", Family.flux, Task.text_to_image, uses_prompt=True, negative_prompt=False,
            img2img_class="FluxImg2ImgPipeline", **_FLUX,
        ),
        _still(
            "StableDiffusionImg2ImgPipeline", Family.stable_diffusion, Task.image_to_image, uses_prompt=True,
            negative_prompt=True, **_SD,
        ),
        _still(
            "StableDiffusionXLImg2ImgPipeline", Family.sdxl, Task.image_to_image, uses_prompt=True,
            negative_prompt=True, **_SDXL,
        ),
        _still(
            "FluxImg2ImgPipeline", Family.flux, Task.image_to_image, uses_prompt=True, negative_prompt=False,
            **_FLUX,
        ),
    )
}  # fmt: skip


#: Folders of a pipeline class that is not run itself but whose weights an allowed class loads unchanged:
#: LTX-Video's repository names the text-to-video LTXPipeline, and diffusers loads the image-to-video class
#: from that same folder. Such a folder is registered as the class Storybeat runs.
LOADABLE_AS = {"LTXPipeline": "LTXImageToVideoPipeline"}


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


def generation_size(spec: PipelineSpec, width: int, height: int, scale: float = 1.0) -> tuple[int, int]:
    """The size to generate a `width`×`height` frame at: the target's aspect, no larger than the target or
    the model's trained area (larger frames are upscaled afterwards), times `scale`, on the size multiple."""
    shrink = min(1.0, (spec.native_pixels / (width * height)) ** 0.5) * scale
    return nearest_size(round(width * shrink), round(height * shrink), spec.size_multiple)
