"""Getting a model's weights into memory (from its local folder) or onto disk (from the Hugging Face Hub).

Loading never touches the network (`local_files_only`) and reads safetensors only; pulling is the one
explicit network use in Storybeat and fetches configs, tokenizer files and safetensors weights only, never
pickle weights or code. torch, diffusers and huggingface_hub are imported inside the functions: the editor
imports this module at start-up and must not wait for them.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import threading
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, Any

from app.engine.cancel import ProgressFn
from app.engine.models.memory import is_out_of_memory
from app.errors import InputError, RenderError, StorybeatError

if TYPE_CHECKING:
    import torch

    from app.engine.models.registry import ModelEntry

#: What `pull` fetches inside component folders: configs, tokenizer vocabularies (.model: sentencepiece)
#: and weights. Everything else (pickle weights, code, sample images) stays on the Hub.
_PULLED_SUFFIXES = frozenset({".json", ".txt", ".model", ".safetensors"})


def import_diffusers() -> ModuleType:
    """diffusers, with remote code disabled and its progress bars off (the caller reports progress)."""
    # No remote code runs because nothing asks for it: folders with code are refused before loading, only
    # allow-listed classes are instantiated, and neither `custom_pipeline` nor `trust_remote_code` is ever
    # passed. The variable is set as well for diffusers versions that read it (0.42 does not).
    os.environ["DIFFUSERS_DISABLE_REMOTE_CODE"] = "1"
    import diffusers

    diffusers.utils.logging.disable_progress_bar()
    return diffusers


def loadable_classes(entry: ModelEntry) -> list[str]:
    """The pipeline classes `entry`'s folder can be loaded as: its own, and its image-to-image sibling."""
    sibling = entry.spec().img2img_class
    return [entry.pipeline] if sibling is None else [entry.pipeline, sibling]


def load_pipeline(entry: ModelEntry, class_name: str, device: str, dtype: torch.dtype) -> Any:
    """Load `entry`'s folder as the diffusers pipeline `class_name`, in `dtype`, moved to `device`.

    `class_name` must be one of `loadable_classes(entry)` (InputError otherwise). A folder that fails to
    load (corrupt or mismatched weights) raises InputError naming the model and folder; running out of
    memory is raised unchanged, for the memory ladder to retry.
    """
    allowed = loadable_classes(entry)
    if class_name not in allowed:
        raise InputError(
            f"model {entry.name!r} ({entry.pipeline}) cannot be loaded as {class_name} "
            f"(it can be: {', '.join(allowed)})"
        )
    diffusers = import_diffusers()
    import transformers

    transformers.utils.logging.disable_progress_bar()  # its per-component "Loading weights" bars
    pipeline_class = getattr(diffusers, class_name, None)
    if pipeline_class is None:
        raise RenderError(
            f"diffusers {diffusers.__version__} has no {class_name}; upgrade diffusers to use model "
            f"{entry.name!r}"
        )
    try:
        pipe = pipeline_class.from_pretrained(
            str(entry.path),
            use_safetensors=True,
            local_files_only=True,
            **{dtype_keyword(): dtype},
        )
    except Exception as error:
        if is_out_of_memory(error):
            raise
        raise InputError(
            f"model {entry.name!r} ({entry.path}) could not be loaded as {class_name}: {_first_line(error)}"
        ) from error
    pipe.set_progress_bar_config(disable=True)
    try:
        return pipe.to(device)
    except Exception as error:
        if is_out_of_memory(error):
            raise
        raise RenderError(
            f"model {entry.name!r} could not be moved to {device}: {_first_line(error)}"
        ) from error


def dtype_keyword() -> str:
    # diffusers renamed from_pretrained's `torch_dtype` to `dtype` (the old name now warns on every load);
    # releases before the rename know only `torch_dtype`.
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# -- pulling from the Hub ------------------------------------------------------------------------


def files_to_pull(repo_files: list[str], model_index: dict[str, Any]) -> list[str]:
    """The repository files a local copy needs: model_index.json, and in each listed component's folder its
    configs, tokenizer files and default (not fp16/bf16 variant) safetensors weights."""
    components = {
        key
        for key, value in model_index.items()
        if not key.startswith("_") and isinstance(value, list) and value != [None, None]
    }
    wanted = ["model_index.json"]
    for name in repo_files:
        path = PurePosixPath(name)
        if len(path.parts) < 2 or path.parts[0] not in components:
            continue
        suffix = path.suffix.lower()
        # "diffusion_pytorch_model.fp16.safetensors" duplicates the default weights in another precision.
        if suffix in _PULLED_SUFFIXES and not (suffix == ".safetensors" and "." in path.stem):
            wanted.append(name)
    return wanted


def download_model(repo_id: str, folder: Path, progress: ProgressFn) -> None:
    """Download the diffusers model `repo_id` into `folder` (created; it must not exist yet).

    Only `files_to_pull` is fetched, all from one commit. `progress(done, total)` counts bytes. On any
    failure `folder` is removed. An unreachable Hub raises StorybeatError; an unknown or gated repository,
    or one that is not a diffusers model, InputError.
    """
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    try:
        info = HfApi().model_info(repo_id)
        repo_files = [sibling.rfilename for sibling in info.siblings or []]
        if "model_index.json" not in repo_files:
            raise InputError(
                f"{repo_id}: not a diffusers model (no model_index.json on the Hugging Face Hub)"
            )
        folder.mkdir(parents=True)
        try:
            index_file = hf_hub_download(repo_id, "model_index.json", revision=info.sha, local_dir=folder)
            try:
                model_index = json.loads(Path(index_file).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise InputError(f"{repo_id}: model_index.json is not valid JSON ({error})") from None
            wanted = files_to_pull(repo_files, model_index if isinstance(model_index, dict) else {})
            snapshot_download(
                repo_id,
                revision=info.sha,
                local_dir=folder,
                allow_patterns=[glob.escape(name) for name in wanted],
                tqdm_class=_progress_bars(progress),
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    except _hub_errors() as error:
        raise _hub_failure(repo_id, error) from error


def _hub_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the Hub could not be reached or refused: all but local disk errors."""
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    errors: list[type[BaseException]] = [
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        ConnectionError,  # includes huggingface_hub's OfflineModeIsEnabled
        TimeoutError,
    ]
    # The HTTP client's own transport errors escape from some calls; which client depends on the version.
    for module_name in ("httpx2", "httpx", "requests"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        transport = getattr(module, "TransportError", None) or getattr(module, "ConnectionError", None)
        if isinstance(transport, type) and issubclass(transport, BaseException):
            errors.append(transport)
    return tuple(errors)


def _hub_failure(repo_id: str, error: BaseException) -> StorybeatError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(error, GatedRepoError):
        return InputError(
            f"{repo_id}: gated on the Hugging Face Hub; accept its terms and log in (`hf auth login`)"
        )
    if isinstance(error, (RepositoryNotFoundError, RevisionNotFoundError, HFValidationError)):
        return InputError(f"{repo_id}: no such model on the Hugging Face Hub (or it is private)")
    if isinstance(error, HfHubHTTPError):
        return StorybeatError(f"the Hugging Face Hub refused to send {repo_id}: {_first_line(error)}")
    return StorybeatError(
        f"could not reach the Hugging Face Hub to pull {repo_id}: {_first_line(error).rstrip('.')}; "
        "copy the model folder here and use `storybeat models add`"
    )


def _progress_bars(progress: ProgressFn) -> type:
    """A tqdm class for huggingface_hub that draws nothing and reports downloaded bytes to `progress`."""
    from huggingface_hub.utils import tqdm as hub_tqdm

    lock = threading.Lock()
    bars: list[Any] = []

    class ReportingBars(hub_tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # the caller draws its own bar
            self.counts_bytes = kwargs.get("unit") == "B"
            super().__init__(*args, **kwargs)
            with lock:
                bars.append(self)

        def update(self, n: float | None = 1) -> bool:
            with lock:
                self.n += n or 0
                sized = [bar for bar in bars if bar.total]
                # Recent Hub versions keep two byte bars: bytes written, which ends exactly at the download
                # size, and network bytes, which can end short (deduplicated transfers); the further one
                # is shown. Older versions have a files bar only.
                shown = [bar for bar in sized if bar.counts_bytes] or sized
                if shown:
                    bar = max(shown, key=lambda candidate: candidate.n / candidate.total)
                    progress(int(min(bar.n, bar.total)), int(bar.total))
            return True

    return ReportingBars
