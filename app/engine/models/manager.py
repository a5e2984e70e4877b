"""What the model manager shows, for the CLI and the editor alike: the curated catalog, the registered models
and the models found on disk, each as one row with its size, licence and a fit badge for this machine.

Headless and without torch: fit badges come from the catalog's figures or the safetensors headers of a folder,
set against the GPU `nvidia-smi` reports. Scanning folders and reading headers touches the disk, so the editor
builds rows on a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.engine.models.catalog import pipeline_spec, tasks_of
from app.engine.models.curated import CuratedModel, load_catalog
from app.engine.models.fit import Fit, GpuInfo, fit_advice, needs_from_weights
from app.engine.models.found import FoundModel, find_models
from app.engine.models.memory import MemoryPolicy, weights_bytes
from app.engine.models.pull import partial_bytes
from app.engine.models.registry import ModelEntry, ModelRegistry
from app.errors import InputError

_GIB = 1024**3
RowKind = Literal["catalog", "registered", "found"]


@dataclass(frozen=True)
class ModelRow:
    kind: RowKind
    name: str  # catalog id, registered name, or the repository id / folder name of a found model
    title: str
    pipeline: str | None
    tasks: tuple[str, ...]
    size_bytes: int | None  # download size (catalog) or bytes on disk
    license: str | None
    gated: bool
    fit: Fit | None  # None where the weights could not be read (a missing folder, a broken file)
    path: Path | None  # the folder, where there is one
    registered_as: str | None  # the registered name of this catalog model / found folder, if any
    partial_bytes: int  # catalog: bytes a stopped pull left to resume from
    notes: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def needs_from_catalog(model: CuratedModel) -> dict[MemoryPolicy, int]:
    vram = model.vram_gib
    return {
        MemoryPolicy.full: int(vram.full * _GIB),
        MemoryPolicy.model_offload: int(vram.model_offload * _GIB),
        MemoryPolicy.sequential_offload: int(vram.sequential_offload * _GIB),
    }


def _tasks(pipeline: str | None) -> tuple[str, ...]:
    if pipeline is None:
        return ()
    try:
        return tuple(sorted(task.value for task in tasks_of(pipeline_spec(pipeline))))
    except InputError:
        return ()


def catalog_rows(registry: ModelRegistry, gpu: GpuInfo | None) -> list[ModelRow]:
    registered = {entry.name: entry for entry in registry.entries()}
    rows = []
    for model in load_catalog().models:
        entry = registered.get(model.id)
        rows.append(
            ModelRow(
                kind="catalog",
                name=model.id,
                title=model.title,
                pipeline=model.pipeline,
                tasks=tuple(sorted(task.value for task in model.tasks)),
                size_bytes=model.download_bytes,
                license=model.license,
                gated=model.gated,
                fit=fit_advice(needs_from_catalog(model), gpu),
                path=entry.path if entry is not None else None,
                registered_as=entry.name if entry is not None else None,
                partial_bytes=partial_bytes(registry, model.id),
                notes=model.notes,
            )
        )
    return rows


def _folder_fit(folder: Path, gpu: GpuInfo | None) -> tuple[int | None, Fit | None]:
    try:
        weights = weights_bytes(folder, "float16" if gpu is not None else "float32")
    except (InputError, OSError):
        return None, None
    return weights, fit_advice(needs_from_weights(weights), gpu)


def registered_rows(registry: ModelRegistry, gpu: GpuInfo | None) -> list[ModelRow]:
    rows = []
    for entry in registry.entries():
        rows.append(_registered_row(entry, gpu))
    return rows


def _registered_row(entry: ModelEntry, gpu: GpuInfo | None) -> ModelRow:
    available = entry.path.is_dir()
    weights, fit = _folder_fit(entry.path, gpu) if available else (None, None)
    return ModelRow(
        kind="registered",
        name=entry.name,
        title=entry.name,
        pipeline=entry.pipeline,
        tasks=_tasks(entry.pipeline),
        size_bytes=weights,
        license=None,
        gated=False,
        fit=fit,
        path=entry.path,
        registered_as=entry.name,
        partial_bytes=0,
        notes="" if available else "folder missing",
    )


def found_rows(
    registry: ModelRegistry,
    gpu: GpuInfo | None,
    extra_folders: Sequence[Path] = (),
    hf_cache: Path | None = None,
    warnings: list[str] | None = None,
) -> list[ModelRow]:
    """Models on disk that could be registered (the Hugging Face cache and `extra_folders`); each says
    whether it is registered already. Unsupported pipelines are listed too, with why."""
    by_path = {_resolved(entry.path): entry.name for entry in registry.entries()}
    rows = []
    for found in find_models(extra_folders, hf_cache=hf_cache, warnings=warnings):
        rows.append(_found_row(found, by_path.get(_resolved(found.path)), gpu))
    return rows


def _found_row(found: FoundModel, registered_as: str | None, gpu: GpuInfo | None) -> ModelRow:
    _weights, fit = _folder_fit(found.path, gpu)
    note = "" if found.supported else f"pipeline {found.pipeline or 'unknown'} is not supported"
    return ModelRow(
        kind="found",
        name=found.repo_id or found.path.name,
        title=found.repo_id or str(found.path),
        pipeline=found.pipeline,
        tasks=_tasks(found.pipeline) if found.supported else (),
        size_bytes=found.size_bytes,
        license=None,
        gated=False,
        fit=fit,
        path=found.path,
        registered_as=registered_as,
        partial_bytes=0,
        notes=note,
    )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def recommend(rows: Sequence[ModelRow]) -> ModelRow | None:
    """The catalog image-to-video model to suggest first: the best fit on this machine, then the smallest
    download (a first model should arrive quickly). None where nothing fits a GPU."""
    order = {"fits": 0, "offload": 1, "tight": 2}
    ranked = [
        (order[row.fit.level.value], row.size_bytes or 0, row)
        for row in rows
        if row.kind == "catalog"
        and "image_to_video" in row.tasks
        and row.fit
        and row.fit.level.value in order
    ]
    return min(ranked, key=lambda item: item[:2])[2] if ranked else None
