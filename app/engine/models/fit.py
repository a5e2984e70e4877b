"""Whether a model fits this machine's GPU, said before it is downloaded or loaded.

The GPU is asked through `nvidia-smi` (a cheap subprocess, no torch), and the memory a model needs comes from
the same per-policy estimates the engine plans with (`memory.estimated_peak`), so the advice matches the
memory policy a generation would start with. Pure functions: the GUI calls them from a worker thread.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from enum import StrEnum

from app.engine.models.memory import MemoryPolicy, estimated_peak, safety_margin

_MIB = 1024 * 1024
_GIB = 1024 * _MIB
_NVIDIA_SMI_TIMEOUT_S = 5.0
#: The policies a fit is judged by, least strict first (VAE tiling saves too little to tell apart).
_ADVISED = (MemoryPolicy.full, MemoryPolicy.model_offload, MemoryPolicy.sequential_offload)


@dataclass(frozen=True)
class GpuInfo:
    """An NVIDIA GPU: its name and its total and free memory in bytes."""

    name: str
    total_bytes: int
    free_bytes: int


class FitLevel(StrEnum):
    fits = "fits"  # every weight resident: full speed
    offload = "offload"  # fits with model CPU offload: slower
    tight = "tight"  # only with sequential offload: much slower
    too_big = "too_big"  # not even sequential offload is estimated to fit
    cpu_only = "cpu_only"  # no GPU found: runs on the CPU


@dataclass(frozen=True)
class Fit:
    """The advice: a level, the memory policy a generation would start with (None for too_big and
    cpu_only), a short badge and one sentence with the numbers."""

    level: FitLevel
    policy: MemoryPolicy | None
    badge: str
    detail: str


_BADGES = {
    FitLevel.fits: "Fits",
    FitLevel.offload: "Fits with offload",
    FitLevel.tight: "Tight: very slow",
    FitLevel.too_big: "Too big for this GPU",
    FitLevel.cpu_only: "CPU only: slow",
}
_LEVELS = {
    MemoryPolicy.full: FitLevel.fits,
    MemoryPolicy.vae_tiling: FitLevel.fits,
    MemoryPolicy.model_offload: FitLevel.offload,
    MemoryPolicy.sequential_offload: FitLevel.tight,
    MemoryPolicy.lower_resolution: FitLevel.tight,
}
_HOW = {
    MemoryPolicy.full: "at full speed",
    MemoryPolicy.vae_tiling: "with VAE tiling",
    MemoryPolicy.model_offload: "with model offload",
    MemoryPolicy.sequential_offload: "with sequential offload",
    MemoryPolicy.lower_resolution: "at a lower resolution",
}


def detect_gpu() -> GpuInfo | None:
    """The first NVIDIA GPU as `nvidia-smi` reports it; None when there is none, the program is missing,
    fails, takes longer than 5 s or prints something unexpected."""
    command = [
        "nvidia-smi",
        "--query-gpu=name,memory.total,memory.free",
        "--format=csv,noheader,nounits",
    ]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=_NVIDIA_SMI_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
            # No console window flashing up when the GUI asks on Windows.
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if result.returncode != 0:
        return None
    return parse_nvidia_smi(result.stdout)


def parse_nvidia_smi(output: str) -> GpuInfo | None:
    """The first GPU of `nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits`
    output ("NVIDIA GeForce RTX 4090, 24564, 23000": MiB); None if that line does not read so."""
    line = next((line.strip() for line in output.splitlines() if line.strip()), "")
    parts = line.rsplit(",", 2)  # the name is first, so a comma in it cannot shift the numbers
    if len(parts) != 3:
        return None
    name, total_text, free_text = (part.strip() for part in parts)
    try:
        total, free = int(total_text), int(free_text)
    except ValueError:  # "[N/A]", "[Insufficient Permissions]", …
        return None
    if not name or total <= 0 or not 0 <= free <= total:
        return None
    return GpuInfo(name, total * _MIB, free * _MIB)


def needs_from_weights(weights_bytes: int) -> dict[MemoryPolicy, int]:
    """Estimated peak GPU bytes under full, model offload and sequential offload for a model whose weights
    take `weights_bytes` once loaded (`memory.weights_bytes`)."""
    return {policy: estimated_peak(weights_bytes, policy) for policy in _ADVISED}


def fit_advice(needs: dict[MemoryPolicy, int], gpu: GpuInfo | None) -> Fit:
    """How the model with these `needs` (`needs_from_weights`) runs on `gpu`: the least strict policy whose
    need fits the free memory less `memory.safety_margin`, as `memory.starting_policy` chooses."""
    if not needs:
        raise ValueError("fit_advice needs the memory needed under at least one policy")
    policies = sorted(needs)
    if gpu is None:
        need = needs[policies[0]]
        return Fit(
            FitLevel.cpu_only,
            None,
            _BADGES[FitLevel.cpu_only],
            f"no NVIDIA GPU found: generation runs on the CPU (~{_gb(need)} GB of memory "
            f"{_HOW[policies[0]]})",
        )
    usable = gpu.free_bytes - safety_margin(gpu.free_bytes)
    free = f"{_gb(gpu.free_bytes)} GB free on {gpu.name}"
    for policy in policies:
        if needs[policy] <= usable:
            level = _LEVELS[policy]
            if policy == policies[0]:
                detail = f"needs ~{_gb(needs[policy])} GB {_HOW[policy]}, {free}"
            else:
                detail = (
                    f"needs ~{_gb(needs[policy])} GB {_HOW[policy]} "
                    f"(~{_gb(needs[policies[0]])} GB {_HOW[policies[0]]}), {free}"
                )
            return Fit(level, policy, _BADGES[level], detail)
    least = policies[-1]
    return Fit(
        FitLevel.too_big,
        None,
        _BADGES[FitLevel.too_big],
        f"needs ~{_gb(needs[least])} GB even {_HOW[least]}, {free}",
    )


def _gb(bytes_: int) -> str:
    """Bytes in binary gigabytes with one decimal ("9.8"): a 24 GB card reads 24.0, as it is sold."""
    return f"{bytes_ / _GIB:.1f}"
