"""An act: one scene of the film, with everything the engine needs to turn it into moving pictures."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.model.media import MediaRef

MAX_SEED = 2**32 - 1


class CameraMove(StrEnum):
    """Camera moves of the built-in motion backend over the keyframe."""

    static = "static"
    zoom_in = "zoom_in"
    zoom_out = "zoom_out"
    pan_left = "pan_left"
    pan_right = "pan_right"
    pan_up = "pan_up"
    pan_down = "pan_down"
    rotate_cw = "rotate_cw"
    rotate_ccw = "rotate_ccw"
    dolly_in = "dolly_in"
    dolly_out = "dolly_out"
    drift = "drift"  # a slow seeded pan + zoom, different for every seed (the "Ken Burns" look)


class Easing(StrEnum):
    linear = "linear"
    ease_in = "ease_in"
    ease_out = "ease_out"
    ease_in_out = "ease_in_out"


class FitMode(StrEnum):
    """How a reference image is fitted to the project frame."""

    cover = "cover"  # scale to fill, crop the overflow
    contain = "contain"  # scale to fit, pad with a blurred copy of the image
    stretch = "stretch"  # ignore the aspect ratio


class TransitionKind(StrEnum):
    cut = "cut"
    crossfade = "crossfade"
    flow_morph = "flow_morph"
    dip = "dip"


class InterpolationMethod(StrEnum):
    """How frames between generated ones are made when converting to the project rate."""

    flow = "flow"  # optical-flow in-betweens (smooth)
    blend = "blend"  # crossfaded in-betweens (soft, dreamy)
    nearest = "nearest"  # repeated frames (stop-motion, animation "on twos")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionSettings(_Settings):
    camera: CameraMove = CameraMove.zoom_in
    intensity: float = Field(0.5, ge=0.0, le=1.0)  # 0 = still, 1 = the strongest move of that kind
    easing: Easing = Easing.ease_in_out
    # How strongly the music's onsets move the picture (0 = off), and how that splits between effects.
    audio_reactivity: float = Field(0.0, ge=0.0, le=1.0)
    react_zoom: float = Field(1.0, ge=0.0, le=1.0)  # zoom pulse on hits
    react_shake: float = Field(0.0, ge=0.0, le=1.0)  # camera shake on hits
    react_flash: float = Field(0.0, ge=0.0, le=1.0)  # exposure flash on hits
    react_release_frames: int = Field(4, ge=0, le=48)  # how long a hit takes to fade (smoothing)
    # The stretch of the camera move this act shows, as times of the whole move (0 its first frame, 1 its
    # last). Splitting an act gives its parts consecutive stretches of one move, so the picture runs on
    # across the split instead of starting the move again; a template never sets them.
    path_start: float = Field(0.0, ge=0.0, le=1.0)
    path_end: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _path_in_order(self) -> MotionSettings:
        if self.path_start > self.path_end:
            raise ValueError(f"path_start {self.path_start} is after path_end {self.path_end}")
        return self

    def split_path(self, offset: int, length: int) -> tuple[MotionSettings, MotionSettings]:
        """The settings of the two parts of a `length`-frame act split `offset` frames in (0 < offset <
        length): the first part shows its frames 0..offset-1 of the move, the second offset..length-1."""
        span = self.path_end - self.path_start
        first_end = self.path_start + span * (offset - 1) / (length - 1)
        second_start = min(self.path_end, self.path_start + span * offset / (length - 1))
        return (
            self.model_copy(update={"path_end": first_end}),
            self.model_copy(update={"path_start": second_start}),
        )


class TransitionSpec(_Settings):
    """The transition from this act into the next one, centred on the cut."""

    kind: TransitionKind = TransitionKind.cut
    frames: int = Field(0, ge=0, le=240)
    color: str = Field("#000000", pattern=r"^#[0-9a-fA-F]{6}$")  # dip colour

    def rgb(self) -> tuple[int, int, int]:
        return int(self.color[1:3], 16), int(self.color[3:5], 16), int(self.color[5:7], 16)


class GradeSettings(_Settings):
    exposure: float = Field(0.0, ge=-4.0, le=4.0)  # stops
    contrast: float = Field(1.0, ge=0.0, le=3.0)  # 1 = unchanged, pivot at mid grey
    saturation: float = Field(1.0, ge=0.0, le=3.0)  # 0 = greyscale
    temperature: float = Field(0.0, ge=-1.0, le=1.0)  # -1 cool … +1 warm
    lut: MediaRef | None = None  # a .cube 3D LUT applied after the sliders
    # Finishing, after the colour: painterly simplification (0 = photographic), film grain, vignette.
    stylize: float = Field(0.0, ge=0.0, le=1.0)
    grain: float = Field(0.0, ge=0.0, le=1.0)
    vignette: float = Field(0.0, ge=0.0, le=1.0)
    # Temporal smoothing of frame-to-frame brightness (0 = off), the repair for flicker.
    deflicker: float = Field(0.0, ge=0.0, le=1.0)


class GenerationSettings(_Settings):
    """How generative models treat the act (ignored by the built-in motion backend unless noted)."""

    steps: int | None = Field(None, ge=1, le=200)  # denoising steps; None = the model's default
    guidance: float | None = Field(None, ge=0.0, le=30.0)  # classifier-free guidance; None = model default
    # A registered text-to-image model that makes the keyframe of an act without references
    # (None: a labelled placeholder slate stands in).
    keyframe_model: str | None = None
    # A registered text-to-image / image-to-image model that refines the keyframe before the final render
    # animates it (the second pass of two-pass rendering); drafts use the unrefined keyframe.
    refine_model: str | None = None
    refine_strength: float = Field(0.35, ge=0.0, le=1.0)  # how far the refinement may move from the input
    # Continuity across cuts: start from the previous act's last frame, and/or end on the next act's
    # keyframe (first-and-last-frame generation; the motion backend morphs into it).
    start_from_previous: bool = False
    end_on_next: bool = False
    # The rate motion is made at before conversion to the project rate (None: the backend's own rate; the
    # built-in backend's own rate is the project rate) and how the frames in between are made.
    generation_fps: int | None = Field(None, ge=1, le=60)
    interpolation: InterpolationMethod = InterpolationMethod.flow


class TemplateLink(_Settings):
    id: str
    version: int = Field(ge=1)


class Take(BaseModel):
    """One generated variation of an act. Takes differ only by seed; the user rates and annotates them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    seed: int = Field(ge=0, le=MAX_SEED)
    backend: str
    rating: int | None = Field(None, ge=1, le=5)
    note: str = ""


class Act(BaseModel):
    """One scene. Its start on the timeline is derived (the acts track is magnetic), never stored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    name: str = "Act"
    duration_frames: int = Field(gt=0)
    prompt: str = ""
    style_prompt: str = ""  # the look's words (usually from a template), appended to the prompt
    negative_prompt: str = ""
    references: list[MediaRef] = Field(default_factory=list)
    fit: FitMode = FitMode.cover
    seed: int = Field(0, ge=0, le=MAX_SEED)
    seed_locked: bool = False  # a locked seed is kept when takes or variations re-roll seeds
    template: TemplateLink | None = None
    motion: MotionSettings = MotionSettings()
    transition: TransitionSpec = TransitionSpec()
    grade: GradeSettings = GradeSettings()
    generation: GenerationSettings = GenerationSettings()
    draft_backend: str = "motion"
    final_backend: str = "motion"
    takes: list[Take] = Field(default_factory=list)
    selected_take: str | None = None
    rating: int | None = Field(None, ge=1, le=5)  # a reviewer's rating of the act (takes carry their own)
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("act id is empty")
        return value

    def full_prompt(self) -> str:
        """The prompt generative models get: the act's own words, then its style's."""
        return ", ".join(part for part in (self.prompt.strip(), self.style_prompt.strip()) if part)

    def effective_seed(self) -> int:
        """The seed renders use: the selected take's seed when one is chosen, else the act's own."""
        for take in self.takes:
            if take.id == self.selected_take:
                return take.seed
        return self.seed
