"""Getting a model's weights into memory (from its local folder) or onto disk (from the Hugging Face Hub).

Loading never touches the network (`local_files_only`) and reads safetensors only; pulling is the one
explicit network use in Storybeat and fetches configs, tokenizer files and safetensors weights only, never
pickle weights or code. torch, diffusers and huggingface_hub are imported inside the functions: the editor
imports this module at start-up and must not wait for them.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

from app.engine.models.memory import is_out_of_memory
from app.errors import InputError, RenderError

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
