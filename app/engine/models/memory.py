"""Where a model runs, how much memory it needs, and what to do when it does not fit.

A generation that runs out of memory is retried with the next, stricter `MemoryPolicy` (VAE tiling → model
CPU offload → sequential offload → lower resolution); only after the last rung does it fail with
`OutOfMemory`, and the caller falls back to the motion backend. Sizes come from the safetensors headers, so
planning never loads a weight.

torch is imported inside the functions that need it: the editor imports this module at start-up and must not
pay for torch until a model is actually used.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import re
import struct
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import InputError, RenderError

if TYPE_CHECKING:
    import torch

T = TypeVar("T")

_MIB = 1024 * 1024
_DEVICES = ("cuda", "mps", "cpu")
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# Floating tensors are cast to the pipeline's dtype on load; integer and packed (F4/F6) tensors keep their
# stored size.
_FLOAT_TENSOR_TYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
_SHARD_SUFFIX = re.compile(r"-\d+-of-\d+$")  # "model.fp16-00001-of-00003" is one shard of variant fp16
_MAX_HEADER_BYTES = 100 * _MIB  # the safetensors format's own limit; a larger length means a corrupt file
# cuBLAS/cuDNN report a failed allocation under their own names rather than "out of memory".
_OOM_MARKERS = ("out of memory", "cublas_status_alloc_failed", "cudnn_status_alloc_failed")


class MemoryPolicy(IntEnum):
    """How hard a pipeline economises on device memory; higher is stricter and slower."""

    full = 0
    vae_tiling = 1
    model_offload = 2
    sequential_offload = 3
    lower_resolution = 4  # sequential offload, and the caller halves the width and height


# Estimated peak device memory under each policy, as a multiple of the weights' bytes. Activations really
# scale with resolution and frame count, which the planner does not know, so these are deliberately rough;
# an estimate that is too hopeful costs one retry on the ladder.
_PEAK_FACTOR = {
    # every weight resident, plus the denoiser's activations and a whole-clip VAE decode (~half the weights)
    MemoryPolicy.full: 1.5,
    # tiles/slices bound the decode peak; the denoiser's activations remain
    MemoryPolicy.vae_tiling: 1.25,
    # one component resident at a time: the largest (the denoiser, ~70 % of the weights) plus its activations
    MemoryPolicy.model_offload: 0.9,
    # about one layer resident; activations do not shrink with offload, so they dominate
    MemoryPolicy.sequential_offload: 0.25,
}

# SVD decodes this many frames per VAE call; smaller chunks lower the decode peak (None: all frames at once).
_DECODE_CHUNK = {
    MemoryPolicy.full: None,
    MemoryPolicy.vae_tiling: 8,
    MemoryPolicy.model_offload: 4,
    MemoryPolicy.sequential_offload: 2,
    MemoryPolicy.lower_resolution: 1,
}


class OutOfMemory(RenderError):
    """Generation ran out of memory under every memory policy."""


def safety_margin(bytes_: int) -> int:
    """Bytes to keep free out of `bytes_` (fragmentation, other processes, the display): 15 %, ≥ 512 MiB."""
    return max(bytes_ * 15 // 100, 512 * _MIB)


def estimated_peak(weights: int, policy: MemoryPolicy) -> int:
    """Estimated peak device memory in bytes under `policy` for `weights` bytes of weights, rounded up: the
    estimate `starting_policy` plans with. Only full through sequential offload have one (KeyError else)."""
    return math.ceil(weights * _PEAK_FACTOR[policy])


@dataclass(frozen=True)
class DevicePlan:
    """The device generation runs on ("cuda", "mps" or "cpu") and the torch dtype name it computes in."""

    device: str
    dtype_name: str

    @property
    def dtype(self) -> torch.dtype:
        import torch

        dtype: torch.dtype = getattr(torch, self.dtype_name)
        return dtype

    def free_bytes(self) -> int | None:
        """Free device memory in bytes; None where it cannot be measured (MPS and CPU share system RAM)."""
        if self.device != "cuda":
            return None
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)

    def total_bytes(self) -> int | None:
        """Memory the device can hold in bytes (MPS: what Metal recommends, CPU: the RAM); None if unknown."""
        import torch

        if self.device == "cuda":
            _free, total = torch.cuda.mem_get_info()
            return int(total)
        if self.device == "mps":
            recommended = getattr(torch.mps, "recommended_max_memory", None)  # torch ≥ 2.5
            return int(recommended()) if recommended is not None else None
        return _system_ram_bytes()


def _system_ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None


def choose_device(preferred: str | None = None) -> DevicePlan:
    """The device to generate on: CUDA (bf16 where supported, else fp16), Apple MPS (fp16), else CPU (fp32).

    `preferred` ("cuda", "mps", "cpu"; None or "auto" to choose) forces a device; the environment variable
    STORYBEAT_DEVICE overrides it. A forced device that is missing raises InputError.
    """
    from_env = os.environ.get("STORYBEAT_DEVICE", "").strip().lower()
    source = "STORYBEAT_DEVICE" if from_env else "device"
    wanted = from_env or (preferred or "").strip().lower()
    if wanted not in (*_DEVICES, "", "auto"):
        raise InputError(f"{source}: unknown device {wanted!r} (expected cuda, mps, cpu or auto)")
    import torch

    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if wanted in ("", "auto"):
        wanted = next(device for device in _DEVICES if available[device])
    elif not available[wanted]:
        raise InputError(f"{source}: {wanted} was asked for, but torch finds no {wanted} device here")
    if wanted == "cuda":
        return DevicePlan("cuda", "bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    if wanted == "mps":
        return DevicePlan("mps", "float16")
    return DevicePlan("cpu", "float32")


def weights_bytes(folder: Path, dtype_name: str) -> int:
    """Bytes the model's weights take once loaded in `dtype_name` ("float32", "float16", "bfloat16").

    Read from the safetensors headers only. In a diffusers folder only the components named in
    model_index.json count, and where a component holds several variants (`x.safetensors` beside
    `x.fp16.safetensors`) only the file the loader picks counts. InputError names a corrupt file.
    """
    try:
        target = _DTYPE_BYTES[dtype_name]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype_name!r} (expected {sorted(_DTYPE_BYTES)})") from None
    return sum(_tensor_bytes(path, target) for path in _weight_files(folder))


def _weight_files(folder: Path) -> list[Path]:
    roots = [folder / name for name in _component_folders(folder)] or [folder]
    by_dir: dict[Path, list[Path]] = {}
    for root in roots:
        for path in root.rglob("*.safetensors"):
            by_dir.setdefault(path.parent, []).append(path)
    return [path for files in by_dir.values() for path in _one_variant(files)]


def _component_folders(folder: Path) -> list[str]:
    """The component subfolders model_index.json lists (`"unet": ["diffusers", "UNet2DConditionModel"]`)."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # not a diffusers folder: every weight file below counts
    if not isinstance(index, dict):
        return []
    return [
        name
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and value and value[0] is not None
    ]


def _one_variant(files: list[Path]) -> list[Path]:
    """The files the loader reads: the plain ones if any, else those of the first variant by name."""
    by_variant: dict[str, list[Path]] = {}
    for path in files:
        stem = path.name.removesuffix(".safetensors")
        stem = _SHARD_SUFFIX.sub("", stem)
        variant = stem.split(".", 1)[1] if "." in stem else ""
        by_variant.setdefault(variant, []).append(path)
    return by_variant[min(by_variant)]  # "" (no variant) sorts first


def _tensor_bytes(path: Path, target_size: int) -> int:
    try:
        with path.open("rb") as file:
            length_bytes = file.read(8)
            if len(length_bytes) < 8:
                raise InputError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
            (length,) = struct.unpack("<Q", length_bytes)
            if length > _MAX_HEADER_BYTES:
                raise InputError(f"{path}: not a safetensors file (header length {length} is implausible)")
            raw = file.read(length)
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    try:
        header = json.loads(raw)
        total = 0
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if info["dtype"] in _FLOAT_TENSOR_TYPES:
                total += math.prod(int(n) for n in info["shape"]) * target_size
            else:
                begin, end = info["data_offsets"]
                total += int(end) - int(begin)
        return total
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{path}: not a safetensors file (its JSON header is malformed)") from None


def starting_policy(weights: int, plan: DevicePlan) -> MemoryPolicy:
    """The least strict policy whose estimated peak (see `_PEAK_FACTOR`) fits the device with a margin.

    `weights` is in bytes (`weights_bytes`). On CPU the model always runs in full: there is no other memory
    to offload to. Where nothing is estimated to fit, sequential offload; lowering the resolution is left
    to the ladder, as it costs picture quality on an estimate alone.
    """
    if plan.device == "cpu":
        return MemoryPolicy.full
    available = plan.free_bytes()
    if available is None:
        available = plan.total_bytes()
    if available is None:
        return MemoryPolicy.full
    usable = available - safety_margin(available)
    for policy, factor in _PEAK_FACTOR.items():
        if weights * factor <= usable:
            return policy
    return MemoryPolicy.sequential_offload


def remove_hooks(pipe: Any) -> None:
    """Take the offload hooks off a pipeline (its weights return to the CPU); a no-op when there are none."""
    remove_all_hooks = getattr(pipe, "remove_all_hooks", None)
    if remove_all_hooks is not None:
        remove_all_hooks()


def apply_policy(pipe: Any, policy: MemoryPolicy, plan: DevicePlan) -> None:
    """Place a diffusers pipeline for `policy` on the plan's device, undoing whatever policy it had before."""
    # Hooks of the previous policy would fight the new placement (diffusers refuses .to() under offload).
    remove_hooks(pipe)
    # On CPU the weights already live in the memory offload would move them to: only tiling saves anything.
    offload = policy >= MemoryPolicy.model_offload and plan.device != "cpu"
    if not offload:
        pipe.to(plan.device)
    elif policy == MemoryPolicy.model_offload:
        pipe.enable_model_cpu_offload(device=plan.device)
    else:
        pipe.enable_sequential_cpu_offload(device=plan.device)
    _set_vae_tiling(pipe, policy >= MemoryPolicy.vae_tiling)


def _set_vae_tiling(pipe: Any, enabled: bool) -> None:
    vae = getattr(pipe, "vae", None)
    names = ("enable_tiling", "enable_slicing") if enabled else ("disable_tiling", "disable_slicing")
    for name in names:
        method = getattr(vae, name, None)
        if method is None:
            continue
        # SVD's VAE has no tiled/sliced path and says so by raising: decode_chunk_size bounds its decode.
        with contextlib.suppress(NotImplementedError):
            method()


def decode_chunk_size(policy: MemoryPolicy) -> int | None:
    """Frames SVD decodes per VAE call under `policy` (None: all at once); fewer as policies get stricter."""
    return _DECODE_CHUNK[policy]


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` means an allocation failed: torch's OutOfMemoryError, a CUDA/MPS "out of memory"
    RuntimeError, a cuBLAS/cuDNN allocation failure, or MemoryError (system RAM)."""
    if isinstance(error, MemoryError):
        return True
    # A torch error can only exist once torch is imported; checking sys.modules avoids importing it here.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(marker in str(error).lower() for marker in _OOM_MARKERS)


def release_cached_memory() -> None:
    """Collect garbage and hand the allocator's cached blocks back, so the next attempt finds them free."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if torch.backends.mps.is_available():
        torch.mps.empty_cache()


def run_with_memory_ladder(
    attempt: Callable[[MemoryPolicy], T],
    start: MemoryPolicy,
    on_retry: Callable[[MemoryPolicy, BaseException], None] | None = None,
) -> T:
    """`attempt(policy)` from `start`, retried with each stricter policy while it runs out of memory.

    Before each retry memory is released and `on_retry(next_policy, error)` is told. Raises OutOfMemory,
    naming the policies tried, when `lower_resolution` fails too. Any other error (Cancelled included)
    propagates unchanged at once.
    """
    tried: list[MemoryPolicy] = []
    policy = start
    while True:
        try:
            return attempt(policy)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            # The traceback's frames hold the failed attempt's tensors; clearing their locals (the traceback
            # stays printable) lets release_cached_memory actually free them.
            traceback.clear_frames(error.__traceback__)
            failure = error
        tried.append(policy)
        release_cached_memory()
        if policy == MemoryPolicy.lower_resolution:
            names = ", ".join(p.name.replace("_", " ") for p in tried)
            raise OutOfMemory(f"out of memory with every memory policy tried ({names})") from failure
        policy = MemoryPolicy(policy + 1)
        if on_retry is not None:
            on_retry(policy, failure)
