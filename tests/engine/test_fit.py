"""Fit advice: reading nvidia-smi, the memory a model needs per policy, and the verdict for a GPU."""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine.models import fit
from app.engine.models.fit import Fit, FitLevel, GpuInfo, detect_gpu, fit_advice, needs_from_weights
from app.engine.models.memory import DevicePlan, MemoryPolicy, safety_margin, starting_policy

GIB = 1024**3
MIB = 1024**2
RTX_4090 = GpuInfo("NVIDIA GeForce RTX 4090", 24564 * MIB, 23000 * MIB)


def _gpu(free: int, name: str = "Test GPU") -> GpuInfo:
    return GpuInfo(name, max(free, 24 * GIB), free)


def _usable(free: int) -> int:
    return free - safety_margin(free)


# -- the verdict -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "free", "level", "policy"),
    [
        (2 * GIB, 23 * GIB, FitLevel.fits, MemoryPolicy.full),  # SD 1.5 in fp16 on a 24 GB card
        (16 * GIB, 23 * GIB, FitLevel.offload, MemoryPolicy.model_offload),
        (40 * GIB, 23 * GIB, FitLevel.tight, MemoryPolicy.sequential_offload),
        (200 * GIB, 23 * GIB, FitLevel.too_big, None),
        (4 * GIB, 1 * GIB, FitLevel.too_big, None),  # the 512 MiB floor of the margin eats half of it
        (0, 23 * GIB, FitLevel.fits, MemoryPolicy.full),
    ],
)
def test_the_least_strict_policy_that_fits_is_advised(
    weights: int, free: int, level: FitLevel, policy: MemoryPolicy | None
) -> None:
    advice = fit_advice(needs_from_weights(weights), _gpu(free))
    assert (advice.level, advice.policy) == (level, policy)


@pytest.mark.parametrize("free", [2 * GIB, 3 * GIB + 7, 10 * GIB, 23 * GIB + 12345, 80 * GIB])
def test_exactly_at_the_margin_fits_and_one_byte_more_does_not(free: int) -> None:
    usable = _usable(free)
    assert usable == free - max(free * 15 // 100, 512 * MIB)
    gpu = _gpu(free)
    at = {MemoryPolicy.full: usable, MemoryPolicy.model_offload: 1, MemoryPolicy.sequential_offload: 1}
    assert fit_advice(at, gpu).level == FitLevel.fits
    over = {**at, MemoryPolicy.full: usable + 1, MemoryPolicy.model_offload: usable}
    assert fit_advice(over, gpu).policy == MemoryPolicy.model_offload
    over = {**over, MemoryPolicy.model_offload: usable + 1, MemoryPolicy.sequential_offload: usable}
    assert fit_advice(over, gpu).policy == MemoryPolicy.sequential_offload
    over = {**over, MemoryPolicy.sequential_offload: usable + 1}
    assert fit_advice(over, gpu) == Fit(
        FitLevel.too_big,
        None,
        "Too big for this GPU",
        f"needs ~{(usable + 1) / GIB:.1f} GB even with sequential offload, "
        f"{free / GIB:.1f} GB free on Test GPU",
    )


@dataclass(frozen=True)
class _MeasuredPlan(DevicePlan):
    free: int = 0

    def free_bytes(self) -> int | None:
        return self.free


@pytest.mark.parametrize("free", [1 * GIB, 6 * GIB, 12 * GIB, 24 * GIB, 80 * GIB])
def test_the_advice_is_the_policy_the_engine_starts_with(free: int) -> None:
    # The same estimates as memory.starting_policy (one table): whatever the factors are tuned to, the
    # badge never promises a policy other than the one a generation starts with.
    plan = _MeasuredPlan("cuda", "float16", free=free)
    levels: set[FitLevel] = set()
    for weights in [0, 1, *range(GIB // 4, 400 * GIB, GIB // 4)]:
        advice = fit_advice(needs_from_weights(weights), _gpu(free))
        engine = starting_policy(weights, plan)
        levels.add(advice.level)
        if advice.policy is None:
            assert advice.level == FitLevel.too_big
            assert engine == MemoryPolicy.sequential_offload  # the engine tries its strictest estimate
            assert needs_from_weights(weights)[MemoryPolicy.sequential_offload] > _usable(free)
        elif engine == MemoryPolicy.vae_tiling:  # not told apart from full speed
            assert advice.policy == MemoryPolicy.model_offload
        else:
            assert advice.policy == engine
    assert levels == set(FitLevel) - {FitLevel.cpu_only}


def test_needs_grow_with_the_weights_and_shrink_with_stricter_policies() -> None:
    needs = needs_from_weights(10 * GIB)
    assert list(needs) == [MemoryPolicy.full, MemoryPolicy.model_offload, MemoryPolicy.sequential_offload]
    assert (
        needs[MemoryPolicy.full] > needs[MemoryPolicy.model_offload] > needs[MemoryPolicy.sequential_offload]
    )
    assert all(isinstance(value, int) and value > 0 for value in needs.values())
    assert needs_from_weights(20 * GIB)[MemoryPolicy.full] > needs[MemoryPolicy.full]
    assert needs_from_weights(0) == dict.fromkeys(needs, 0)


def test_badges_and_details_say_the_numbers() -> None:
    needs = {
        MemoryPolicy.full: int(9.8 * GIB),
        MemoryPolicy.model_offload: int(5.9 * GIB),
        MemoryPolicy.sequential_offload: int(1.6 * GIB),
    }
    rtx_4070 = GpuInfo("NVIDIA RTX 4070", 12 * GIB, int(14.1 * GIB))
    assert fit_advice(needs, rtx_4070) == Fit(
        FitLevel.fits,
        MemoryPolicy.full,
        "Fits",
        "needs ~9.8 GB at full speed, 14.1 GB free on NVIDIA RTX 4070",
    )
    offload = fit_advice(needs, GpuInfo("NVIDIA RTX 3060", 12 * GIB, 8 * GIB))
    assert (offload.badge, offload.detail) == (
        "Fits with offload",
        "needs ~5.9 GB with model offload (~9.8 GB at full speed), 8.0 GB free on NVIDIA RTX 3060",
    )
    tight = fit_advice(needs, GpuInfo("Small", 4 * GIB, 4 * GIB))
    assert (tight.badge, tight.detail) == (
        "Tight: very slow",
        "needs ~1.6 GB with sequential offload (~9.8 GB at full speed), 4.0 GB free on Small",
    )
    cpu = fit_advice(needs, None)
    assert (cpu.level, cpu.policy, cpu.badge) == (FitLevel.cpu_only, None, "CPU only: slow")
    assert "no NVIDIA GPU" in cpu.detail and "9.8 GB" in cpu.detail and "\n" not in cpu.detail
    with pytest.raises(ValueError):
        fit_advice({}, rtx_4070)


# -- nvidia-smi ------------------------------------------------------------------------------

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the fake nvidia-smi is a shell script")


def _fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """An executable `nvidia-smi` first on PATH, running `body` (sh); it records its arguments."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return tmp_path / "args"


@posix_only
def test_detect_gpu_reads_the_first_gpu_from_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _fake_nvidia_smi(
        tmp_path,
        monkeypatch,
        "echo 'NVIDIA GeForce RTX 4090, 24564, 23000'\necho 'NVIDIA GeForce RTX 3090, 24576, 1000'",
    )
    assert detect_gpu() == RTX_4090
    assert args.read_text().split() == [
        "--query-gpu=name,memory.total,memory.free",
        "--format=csv,noheader,nounits",
    ]
    advice = fit_advice(needs_from_weights(2 * GIB), detect_gpu())
    assert advice.detail.endswith("22.5 GB free on NVIDIA GeForce RTX 4090")


@posix_only
@pytest.mark.parametrize(
    "body",
    [
        "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'",
        "echo 'NVIDIA GeForce RTX 4090, [N/A], [N/A]'",
        "echo 'NVIDIA GeForce RTX 4090, 24564, 30000'",  # more free than there is
        "echo ', 24564, 23000'",
        "true",  # no GPUs: nothing printed
        "echo 'NVIDIA GeForce RTX 4090, 24564, 23000'; exit 9",  # output, but a failure status
        "exit 1",
    ],
    ids=["garbage", "not-available", "free-over-total", "no-name", "empty", "exit-9", "exit-1"],
)
def test_detect_gpu_is_none_for_garbage_or_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    _fake_nvidia_smi(tmp_path, monkeypatch, body)
    assert detect_gpu() is None


@posix_only
def test_detect_gpu_gives_up_on_a_hung_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fit, "_NVIDIA_SMI_TIMEOUT_S", 0.3)
    _fake_nvidia_smi(tmp_path, monkeypatch, "exec sleep 30")
    assert detect_gpu() is None


def test_detect_gpu_is_none_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpu() is None


def test_a_comma_in_the_name_does_not_shift_the_numbers() -> None:
    assert fit.parse_nvidia_smi("\nOdd, Inc. GPU, 8192, 4096\n") == GpuInfo("Odd, Inc. GPU", 8 * GIB, 4 * GIB)
