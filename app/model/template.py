"""Templates: a named look (style prompt, motion, interpolation, pacing, colour, backend preferences) that can
be applied to acts, plus the rules for which act fields a template controls.

A template is plain data (`templates/<id>/template.json` with its files beside it: reference frames, a
`.cube` LUT, a thumbnail — see app.engine.templates for the folder and bundle handling). Applying one sets
the act fields it controls (`template_values`) and links the act to the template's id and version. The
act's *overrides* are not stored: they are the controlled fields whose value differs from what the linked
version set. Updating to a newer version therefore changes exactly the fields the user did not touch.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.model.act import GradeSettings, InterpolationMethod, MotionSettings, TransitionSpec
from app.model.errors import EditError
from app.model.media import MediaRef
from app.model.pacing_spec import parse_pacing

#: The template.json layout this version reads and writes. Newer files are refused with a clear message.
TEMPLATE_FORMAT_VERSION = 1
TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
#: Files a template folder may hold, by suffix (nothing executable, nothing Storybeat would interpret).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
LUT_SUFFIXES = frozenset({".cube"})
_TAG = re.compile(r"^[a-z0-9][a-z0-9 -]{0,31}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemplateInterpolation(_Frozen):
    # The rate motion is generated at before conversion to the project rate; None: the backend's own.
    generation_fps: int | None = Field(None, ge=1, le=60)
    method: InterpolationMethod = InterpolationMethod.flow


class TemplatePacing(_Frozen):
    # A pacing spec as `storybeat new --pacing` takes it ("every-4-beats", "downbeats:bars=2", "structure");
    # None leaves the cuts alone.
    preset: str | None = None
    transition: TransitionSpec = TransitionSpec()

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_pacing(value)
            except EditError as error:
                raise ValueError(str(error)) from None
        return value


class TemplateBackends(_Frozen):
    draft: str = Field("motion", min_length=1, max_length=64)
    final: str = Field("motion", min_length=1, max_length=64)
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = Field(None, ge=0.0, le=30.0)


def _file_name(value: str, suffixes: frozenset[str], what: str) -> str:
    """A plain file name inside the template folder (no folders, no parent references)."""
    path = PurePosixPath(value)
    if value != path.name or value in ("", ".", "..") or "\\" in value:
        raise ValueError(f"{what} {value!r} must be a file name inside the template folder")
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{what} {value!r} must end in one of {', '.join(sorted(suffixes))}")
    return value


class Template(_Frozen):
    format_version: int = Field(TEMPLATE_FORMAT_VERSION, ge=1)
    id: str = Field(pattern=TEMPLATE_ID_PATTERN)
    version: int = Field(1, ge=1)
    name: str = Field(min_length=1, max_length=80)
    tags: tuple[str, ...] = Field((), max_length=16)
    description: str = Field("", max_length=2000)
    style_prompt: str = Field("", max_length=1000)
    negative_prompt: str = Field("", max_length=1000)
    realism: float = Field(1.0, ge=0.0, le=1.0)  # 1 photographic … 0 painterly
    motion: MotionSettings = MotionSettings()
    interpolation: TemplateInterpolation = TemplateInterpolation()
    pacing: TemplatePacing = TemplatePacing()
    grade: GradeSettings = GradeSettings()  # its `lut` stays empty: the LUT file is `lut` below
    lut: str | None = None
    backends: TemplateBackends = TemplateBackends()
    references: tuple[str, ...] = Field((), max_length=16)
    thumbnail: str | None = "thumbnail.png"

    @field_validator("format_version")
    @classmethod
    def _readable_format(cls, value: int) -> int:
        if value > TEMPLATE_FORMAT_VERSION:
            raise ValueError(
                f"format {value} is newer than this Storybeat reads ({TEMPLATE_FORMAT_VERSION}); "
                "update Storybeat"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(tag.strip().lower() for tag in tags))
        for tag in cleaned:
            if not _TAG.match(tag):
                raise ValueError(f"tag {tag!r}: 1-32 letters, digits, spaces or dashes")
        return cleaned

    @field_validator("motion")
    @classmethod
    def _whole_move(cls, motion: MotionSettings) -> MotionSettings:
        if (motion.path_start, motion.path_end) != (0.0, 1.0):
            raise ValueError("path_start and path_end place a split act's part in its move; leave them out")
        if motion.keyframes:
            raise ValueError("camera keyframes frame one shot, they are not part of a look; leave them out")
        return motion

    @field_validator("grade")
    @classmethod
    def _no_media_in_grade(cls, grade: GradeSettings) -> GradeSettings:
        if grade.lut is not None:
            raise ValueError("the LUT is named by the template's 'lut' field, not inside 'grade'")
        return grade

    @field_validator("lut")
    @classmethod
    def _lut_file(cls, value: str | None) -> str | None:
        return None if value is None else _file_name(value, LUT_SUFFIXES, "lut")

    @field_validator("references")
    @classmethod
    def _reference_files(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_file_name(value, IMAGE_SUFFIXES, "reference") for value in values)

    @field_validator("thumbnail")
    @classmethod
    def _thumbnail_file(cls, value: str | None) -> str | None:
        return None if value is None else _file_name(value, IMAGE_SUFFIXES, "thumbnail")

    def files(self) -> list[str]:
        """Every file the template names (relative to its folder)."""
        named = [*self.references, self.lut, self.thumbnail]
        return [name for name in named if name is not None]


class EmbeddedTemplate(_Frozen):
    """A copy of a template version kept in the project, with its files copied beside the project, so the
    project opens (and its acts can be compared with and updated from it) on a machine without the library."""

    template: Template
    lut: MediaRef | None = None
    references: tuple[MediaRef, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return self.template.id, self.template.version


# -- what a template controls -------------------------------------------------------------------------------


#: Motion fields that belong to one act's shot, never set by a template.
_SHOT_MOTION_FIELDS = ("path_start", "path_end", "keyframes")


def template_values(embedded: EmbeddedTemplate) -> dict[str, Any]:
    """The act values the template sets, by path ("field" or "field.sub_field" of a frozen settings model).
    Its reference frames are not among them: they only fill acts that have no references of their own."""
    template = embedded.template
    values: dict[str, Any] = {
        "style_prompt": template.style_prompt,
        "negative_prompt": template.negative_prompt,
        "draft_backend": template.backends.draft,
        "final_backend": template.backends.final,
        "generation.steps": template.backends.steps,
        "generation.guidance": template.backends.guidance,
        "generation.generation_fps": template.interpolation.generation_fps,
        "generation.interpolation": template.interpolation.method,
        "grade.lut": embedded.lut,
        "grade.stylize": round(1.0 - template.realism, 3),
    }
    for name in MotionSettings.model_fields:
        # Where a split act's part lies in its move, and the camera keys of one shot, are not a look.
        if name not in _SHOT_MOTION_FIELDS:
            values[f"motion.{name}"] = getattr(template.motion, name)
    for name in TransitionSpec.model_fields:
        values[f"transition.{name}"] = getattr(template.pacing.transition, name)
    for name in GradeSettings.model_fields:
        if name not in ("lut", "stylize", "deflicker"):  # deflicker is a repair, not part of a look
            values[f"grade.{name}"] = getattr(template.grade, name)
    return values


#: Every act field a template sets (the keys of template_values, which do not depend on the template).
CONTROLLED_PATHS = tuple(template_values(EmbeddedTemplate(template=Template(id="any", name="Any"))))


def get_path(act: Any, path: str) -> Any:
    value = act
    for part in path.split("."):
        value = getattr(value, part)
    return value


def with_path(act: Any, path: str, value: Any) -> None:
    """Set `path` on the (mutable) act, rebuilding the frozen settings model on the way (validated)."""
    head, _, rest = path.partition(".")
    if not rest:
        setattr(act, head, value)
        return
    settings = getattr(act, head)
    sub_head, _, sub_rest = rest.partition(".")
    if sub_rest:
        raise ValueError(f"template path {path!r} is nested too deeply")
    setattr(act, head, type(settings).model_validate({**dict(settings), sub_head: value}))


def overrides(act: Any, embedded: EmbeddedTemplate) -> list[str]:
    """The controlled fields of `act` whose value differs from what `embedded` set (the user's changes)."""
    return [path for path, value in template_values(embedded).items() if get_path(act, path) != value]
