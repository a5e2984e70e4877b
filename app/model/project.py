"""The project document: settings, the magnetic acts track, audio clips, the beat grid and markers."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterator
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.model.act import MAX_SEED, Act
from app.model.media import MediaRef, rebased
from app.model.template import EmbeddedTemplate
from app.model.timebase import format_fps, parse_fps, seconds_to_frames

#: The file format this build writes. Older files are migrated on load (see app.model.migrations).
SCHEMA_VERSION = 5


def _validate_fps(value: Any) -> Fraction:
    if not isinstance(value, str | int | float | Fraction):
        raise ValueError("frame rate must be a number or a fraction string like '30000/1001'")
    return parse_fps(value)


Fps = Annotated[
    Fraction,
    PlainValidator(_validate_fps),
    PlainSerializer(format_fps, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["24", "30000/1001"]}),
]


class ConsistencyError(AssertionError):
    """A document invariant does not hold: a bug in the code that edited it, never the user's fault."""


class ProjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fps: Fps = Fraction(24)
    width: int = Field(1280, ge=16, le=7680, multiple_of=2)
    height: int = Field(720, ge=16, le=4320, multiple_of=2)
    target_duration_frames: int | None = Field(None, gt=0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    realism: float = Field(0.5, ge=0.0, le=1.0)  # 0 photoreal … 1 painterly


#: At most this many audio tracks (the timeline shows a row for each).
MAX_AUDIO_TRACKS = 8


class AudioClip(BaseModel):
    """A piece of audio on an audio track. All positions are frames at the project rate."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    media: MediaRef
    track: int = Field(0, ge=0, lt=MAX_AUDIO_TRACKS)
    offset_frames: int = Field(0, ge=0)  # where the clip starts on the timeline
    in_frames: int = Field(0, ge=0)  # how far into the source file it starts
    length_frames: int | None = Field(None, gt=0)  # None: to the end of the source
    gain_db: float = Field(0.0, ge=-60.0, le=24.0)
    fade_in_frames: int = Field(0, ge=0)
    fade_out_frames: int = Field(0, ge=0)


class AudioTrack(BaseModel):
    """An audio track: a row of clips that can be muted as a whole. A clip's `track` indexes the list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", max_length=80)  # "" shows as A1, A2, …
    muted: bool = False


class FrameRange(BaseModel):
    """A stretch of the timeline: frames start … end - 1 (the in and out points of playback and export)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=0)
    end: int = Field(gt=0)  # exclusive

    @model_validator(mode="after")
    def _not_empty(self) -> FrameRange:
        if self.end <= self.start:
            raise ValueError(f"range end {self.end} is not after its start {self.start}")
        return self

    @property
    def length(self) -> int:
        return self.end - self.start

    def clipped(self, duration: int) -> FrameRange | None:
        """The part of this range inside a film of `duration` frames, or None when nothing is."""
        end = min(self.end, duration)
        return FrameRange(start=self.start, end=end) if end > self.start else None


class ExportRange(StrEnum):
    whole = "whole"  # the whole film
    in_out = "in_out"  # from the in point to the out point


class ExportOptions(BaseModel):
    """The export settings last used for this project, offered again by the next export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = Field("h264", pattern=r"^(h264|h265|prores|png)$")
    # Output height in pixels (the width follows the project's aspect ratio); None: the project's size.
    height: int | None = Field(None, ge=16, le=4320, multiple_of=2)
    crf: int = Field(18, ge=0, le=51)  # quality of h264/h265: lower is better and bigger
    range: ExportRange = ExportRange.whole
    draft: bool = False  # the fast low-resolution draft instead of the final render
    output: str | None = None  # the last file written, relative to the project folder where possible


class Section(BaseModel):
    """A stretch of the song (intro, verse, chorus-like parts found by self-similarity), in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float = Field(ge=0.0)
    end: float = Field(gt=0.0)
    label: str = ""  # the same label marks parts that sound alike ("A", "B", …)
    energy: float = Field(0.0, ge=0.0, le=1.0)  # loudness relative to the loudest section


#: The fastest tempo a beat grid holds (BPM).
MAX_BPM = 400.0


def _sorted_non_negative(values: tuple[float, ...]) -> tuple[float, ...]:
    if any(t < 0 for t in values):
        raise ValueError("beat times must be >= 0 seconds")
    if list(values) != sorted(values):
        raise ValueError("beat times must be sorted")
    return values


#: Times in seconds, sorted, none before 0.
BeatTimes = Annotated[tuple[float, ...], AfterValidator(_sorted_non_negative)]


class MetricalAlternative(BaseModel):
    """The same music's grid at half or double the tempo of the beat grid (seconds), as detected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["half", "double"]
    tempo: float = Field(ge=0.0, le=MAX_BPM)  # BPM
    meter: int = Field(4, ge=1, le=16)  # beats per bar
    beats: BeatTimes = ()
    downbeats: BeatTimes = ()


class BeatGrid(BaseModel):
    """Beat times in seconds as detected from `source`, plus the user's manual corrections.

    `alternatives` are the detected grids at half and double this tempo (at most one of each), offered
    when detection locked to a metrical level other than the one a listener taps.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: MediaRef | None = None
    tempo: float = Field(0.0, ge=0.0, le=MAX_BPM)  # BPM; 0 when unknown
    meter: int = Field(4, ge=1, le=16)  # beats per bar
    beats: BeatTimes = ()
    downbeats: BeatTimes = ()
    added: BeatTimes = ()
    removed: BeatTimes = ()
    sections: tuple[Section, ...] = ()
    alternatives: tuple[MetricalAlternative, ...] = ()

    @field_validator("alternatives")
    @classmethod
    def _one_of_each(cls, values: tuple[MetricalAlternative, ...]) -> tuple[MetricalAlternative, ...]:
        names = [alternative.name for alternative in values]
        if len(names) != len(set(names)):
            raise ValueError(f"a beat grid has at most one alternative of each kind, got {names}")
        return values

    def alternative(self, name: str) -> MetricalAlternative | None:
        """The alternative called `name` ("half" or "double"), or None when the grid has none."""
        return next((alternative for alternative in self.alternatives if alternative.name == name), None)

    def effective_beats(self) -> list[float]:
        """Detected beats minus the removed ones plus the added ones, sorted (seconds)."""
        removed = set(self.removed)
        return sorted([t for t in self.beats if t not in removed] + list(self.added))

    def beat_frames(self, fps: Fraction) -> list[int]:
        """Effective beats snapped to frames, without duplicates."""
        return sorted({seconds_to_frames(t, fps) for t in self.effective_beats()})


class Marker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frame: int = Field(ge=0)
    name: str = ""


class Project(BaseModel):
    """The whole document. Edit it through commands (app.model.commands) so every change can be undone."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    settings: ProjectSettings = ProjectSettings()
    acts: list[Act] = Field(default_factory=list)
    audio: list[AudioClip] = Field(default_factory=list)
    beats: BeatGrid = BeatGrid()
    markers: list[Marker] = Field(default_factory=list)
    # Copies of the template versions the acts link to (with their files copied beside the project).
    templates: list[EmbeddedTemplate] = Field(default_factory=list)
    audio_tracks: list[AudioTrack] = Field(
        default_factory=lambda: [AudioTrack()], min_length=1, max_length=MAX_AUDIO_TRACKS
    )
    # Pictures and sounds imported into the project's media bin (those the acts and clips use are listed by
    # the bin too, without being stored here).
    media_bin: list[MediaRef] = Field(default_factory=list)
    in_out: FrameRange | None = None  # the in and out points, when marked
    export: ExportOptions = ExportOptions()

    @model_validator(mode="after")
    def _clips_on_tracks(self) -> Project:
        for clip in self.audio:
            if clip.track >= len(self.audio_tracks):
                raise ValueError(
                    f"audio clip {clip.media.path!r} is on track {clip.track + 1}, "
                    f"but the project has {len(self.audio_tracks)} audio track(s)"
                )
        return self

    # -- derived timing (the acts track is magnetic: each act starts where the previous one ends) --

    def act_starts(self) -> list[int]:
        """Start frame of every act, in track order."""
        starts, position = [], 0
        for act in self.acts:
            starts.append(position)
            position += act.duration_frames
        return starts

    def cut_frames(self) -> list[int]:
        """Frames where one act ends and the next begins (len(acts) - 1 of them)."""
        return self.act_starts()[1:]

    @property
    def duration_frames(self) -> int:
        return sum(act.duration_frames for act in self.acts)

    def index_of(self, act_id: str) -> int:
        for index, act in enumerate(self.acts):
            if act.id == act_id:
                return index
        raise KeyError(f"no act with id {act_id!r}")

    def act(self, act_id: str) -> Act:
        return self.acts[self.index_of(act_id)]

    def act_at(self, frame: int) -> int | None:
        """Index of the act showing at timeline `frame`, or None past the end."""
        if frame < 0 or frame >= self.duration_frames:
            return None
        return bisect.bisect_right(self.act_starts(), frame) - 1

    def audio_clip(self, clip_id: str) -> AudioClip:
        for clip in self.audio:
            if clip.id == clip_id:
                return clip
        raise KeyError(f"no audio clip with id {clip_id!r}")

    def embedded_template(self, template_id: str, version: int) -> EmbeddedTemplate | None:
        for embedded in self.templates:
            if embedded.key == (template_id, version):
                return embedded
        return None

    def media_refs(self) -> Iterator[tuple[str, MediaRef]]:
        """Every media reference in the document with a label saying where it is used."""
        for act in self.acts:
            for ref in act.references:
                yield f"act '{act.name}' reference", ref
            if act.grade.lut is not None:
                yield f"act '{act.name}' LUT", act.grade.lut
        for clip in self.audio:
            yield "audio clip", clip.media
        for ref in self.media_bin:
            yield "media bin", ref
        for embedded in self.templates:
            label = f"template '{embedded.template.name}' v{embedded.template.version}"
            for ref in embedded.references:
                yield f"{label} reference", ref
            if embedded.lut is not None:
                yield f"{label} LUT", embedded.lut

    def moved(self, old_dir: Path, new_dir: Path) -> Project:
        """A copy whose relative media paths point at the same files from a project file in `new_dir`."""
        copy = self.model_copy(deep=True)
        for act in copy.acts:
            act.references = [rebased(ref, old_dir, new_dir) for ref in act.references]
            if act.grade.lut is not None:
                act.grade = act.grade.model_copy(update={"lut": rebased(act.grade.lut, old_dir, new_dir)})
        for clip in copy.audio:
            clip.media = rebased(clip.media, old_dir, new_dir)
        copy.media_bin = [rebased(ref, old_dir, new_dir) for ref in copy.media_bin]
        if copy.export.output is not None:
            output = rebased(MediaRef(path=copy.export.output), old_dir, new_dir).path
            copy.export = copy.export.model_copy(update={"output": output})
        copy.templates = [
            embedded.model_copy(
                update={
                    "lut": rebased(embedded.lut, old_dir, new_dir) if embedded.lut else None,
                    "references": tuple(rebased(ref, old_dir, new_dir) for ref in embedded.references),
                }
            )
            for embedded in copy.templates
        ]
        if copy.beats.source is not None:
            copy.beats = copy.beats.model_copy(
                update={"source": rebased(copy.beats.source, old_dir, new_dir)}
            )
        return copy

    def check_consistency(self) -> None:
        """Assert the document invariants; raises ConsistencyError naming the first broken one."""
        ids = [act.id for act in self.acts]
        if len(ids) != len(set(ids)):
            raise ConsistencyError(f"duplicate act ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        for act in self.acts:
            if act.duration_frames <= 0:
                raise ConsistencyError(f"act {act.id} has duration {act.duration_frames}")
            take_ids = {take.id for take in act.takes}
            if act.selected_take is not None and act.selected_take not in take_ids:
                raise ConsistencyError(f"act {act.id} selects unknown take {act.selected_take}")
        clip_ids = [clip.id for clip in self.audio]
        if len(clip_ids) != len(set(clip_ids)):
            raise ConsistencyError("duplicate audio clip ids")
        if not 1 <= len(self.audio_tracks) <= MAX_AUDIO_TRACKS:
            raise ConsistencyError(f"{len(self.audio_tracks)} audio tracks")
        for clip in self.audio:
            if clip.track >= len(self.audio_tracks):
                raise ConsistencyError(f"audio clip {clip.id} is on missing track {clip.track}")
        beats = self.beats
        for name in ("beats", "downbeats", "added", "removed"):
            values = list(getattr(beats, name))
            if values != sorted(values):
                raise ConsistencyError(f"beat grid '{name}' is not sorted")
        if not set(beats.downbeats) <= set(beats.beats) | set(beats.added):
            raise ConsistencyError("a downbeat is not a beat")
