"""The curated model catalog: the diffusers models Storybeat suggests, pinned to a Hub commit, with what a
pull of them costs (bytes on disk, GPU memory under each `MemoryPolicy`), their licence, and where every
figure comes from.

The catalog is data (`resources/models/catalog.json`), read and checked here: every model names a pipeline
class from the allow-list in `catalog.PIPELINES`, a pinned 40-hex revision (or says it could not confirm
one), and lists in `unconfirmed` each field whose value was estimated rather than read from a primary
source, so the UI can say which numbers are guesses. A bad catalog is refused with one line naming the file
and the first failing field.

Headless and light: no Qt and no torch; importing it costs a JSON read at most.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from app.engine.models.catalog import PIPELINES, PipelineSpec, Task, pipeline_spec, tasks_of
from app.engine.models.registry import check_model_name, check_repo_id
from app.errors import InputError

#: The shipped catalog.
CATALOG_PATH = Path(__file__).resolve().parents[3] / "resources" / "models" / "catalog.json"
CATALOG_FORMAT = 1
_REVISION = re.compile(r"[0-9a-f]{40}")
_VARIANT = re.compile(r"[a-z0-9][a-z0-9_]{0,15}")  # the weight-file infix: "fp16" in model.fp16.safetensors
_MAX_CATALOG_BYTES = 1 << 20


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NativeFormat(_Frozen):
    """The frame size (and for video models the rate and clip length) the model was trained for."""

    width: StrictInt = Field(ge=64, le=8192)
    height: StrictInt = Field(ge=64, le=8192)
    fps: float | None = Field(None, gt=0, le=240)  # None for still-image models
    frames: StrictInt | None = Field(None, ge=2, le=10_000)  # default clip length; None for stills


class VramGiB(_Frozen):
    """GiB of GPU memory needed at the native size under each memory policy (names as in `MemoryPolicy`):
    everything resident, diffusers' model CPU offload, and sequential CPU offload."""

    full: float = Field(gt=0, le=4096)
    model_offload: float = Field(gt=0, le=4096)
    sequential_offload: float = Field(gt=0, le=4096)

    @model_validator(mode="after")
    def _stricter_needs_less(self) -> Self:
        if not self.full >= self.model_offload >= self.sequential_offload:
            raise ValueError(
                f"must satisfy full >= model_offload >= sequential_offload (got {self.full} >= "
                f"{self.model_offload} >= {self.sequential_offload})"
            )
        return self


class CuratedModel(_Frozen):
    """One suggested model: a Hub repository pinned to a commit, and what Storybeat runs it with."""

    id: str
    title: str = Field(min_length=1, max_length=80)
    repo_id: str
    #: The pinned Hub commit; None only when none could be confirmed (then "revision" is in `unconfirmed`).
    revision: str | None
    #: A class from `catalog.PIPELINES`: the one Storybeat instantiates for this model.
    pipeline: str
    #: The weight-file variant a pull fetches ("fp16" for model.fp16.safetensors); None for the plain files.
    variant: str | None = None
    #: Bytes a pull of that variant fetches: model_index.json and, per component, configs, tokenizer files
    #: and safetensors weights.
    download_bytes: StrictInt = Field(gt=0)
    vram_gib: VramGiB
    license: str = Field(min_length=1, max_length=120)  # SPDX id, or the licence's name
    license_url: str | None = None
    gated: StrictBool  # the Hub asks for accepted terms and a token before it serves the files
    native: NativeFormat
    source: str = Field(min_length=1)  # where the figures come from (model card URL and section, …)
    #: Fields (or "field.subfield" of `native`/`vram_gib`) whose value is estimated, not read from a source.
    unconfirmed: list[str] = []
    notes: str = Field("", max_length=160)  # one short line a user sees ("non-commercial licence")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        try:
            return check_model_name(value)  # the registry's rule: pulled models are registered by this name
        except InputError as error:
            raise ValueError(str(error)) from None

    @field_validator("repo_id")
    @classmethod
    def _valid_repo(cls, value: str) -> str:
        try:
            check_repo_id(value)
        except InputError as error:
            raise ValueError(str(error)) from None
        if "/" not in value:
            raise ValueError(f"{value!r} needs its owner: use owner/name")
        return value

    @field_validator("revision")
    @classmethod
    def _pinned_commit(cls, value: str | None) -> str | None:
        if value is not None and not _REVISION.fullmatch(value):
            raise ValueError(f"{value!r} is not a Hub commit (40 lowercase hex characters)")
        return value

    @field_validator("pipeline")
    @classmethod
    def _allowed_pipeline(cls, value: str) -> str:
        if value not in PIPELINES:
            allowed = ", ".join(sorted(PIPELINES))
            raise ValueError(f"pipeline class {value!r} is not supported (allowed: {allowed})")
        return value

    @field_validator("variant")
    @classmethod
    def _plain_variant(cls, value: str | None) -> str | None:
        if value is not None and not _VARIANT.fullmatch(value):
            raise ValueError(f"{value!r} is not a weight-file variant such as 'fp16' or 'bf16'")
        return value

    @field_validator("license_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https://\S+", value):
            raise ValueError(f"{value!r} is not an https:// address")
        return value

    @field_validator("title", "notes")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value or value != value.strip():
            raise ValueError("must be one line without leading or trailing spaces")
        return value

    @field_validator("unconfirmed")
    @classmethod
    def _real_fields(cls, value: list[str]) -> list[str]:
        known = _field_names()
        for name in value:
            if name not in known:
                raise ValueError(f"{name!r} is not a field of a curated model (known: {', '.join(known)})")
        if len(set(value)) != len(value):
            raise ValueError("names a field twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.revision is None and "revision" not in self.unconfirmed:
            raise ValueError("revision is null: pin a commit, or list 'revision' in unconfirmed")
        if self.gated and self.license_url is None:
            raise ValueError("gated models need a license_url (the terms the Hub asks users to accept)")
        spec, native = self.spec, self.native
        video = spec.task is Task.image_to_video
        if video and (native.fps is None or native.frames is None):
            raise ValueError("native needs fps and frames for a video pipeline")
        if not video and (native.fps is not None or native.frames is not None):
            raise ValueError("native fps and frames must be null for a still-image pipeline")
        if native.frames is not None and spec.frames.nearest_at_least(native.frames) != native.frames:
            rule = spec.frames
            raise ValueError(
                f"native frames {native.frames} is not a count {self.pipeline} generates "
                f"({rule.step}n+{rule.offset}, {rule.minimum}-{rule.maximum})"
            )
        if native.width % spec.size_multiple or native.height % spec.size_multiple:
            raise ValueError(
                f"native size {native.width}x{native.height} is not a multiple of {spec.size_multiple} "
                f"({self.pipeline})"
            )
        return self

    @property
    def spec(self) -> PipelineSpec:
        return pipeline_spec(self.pipeline)

    @property
    def tasks(self) -> set[Task]:
        """What this model can be used for (a text-to-image model also refines images)."""
        return tasks_of(self.spec)

    def is_confirmed(self, field: str) -> bool:
        """False when `field` (or the whole of its parent, for "native.fps") is listed as estimated."""
        parent = field.split(".", 1)[0]
        return field not in self.unconfirmed and parent not in self.unconfirmed


def _field_names() -> list[str]:
    """Every name `unconfirmed` may list: the model's fields and the fields of its two nested records."""
    names = list(CuratedModel.model_fields)
    names += [f"native.{name}" for name in NativeFormat.model_fields]
    names += [f"vram_gib.{name}" for name in VramGiB.model_fields]
    return [name for name in names if name != "unconfirmed"]


class Catalog(_Frozen):
    format: Literal[1]
    models: list[CuratedModel] = Field(min_length=1)

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, value: list[CuratedModel]) -> list[CuratedModel]:
        seen: set[str] = set()
        for model in value:
            if model.id in seen:
                raise ValueError(f"duplicate model id {model.id!r}")
            seen.add(model.id)
        return value

    @property
    def ids(self) -> list[str]:
        return [model.id for model in self.models]

    def find(self, model_id: str) -> CuratedModel:
        """The model with this id; InputError listing the known ids otherwise."""
        for model in self.models:
            if model.id == model_id:
                return model
        raise InputError(f"no curated model {model_id!r} (known: {', '.join(self.ids)})")


def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Read and check a catalog file; InputError with one line naming the file and the first bad field."""
    try:
        with path.open("rb") as stream:
            data = stream.read(_MAX_CATALOG_BYTES + 1)
    except OSError as error:
        raise InputError(f"{path}: cannot read the model catalog ({error.strerror or error})") from None
    if len(data) > _MAX_CATALOG_BYTES:
        raise InputError(f"{path}: the model catalog is larger than {_MAX_CATALOG_BYTES} bytes")
    try:
        return Catalog.model_validate_json(data)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise InputError(f"{path}: not valid JSON ({first['msg']})") from None
        raise InputError(f"{path}: {_field_error(error, data)}") from None


def find_curated(model_id: str, path: Path = CATALOG_PATH) -> CuratedModel:
    """The curated model `model_id` from the catalog at `path`; InputError listing the known ids."""
    return load_catalog(path).find(model_id)


def _field_error(error: ValidationError, data: bytes) -> str:
    """The first problem as 'field <dotted.location>: <message>' (one line), naming the model's id when the
    location is inside one."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "catalog"
    message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    model = _model_id_at(first["loc"], data)
    where = f" (model {model!r})" if model else ""
    more = error.error_count() - 1
    return f"field {location}{where}: {message}" + (f" (and {more} more)" if more else "")


def _model_id_at(location: tuple[int | str, ...], data: bytes) -> str | None:
    if len(location) < 2 or location[0] != "models" or not isinstance(location[1], int):
        return None
    try:
        raw: Any = json.loads(data)
        model_id = raw["models"][location[1]]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return model_id if isinstance(model_id, str) and len(model_id) <= 64 else None
