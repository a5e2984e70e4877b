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


#: Keyframe positions stay within this many frames of an act's start (either side: see CameraKey.frame).
MAX_KEY_FRAME = 1_000_000


class CameraKey(_Settings):
    """A camera pose an act's shot passes through, `frame` frames after the act's first frame.

    A key may lie before the act's first frame or past its last: splitting an act gives both parts every key
    of the shot (the second part's shifted back by the split point), and trimming keeps the keys it trims
    off, so the camera runs exactly as the unsplit, untrimmed shot did. Keys outside the act shape the path
    into and out of it; they are never shown as frames of this act.
    """

    frame: int = Field(ge=-MAX_KEY_FRAME, le=MAX_KEY_FRAME)
    x: float = Field(0.0, ge=-0.5, le=0.5)  # view centre right of the picture centre, in frame widths
    y: float = Field(0.0, ge=-0.5, le=0.5)  # view centre below the picture centre, in frame heights
    zoom: float = Field(1.0, ge=1.0, le=8.0)  # 1 shows the whole fitted picture, 2 half its width
    rotation: float = Field(0.0, ge=-180.0, le=180.0)  # degrees the picture appears turned clockwise


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
    # Keyframed camera: when there are keys they replace the preset move (camera, intensity, path_*); the
    # pose runs from key to key along `easing` and holds before the first key and after the last.
    keyframes: tuple[CameraKey, ...] = ()

    @model_validator(mode="after")
    def _path_in_order(self) -> MotionSettings:
        if self.path_start > self.path_end:
            raise ValueError(f"path_start {self.path_start} is after path_end {self.path_end}")
        frames = [key.frame for key in self.keyframes]
        if frames != sorted(set(frames)):
            raise ValueError(f"camera keyframes must be at distinct frames in order, got {frames}")
        return self

    def key_at(self, frame: float) -> CameraKey:
        """The keyframed camera pose at (fractional) `frame` of the act; needs at least one key.

        The one place poses between keys are worked out: the motion backend draws them and the viewer's
        keyframe overlay shows them, so both always agree.
        """
        keys = self.keyframes
        if not keys:
            raise ValueError("the act has no camera keyframes")
        if frame <= keys[0].frame:
            return keys[0]
        if frame >= keys[-1].frame:
            return keys[-1]
        after = next(i for i, key in enumerate(keys) if key.frame > frame)
        a, b = keys[after - 1], keys[after]
        t = ease(self.easing, (frame - a.frame) / (b.frame - a.frame))
        # Zoom is interpolated on a log scale, so that a zoom from 1 to 4 looks as steady as one from 1 to 2.
        return CameraKey.model_construct(
            frame=round(frame),
            x=a.x + (b.x - a.x) * t,
            y=a.y + (b.y - a.y) * t,
            zoom=a.zoom * (b.zoom / a.zoom) ** t,
            rotation=a.rotation + (b.rotation - a.rotation) * t,
        )

    def with_key(self, key: CameraKey) -> MotionSettings:
        """These settings with `key` added (replacing any key at the same frame)."""
        keys = sorted([k for k in self.keyframes if k.frame != key.frame] + [key], key=lambda k: k.frame)
        return self.model_copy(update={"keyframes": tuple(keys)})

    def without_key(self, frame: int) -> MotionSettings:
        return self.model_copy(update={"keyframes": tuple(k for k in self.keyframes if k.frame != frame)})

    def split_path(self, offset: int, length: int) -> tuple[MotionSettings, MotionSettings]:
        """The settings of the two parts of a `length`-frame act split `offset` frames in (0 < offset <
        length): the first part shows its frames 0..offset-1 of the move, the second offset..length-1."""
        if self.keyframes:  # every key stays with both parts (see CameraKey): the pose runs on unchanged
            shifted = tuple(key.model_copy(update={"frame": key.frame - offset}) for key in self.keyframes)
            return self, self.model_copy(update={"keyframes": shifted})
        span = self.path_end - self.path_start
        first_end = self.path_start + span * (offset - 1) / (length - 1)
        second_start = min(self.path_end, self.path_start + span * offset / (length - 1))
        return (
            self.model_copy(update={"path_end": first_end}),
            self.model_copy(update={"path_start": second_start}),
        )


def ease(easing: Easing, t: float) -> float:
    """Eased time for normalised time `t` in [0, 1]."""
    if easing is Easing.ease_in:
        return t * t
    if easing is Easing.ease_out:
        return 1.0 - (1.0 - t) * (1.0 - t)
    if easing is Easing.ease_in_out:
        return t * t * (3.0 - 2.0 * t)
    return t


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
