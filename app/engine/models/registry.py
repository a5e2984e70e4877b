"""The user's registered models: names for local diffusers folders, checked before anything is loaded.

A model is a diffusers folder (`model_index.json` plus one sub-folder per component). Registering one, and
every `get` before a load, runs `validate_model_folder`, which refuses anything that could make us import
or run code the folder chose: a pipeline class outside the catalog's allow-list, components from libraries
other than diffusers and transformers, pickle weights, Python files, links out of the folder. The registry
itself is a small JSON file in the user config folder, replaced atomically and never rewritten when it
cannot be read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import platformdirs

from app.engine.models.catalog import LOADABLE_AS, PIPELINES, PipelineSpec, pipeline_spec
from app.engine.models.loader import import_diffusers
from app.errors import InputError

#: The built-in CPU backend's id, which acts already use: a model may not shadow it.
RESERVED_NAMES = frozenset({"motion"})
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_COMPONENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".ckpt", ".pth"})
_CODE_SUFFIXES = frozenset({".py", ".pyc"})
_HASHED_CONFIG_SUFFIXES = frozenset({".json", ".txt"})
_REGISTRY_FORMAT = 1


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its name, absolute folder, pipeline class and content revision (hex sha256)."""

    name: str
    path: Path
    pipeline: str
    revision: str

    def spec(self) -> PipelineSpec:
        return pipeline_spec(self.pipeline)


def check_model_name(name: str) -> str:
    """`name` if it may name a model (`[a-z0-9][a-z0-9._-]{0,63}`, no built-in backend), else InputError."""
    if name in RESERVED_NAMES:
        raise InputError(f"model name {name!r} is reserved for the built-in backend; choose another name")
    if not _NAME.fullmatch(name):
        raise InputError(
            f"model name {name!r} is not valid: use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter "
            "or digit"
        )
    return name


def default_registry_file() -> Path:
    """$STORYBEAT_CONFIG_DIR/models.json, else models.json in the user config folder."""
    override = os.environ.get("STORYBEAT_CONFIG_DIR")
    folder = Path(override) if override else Path(platformdirs.user_config_dir("storybeat"))
    return folder / "models.json"


def default_models_dir() -> Path:
    """Where `pull` puts downloaded models: `models/` in $STORYBEAT_DATA_DIR, else in the user data folder."""
    override = os.environ.get("STORYBEAT_DATA_DIR")
    return (Path(override) if override else Path(platformdirs.user_data_dir("storybeat"))) / "models"


# -- validation ------------------------------------------------------------------------------


def validate_model_folder(path: Path) -> tuple[str, str]:
    """Check that `path` is a diffusers folder we may load; returns (pipeline class name, revision).

    Raises InputError with one line naming the problem. Only the JSON configs are read and the weight
    files stat'ed, so this takes milliseconds once diffusers and transformers are imported (the component
    classes are looked up in them).
    """
    try:
        return _validated(path)
    except OSError as error:  # unreadable files, broken links, permissions: bad input, said in one line
        raise InputError(f"{path}: cannot read the model folder ({error.strerror or error})") from None


def _validated(path: Path) -> tuple[str, str]:
    if not path.exists():
        raise InputError(f"{path}: model folder does not exist")
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (a model is a diffusers folder with model_index.json)")
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise InputError(f"{path}: no model_index.json (not a diffusers model folder)")
    files = _files_checked(path)
    index = _read_json_object(index_file)
    pipeline = index.get("_class_name")
    if not isinstance(pipeline, str):
        raise InputError(f"{index_file}: no _class_name (the pipeline class)")
    pipeline = LOADABLE_AS.get(pipeline, pipeline)
    if pipeline not in PIPELINES:
        allowed = ", ".join(sorted(PIPELINES))
        raise InputError(f"{index_file}: pipeline class {pipeline!r} is not supported (allowed: {allowed})")
    components = _components(index_file, index)
    for component in components:
        _check_component_folder(path, component)
    _check_component_classes(path, components)
    return pipeline, folder_revision(path, files)


def _files_checked(root: Path) -> list[Path]:
    """Every file under `root`, relative; refuses code files and links that lead out of the folder.

    A Hugging Face cache snapshot (`models--owner--name/snapshots/<commit>/`) is itself all links: those
    into its own repository's blob files are allowed (see `_is_own_blob`), no other link out of it.
    """
    real_root = root.resolve()
    files: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames:
            _check_link(root, real_root, Path(folder) / name)
        for name in filenames:
            file = Path(folder) / name
            _check_link(root, real_root, file)
            relative = file.relative_to(root)
            if file.suffix.lower() in _CODE_SUFFIXES:
                raise InputError(
                    f"{root}: contains code ({relative}); model folders with Python files are "
                    "refused (no remote code)"
                )
            if name == "model_index.json" and len(relative.parts) > 1:
                raise InputError(f"{root}: {relative} nests another pipeline; only one pipeline per folder")
            if file.suffix.lower() in _PICKLE_SUFFIXES and len(relative.parts) > 2:
                raise InputError(f"{root}: {relative}: pickle weights deeper than a component folder")
            files.append(relative)
    return files


def _check_link(root: Path, real_root: Path, entry: Path) -> None:
    if not entry.is_symlink():
        return
    relative = entry.relative_to(root)
    try:
        target = entry.resolve()
        blobs = _hf_snapshot_blobs(real_root)
        blob = _first_hop(entry) if blobs is not None else None
    except (OSError, RuntimeError):  # RuntimeError: a loop of links (Python < 3.13)
        raise InputError(f"{root}: {relative} is a link that loops or cannot be followed") from None
    if target.is_relative_to(real_root):
        return
    if blobs is not None and blob is not None and blob.parent == blobs:
        if not target.exists():
            raise InputError(f"{root}: {relative} is a broken link ({target} is missing from the cache)")
        if _is_own_blob(blobs, blob, target):
            return
    raise InputError(
        f"{root}: {relative} links to {target}, outside the model folder "
        "(copy the files in, e.g. with `cp -rL`)"
    )


#: Marks the cache-wide blob store of recent huggingface_hub versions (`<cache>/blobs/<ab>/<ab…64 hex>`),
#: which a repository's `blobs/<etag>` links to when the file is shared with other repositories (Xet).
_HF_SHARED_STORE_MARKER = ".huggingface-shared-blobs"
_HF_SHARED_BLOB = re.compile(r"[0-9a-f]{64}")


def _hf_snapshot_blobs(real_root: Path) -> Path | None:
    """The repository's `blobs/` folder when `real_root` is a Hugging Face cache snapshot
    (`…/models--owner--name/snapshots/<commit>`), else None. A `blobs/` that is itself a link is not one."""
    snapshots = real_root.parent
    repo = snapshots.parent
    if snapshots.name != "snapshots" or not repo.name.startswith("models--"):
        return None
    blobs = repo / "blobs"
    return blobs if blobs.is_dir() and not blobs.is_symlink() else None


def _first_hop(link: Path) -> Path | None:
    """Where the link `link` itself points (its folder resolved, its last part not followed); None when
    that last part is not a plain name."""
    hop = link.parent / os.readlink(link)
    if hop.name in ("", ".", ".."):
        return None
    return hop.parent.resolve() / hop.name


def _is_own_blob(blobs: Path, blob: Path, target: Path) -> bool:
    """Whether a snapshot link whose first hop is `blob` (in the snapshot's repository's `blobs`) and which
    resolves to `target` is one huggingface_hub made: the blob is a regular file, or it is a link into the
    cache's marked shared store (`<cache>/blobs/<ab>/<ab…>`) and `target` is a regular file there."""
    if target == blob:
        return target.is_file()
    store = blobs.parent.parent / "blobs"
    return (
        blob.is_symlink()
        and target.parent.parent == store
        and _HF_SHARED_BLOB.fullmatch(target.name) is not None
        and target.parent.name == target.name[:2]
        and (store / _HF_SHARED_STORE_MARKER).is_file()
        and target.is_file()
    )


def _read_json_object(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{file}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{file}: expected a JSON object")
    return data


def _components(index_file: Path, index: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The components model_index.json lists, {folder: (library, class)}; absent optional ones skipped."""
    components: dict[str, tuple[str, str]] = {}
    for key, value in index.items():
        # Keys starting with "_" are metadata; scalar values are pipeline settings (requires_safety_checker).
        if key.startswith("_") or not isinstance(value, list):
            continue
        if value == [None, None]:  # an optional component this model does not have
            continue
        if len(value) != 2 or not all(isinstance(part, str) for part in value):
            raise InputError(f"{index_file}: component {key!r} must be [library, class], got {value!r}")
        if not _COMPONENT.fullmatch(key):
            raise InputError(f"{index_file}: component name {key!r} is not a plain folder name")
        components[key] = (value[0], value[1])
    return components


def _check_component_folder(root: Path, component: str) -> None:
    folder = root / component
    if not folder.is_dir():
        raise InputError(f"{root}: component {component!r} is listed in model_index.json but has no folder")
    configs = sorted(folder.glob("*config.json"))
    if not configs:
        raise InputError(
            f"{folder}: no config file (config.json, scheduler_config.json, …) for component {component!r}"
        )
    for config in configs:
        _read_json_object(config)
    weights = [file for file in folder.iterdir() if file.is_file()]
    pickles = sorted(file.name for file in weights if file.suffix.lower() in _PICKLE_SUFFIXES)
    if pickles and not any(file.suffix == ".safetensors" for file in weights):
        raise InputError(
            f"{folder}: weights only in pickle format ({', '.join(pickles)}); safetensors weights required"
        )


def _check_component_classes(root: Path, components: dict[str, tuple[str, str]]) -> None:
    for component, (library, class_name) in components.items():
        names = _public_names(library)
        if names is None:
            raise InputError(
                f"{root}: component {component!r} comes from {library!r}; only diffusers and "
                "transformers classes are loaded"
            )
        if not (class_name[:1].isupper() and class_name in names):
            raise InputError(f"{root}: component {component!r}: {library} has no class {class_name!r}")
        if not _is_component_class(library, class_name):
            raise InputError(
                f"{root}: component {component!r}: {library}.{class_name} is not a model, scheduler, "
                "tokenizer or processor class"
            )


def _is_component_class(library: str, class_name: str) -> bool:
    """Whether the class is one a pipeline component may be: a model, scheduler, tokenizer or processor —
    never a pipeline (a nested pipeline would load folders this validation has not looked at)."""
    import importlib

    import transformers

    diffusers = import_diffusers()
    module = (
        transformers
        if library == "transformers"
        else diffusers
        if library == "diffusers"
        else importlib.import_module(f"diffusers.pipelines.{library}")
    )
    component = getattr(module, class_name, None)
    allowed = (
        diffusers.ModelMixin,
        diffusers.SchedulerMixin,
        transformers.PreTrainedModel,
        transformers.PreTrainedTokenizerBase,
        transformers.ImageProcessingMixin,
        transformers.FeatureExtractionMixin,
        transformers.ProcessorMixin,
    )
    return (
        isinstance(component, type)
        and issubclass(component, allowed)
        and not issubclass(component, diffusers.DiffusionPipeline)
    )


@functools.cache
def _public_names(library: str) -> frozenset[str] | None:
    """What a model_index.json library name offers, if it is diffusers, transformers or a diffusers
    pipeline package ("stable_diffusion", which older folders name for the safety checker); else None.

    dir() of these lazily-importing modules lists every class without importing it (cached: listing
    transformers takes a fifth of a second).
    """
    import importlib
    import importlib.util

    module: ModuleType
    if library == "transformers":
        import transformers

        module = transformers
    elif library == "diffusers":
        module = import_diffusers()
    else:
        qualified = f"diffusers.pipelines.{library}"
        import_diffusers()
        if not library.isidentifier() or importlib.util.find_spec(qualified) is None:
            return None
        module = importlib.import_module(qualified)
    return frozenset(dir(module))


def folder_revision(root: Path, files: list[Path]) -> str:
    """sha256 over the JSON/text configs' bytes and each weight file's relative path, size and mtime.

    Weights are identified by name and size, not content: hashing gigabytes on every load would take
    minutes. Hidden files (the Hub's `.cache/` download bookkeeping) are left out.
    """
    digest = hashlib.sha256()
    for relative in sorted(files, key=Path.as_posix):
        if any(part.startswith(".") for part in relative.parts):
            continue
        suffix = relative.suffix.lower()
        file = root / relative
        if suffix in _HASHED_CONFIG_SUFFIXES:
            data = file.read_bytes()
            digest.update(f"config\0{relative.as_posix()}\0{len(data)}\0".encode())
            digest.update(data)
        elif suffix == ".safetensors":
            # The modification time too: a fine-tune written over the same files keeps their sizes.
            info = file.stat()
            digest.update(f"weights\0{relative.as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


# -- the registry ----------------------------------------------------------------------------


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if it has the Hugging Face Hub's shape (`owner/name` or `name`), else InputError."""
    if not _REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise InputError(f"{repo_id!r} is not a Hugging Face repository id (e.g. owner/model-name)")
    return repo_id


def default_name_for(repo_id: str) -> str:
    """The model name `pull` uses when none is given: the repository's name, lower-cased and made valid."""
    name = re.sub(r"[^a-z0-9._-]", "-", repo_id.rsplit("/", 1)[-1].lower())[:64]
    if not _NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise InputError(f"cannot make a model name from {repo_id!r}; give one with --name")
    return name


class ModelRegistry:
    """Named model folders, stored in a JSON file (default: `default_registry_file()`)."""

    def __init__(self, file: Path | None = None, models_dir: Path | None = None) -> None:
        self.file = file or default_registry_file()
        #: Where pulls download to (one folder per model name; see app.engine.models.pull).
        self.models_dir = models_dir or default_models_dir()
        self._lock = threading.Lock()

    def entries(self) -> list[ModelEntry]:
        """The registered models as recorded when added (`get` re-checks one), in the order added."""
        return self._load()

    def find(self, name: str) -> ModelEntry | None:
        return next((entry for entry in self._load() if entry.name == name), None)

    def get(self, name: str) -> ModelEntry:
        """The model called `name`, its folder validated again and revision recomputed; InputError else."""
        entry = self.find(name)
        if entry is None:
            raise InputError(self._unknown(name))
        try:
            pipeline, revision = validate_model_folder(entry.path)
        except InputError as error:
            raise InputError(f"model {name!r}: {error}") from None
        return replace(entry, pipeline=pipeline, revision=revision)

    def add(self, name: str, path: Path) -> ModelEntry:
        """Validate the folder at `path` and register it as `name` (which must be new)."""
        check_model_name(name)
        # Absolute, so the registry means the same folder whatever directory a later command runs in.
        folder = path.expanduser().resolve()
        with self._lock:
            entries = self._load()
            existing = next((entry for entry in entries if entry.name == name), None)
            if existing is not None:
                raise InputError(
                    f"a model named {name!r} is already registered ({existing.path}); remove it first"
                )
            pipeline, revision = validate_model_folder(folder)
            entry = ModelEntry(name, folder, pipeline, revision)
            self._save([*entries, entry])
        return entry

    def remove(self, name: str) -> ModelEntry:
        """Forget the model called `name` and return what it was. Its folder is left on disk."""
        with self._lock:
            entries = self._load()
            removed = next((entry for entry in entries if entry.name == name), None)
            if removed is None:
                raise InputError(self._unknown(name))
            self._save([entry for entry in entries if entry is not removed])
        return removed

    def rename(self, name: str, new_name: str) -> ModelEntry:
        """Register the model called `name` as `new_name` instead (its folder stays where it is)."""
        check_model_name(new_name)
        with self._lock:
            entries = self._load()
            entry = next((entry for entry in entries if entry.name == name), None)
            if entry is None:
                raise InputError(self._unknown(name))
            if any(other.name == new_name for other in entries):
                raise InputError(f"a model named {new_name!r} is already registered")
            renamed = replace(entry, name=new_name)
            self._save([renamed if other is entry else other for other in entries])
        return renamed

    def _unknown(self, name: str) -> str:
        names = ", ".join(entry.name for entry in self._load()) or "none"
        return f"no model named {name!r} (registered: {names})"

    def _damaged(self, detail: str) -> InputError:
        return InputError(
            f"{self.file}: model registry is damaged ({detail}); it was left as it is: fix or delete it"
        )

    def _load(self) -> list[ModelEntry]:
        if not self.file.exists():
            return []
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise self._damaged(f"not valid JSON: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), list):
            raise self._damaged('expected {"format": 1, "models": [...]}')
        if data.get("format") != _REGISTRY_FORMAT:
            raise self._damaged(f"unknown format {data.get('format')!r}, expected {_REGISTRY_FORMAT}")
        entries: list[ModelEntry] = []
        fields = ("name", "path", "pipeline", "revision")
        for number, item in enumerate(data["models"], start=1):
            if not isinstance(item, dict) or not all(isinstance(item.get(key), str) for key in fields):
                raise self._damaged(f"model {number} needs the text fields {', '.join(fields)}")
            if not _NAME.fullmatch(item["name"]) or any(entry.name == item["name"] for entry in entries):
                raise self._damaged(f"model {number} has an invalid or repeated name {item['name']!r}")
            entries.append(ModelEntry(item["name"], Path(item["path"]), item["pipeline"], item["revision"]))
        return entries

    def _save(self, entries: list[ModelEntry]) -> None:
        """Write the registry to a temporary file and rename it over the old one (never half-written)."""
        models = [
            {"name": e.name, "path": str(e.path), "pipeline": e.pipeline, "revision": e.revision}
            for e in entries
        ]
        text = json.dumps({"format": _REGISTRY_FORMAT, "models": models}, indent=2) + "\n"
        self.file.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".models-", suffix=".tmp", dir=self.file.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
