"""Diffusers models already on this machine that could be registered: the snapshots in the Hugging Face hub
cache, and model folders in folders the user names.

Only `model_index.json` is read and files are stat'ed (no torch, no diffusers), and every walk is capped, so
this is cheap enough for a worker thread even on a huge folder. Nothing found is validated here: that is
`ModelRegistry.add`'s job when the user picks one. A damaged cache entry or unreadable folder never raises:
it is skipped and said in the `warnings` list the caller passes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.engine.models.catalog import PIPELINES

#: At most this many directory entries are looked at below each extra folder, and in each model folder
#: when adding up its size: a home folder picked by mistake cannot freeze anything.
MAX_ENTRIES = 2000
#: How far below an extra folder model folders are looked for (0: the folder itself).
MAX_DEPTH = 2
_MAX_INDEX_BYTES = 1024 * 1024  # model_index.json is a few hundred bytes; anything huge is not one

Source = Literal["hf-cache", "folder"]


@dataclass(frozen=True)
class FoundModel:
    """A diffusers model folder on disk: where it is, where it came from, and whether Storybeat runs it.

    `repo_id` and `revision` (the commit) are set for Hugging Face cache snapshots only. `pipeline` is
    model_index.json's `_class_name` (None if unreadable); `supported` says whether the catalog runs it.
    `size_bytes` adds up the files' sizes, following links and counting each blob once.
    """

    path: Path
    repo_id: str | None
    revision: str | None
    pipeline: str | None
    supported: bool
    size_bytes: int
    source: Source


def default_hf_cache() -> Path:
    """huggingface_hub's hub cache folder (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def find_models(
    extra_folders: Sequence[Path] = (),
    hf_cache: Path | None = None,
    *,
    warnings: list[str] | None = None,
) -> list[FoundModel]:
    """The diffusers models in the Hugging Face hub cache (`hf_cache`, default `default_hf_cache()`) and in
    each of `extra_folders` and its sub-folders up to `MAX_DEPTH` levels down: cache snapshots first (by
    repository, newest revision first), then folders in the order given, each model once.

    Problems (a damaged cache entry, an unreadable or missing extra folder, a walk cut short) are appended
    to `warnings` as one line each; nothing raises.
    """
    notes = warnings if warnings is not None else []
    found: list[FoundModel] = []
    seen: set[Path] = set()
    for model in _in_hf_cache(hf_cache if hf_cache is not None else default_hf_cache(), notes):
        if _once(model.path, seen):
            found.append(model)
    for folder in extra_folders:
        for model_folder in _model_folders(Path(folder).expanduser(), notes):
            if _once(model_folder, seen):
                pipeline = _pipeline_class(model_folder / "model_index.json")
                found.append(
                    FoundModel(
                        path=model_folder,
                        repo_id=None,
                        revision=None,
                        pipeline=pipeline,
                        supported=pipeline in PIPELINES,
                        size_bytes=_folder_bytes(model_folder, notes),
                        source="folder",
                    )
                )
    return found


def _once(path: Path, seen: set[Path]) -> bool:
    try:
        key = path.resolve()
    except (OSError, RuntimeError):
        key = path
    if key in seen:
        return False
    seen.add(key)
    return True


def _in_hf_cache(cache: Path, warnings: list[str]) -> list[FoundModel]:
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    if not cache.exists():
        return []
    try:
        info = scan_cache_dir(cache)
    except CacheNotFound:
        return []
    except (OSError, ValueError) as error:  # a file instead of a folder, no permission, an unreadable ref
        warnings.append(f"{cache}: cannot scan the Hugging Face cache ({_one_line(error)})")
        return []
    warnings.extend(
        f"{cache}: skipped a damaged Hugging Face cache entry ({_one_line(problem)})"
        for problem in info.warnings
    )
    found: list[FoundModel] = []
    for repo in sorted(info.repos, key=lambda repo: repo.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda revision: revision.last_modified, reverse=True):
            index = revision.snapshot_path / "model_index.json"
            if not index.is_file():  # a transformers model, a LoRA, a single-file checkpoint…
                continue
            pipeline = _pipeline_class(index)
            found.append(
                FoundModel(
                    path=revision.snapshot_path,
                    repo_id=repo.repo_id,
                    revision=revision.commit_hash,
                    pipeline=pipeline,
                    supported=pipeline in PIPELINES,
                    size_bytes=revision.size_on_disk,  # each blob once, as huggingface_hub counts it
                    source="hf-cache",
                )
            )
    return found


def _model_folders(top: Path, warnings: list[str]) -> list[Path]:
    """`top` and the folders below it, `MAX_DEPTH` levels at most, that hold a model_index.json (breadth
    first, by name; not below a model folder, not into hidden folders), looking at `MAX_ENTRIES` at most."""
    if not top.is_dir():
        warnings.append(f"{top}: not a folder, skipped")
        return []
    found: list[Path] = []
    level = [top]
    budget = MAX_ENTRIES
    for depth in range(MAX_DEPTH + 1):
        below: list[Path] = []
        for folder in level:
            if (folder / "model_index.json").is_file():
                found.append(folder)
                continue
            if depth == MAX_DEPTH:
                continue
            try:
                entries = _entries(folder, budget)
            except OSError as error:
                if folder == top:
                    warnings.append(f"{top}: cannot read ({error.strerror or error})")
                continue
            budget -= len(entries)
            below.extend(sorted(Path(entry.path) for entry in entries if _is_folder(entry)))
            if budget <= 0:
                warnings.append(
                    f"{top}: stopped looking after {MAX_ENTRIES} entries; choose the folder that holds "
                    "the models"
                )
                return found + [path for path in below if (path / "model_index.json").is_file()]
        level = below
    return found


def _entries(folder: Path, budget: int) -> list[os.DirEntry[str]]:
    """Up to `budget` entries of `folder` (one more than the budget is never read)."""
    entries: list[os.DirEntry[str]] = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if len(entries) >= budget:
                break
            entries.append(entry)
    return entries


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """A visible folder (a link to one counts: the walk's depth is bounded either way)."""
    try:
        return not entry.name.startswith(".") and entry.is_dir()
    except OSError:
        return False


def _pipeline_class(index_file: Path) -> str | None:
    try:
        if index_file.stat().st_size > _MAX_INDEX_BYTES:
            return None
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        return None
    name = index.get("_class_name") if isinstance(index, dict) else None
    return name if isinstance(name, str) else None


def _folder_bytes(folder: Path, warnings: list[str]) -> int:
    """The sizes of the files below `folder`, links followed, each file (inode) once; `MAX_ENTRIES` at most
    looked at."""
    seen: set[tuple[int, int]] = set()
    total = 0
    budget = MAX_ENTRIES
    for parent, dirnames, filenames in os.walk(folder):  # links to folders are not followed
        budget -= len(dirnames) + len(filenames)
        for name in filenames:
            try:
                info = os.stat(os.path.join(parent, name))
            except OSError:  # a broken link: registering will say so
                continue
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
        if budget <= 0:
            warnings.append(f"{folder}: more than {MAX_ENTRIES} entries; its size counts the first ones only")
            break
    return total


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
