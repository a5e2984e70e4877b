"""Device choice, weight sizes from safetensors headers, the out-of-memory ladder and the model pool.

No diffusers here: pipelines are fakes that record the placement calls made on them, and out-of-memory is
simulated with the errors torch raises.
"""

from __future__ import annotations

import itertools
import json
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from app.engine.models.memory import (
    DevicePlan,
    MemoryPolicy,
    OutOfMemory,
    apply_policy,
    choose_device,
    decode_chunk_size,
    is_out_of_memory,
    run_with_memory_ladder,
    starting_policy,
    weights_bytes,
)
from app.engine.models.pool import ModelPool, default_pool, derive_pipeline
from app.engine.models.registry import ModelEntry
from app.errors import Cancelled, InputError

GIB = 1024**3
CPU = DevicePlan("cpu", "float32")


@dataclass(frozen=True)
class GpuPlan(DevicePlan):
    """A CUDA plan whose free and total memory the test sets (this machine has no GPU)."""

    free: int | None = None
    total: int | None = None

    def free_bytes(self) -> int | None:
        return self.free

    def total_bytes(self) -> int | None:
        return self.total


class FakeVae:
    def __init__(self) -> None:
        self.tiling = False
        self.slicing = False

    def enable_tiling(self) -> None:
        self.tiling = True

    def disable_tiling(self) -> None:
        self.tiling = False

    def enable_slicing(self) -> None:
        self.slicing = True

    def disable_slicing(self) -> None:
        self.slicing = False


class FakePipe:
    """Records placement calls; `.to(device)` raises CUDA out-of-memory while `oom_on_to` is set."""

    def __init__(self, label: str = "", oom_on_to: bool = False) -> None:
        self.label = label
        self.oom_on_to = oom_on_to
        self.vae = FakeVae()
        self.calls: list[tuple[str, str | None]] = []

    def to(self, device: str) -> None:
        if self.oom_on_to and device != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.calls.append(("to", device))

    def enable_model_cpu_offload(self, device: str | None = None) -> None:
        self.calls.append(("model_offload", device))

    def enable_sequential_cpu_offload(self, device: str | None = None) -> None:
        self.calls.append(("sequential_offload", device))

    def remove_all_hooks(self) -> None:
        self.calls.append(("remove_hooks", None))

    def maybe_free_model_hooks(self) -> None:
        self.calls.append(("free_hooks", None))


def cuda_oom() -> RuntimeError:
    return RuntimeError("CUDA out of memory. Tried to allocate 1.50 GiB (GPU 0; 7.79 GiB total capacity)")


# --- the ladder ------------------------------------------------------------------------------------------


def test_ladder_retries_each_stricter_policy_and_reports_it() -> None:
    tried: list[MemoryPolicy] = []
    retries: list[tuple[MemoryPolicy, str]] = []

    def attempt(policy: MemoryPolicy) -> str:
        tried.append(policy)
        if policy < MemoryPolicy.sequential_offload:
            raise torch.OutOfMemoryError(f"CUDA out of memory at {policy.name}")
        return f"done with {policy.name}"

    def on_retry(policy: MemoryPolicy, error: BaseException) -> None:
        retries.append((policy, str(error)))

    result = run_with_memory_ladder(attempt, MemoryPolicy.vae_tiling, on_retry)
    assert result == "done with sequential_offload"
    assert tried == [MemoryPolicy.vae_tiling, MemoryPolicy.model_offload, MemoryPolicy.sequential_offload]
    assert retries == [
        (MemoryPolicy.model_offload, "CUDA out of memory at vae_tiling"),
        (MemoryPolicy.sequential_offload, "CUDA out of memory at model_offload"),
    ]


def test_ladder_gives_up_after_lower_resolution_naming_what_it_tried() -> None:
    errors = [cuda_oom() for _ in range(3)]

    def attempt(policy: MemoryPolicy) -> None:
        raise errors[policy - MemoryPolicy.model_offload]

    with pytest.raises(OutOfMemory, match="model offload, sequential offload, lower resolution") as caught:
        run_with_memory_ladder(attempt, MemoryPolicy.model_offload)
    assert caught.value.__cause__ is errors[-1]


@pytest.mark.parametrize("error", [ValueError("bad prompt"), Cancelled("cancelled"), RuntimeError("shape")])
def test_ladder_lets_other_errors_through_at_once(error: Exception) -> None:
    calls: list[MemoryPolicy] = []
    retries: list[MemoryPolicy] = []

    def attempt(policy: MemoryPolicy) -> None:
        calls.append(policy)
        raise error

    with pytest.raises(type(error)) as caught:
        run_with_memory_ladder(attempt, MemoryPolicy.full, lambda p, e: retries.append(p))
    assert caught.value is error
    assert (calls, retries) == ([MemoryPolicy.full], [])


def test_ladder_frees_what_the_failed_attempt_held_before_retrying() -> None:
    class Activations:
        pass

    held: list[weakref.ref[Activations]] = []
    alive_at_retry: list[bool] = []

    def attempt(policy: MemoryPolicy) -> None:
        activations = Activations()  # referenced only by this frame, which the traceback keeps
        held.append(weakref.ref(activations))
        if policy == MemoryPolicy.full:
            raise cuda_oom()
        alive_at_retry.append(held[0]() is not None)

    run_with_memory_ladder(attempt, MemoryPolicy.full)
    assert alive_at_retry == [False]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (torch.OutOfMemoryError("CUDA out of memory."), True),
        (cuda_oom(), True),
        (RuntimeError("MPS backend out of memory (MPS allocated: 17.5 GB)"), True),
        (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"), True),
        (MemoryError(), True),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
        (ValueError("out of memory is not a valid prompt"), False),
        (Cancelled("cancelled"), False),
    ],
)
def test_is_out_of_memory(error: BaseException, expected: bool) -> None:
    assert is_out_of_memory(error) is expected


# --- placement ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "placement", "tiled"),
    [
        (MemoryPolicy.full, ("to", "cuda"), False),
        (MemoryPolicy.vae_tiling, ("to", "cuda"), True),
        (MemoryPolicy.model_offload, ("model_offload", "cuda"), True),
        (MemoryPolicy.sequential_offload, ("sequential_offload", "cuda"), True),
        (MemoryPolicy.lower_resolution, ("sequential_offload", "cuda"), True),
    ],
)
def test_apply_policy_places_the_pipeline(
    policy: MemoryPolicy, placement: tuple[str, str], tiled: bool
) -> None:
    pipe = FakePipe()
    apply_policy(pipe, policy, DevicePlan("cuda", "bfloat16"))
    assert pipe.calls == [("remove_hooks", None), placement]
    assert (pipe.vae.tiling, pipe.vae.slicing) == (tiled, tiled)


def test_switching_policy_removes_the_previous_hooks_and_tiling() -> None:
    pipe = FakePipe()
    plan = DevicePlan("cuda", "float16")
    apply_policy(pipe, MemoryPolicy.model_offload, plan)
    apply_policy(pipe, MemoryPolicy.full, plan)
    assert pipe.calls == [
        ("remove_hooks", None),
        ("model_offload", "cuda"),
        ("remove_hooks", None),
        ("to", "cuda"),
    ]
    assert not pipe.vae.tiling and not pipe.vae.slicing


def test_on_cpu_offload_policies_only_tile() -> None:
    pipe = FakePipe()
    apply_policy(pipe, MemoryPolicy.sequential_offload, CPU)
    assert pipe.calls == [("remove_hooks", None), ("to", "cpu")]
    assert pipe.vae.tiling


def test_a_vae_without_tiling_still_gets_placed() -> None:
    class UntiledVae:  # SVD's temporal decoder raises like this
        def enable_tiling(self) -> None:
            raise NotImplementedError("Tiling doesn't seem to be implemented")

    pipe = FakePipe()
    pipe.vae = UntiledVae()  # type: ignore[assignment]
    apply_policy(pipe, MemoryPolicy.model_offload, DevicePlan("cuda", "float16"))
    assert ("model_offload", "cuda") in pipe.calls


def test_decode_chunks_shrink_as_policies_get_stricter() -> None:
    chunks = [decode_chunk_size(policy) for policy in MemoryPolicy]
    assert chunks[0] is None
    sizes = [c for c in chunks[1:] if c is not None]
    assert len(sizes) == len(chunks) - 1
    assert all(stricter < looser for looser, stricter in itertools.pairwise(sizes))


def test_starting_policy_picks_the_least_strict_that_fits() -> None:
    weights = 10 * GIB
    assert starting_policy(weights, CPU) is MemoryPolicy.full
    policies = [
        starting_policy(weights, GpuPlan("cuda", "float16", free=free * GIB)) for free in (80, 14, 11, 4, 1)
    ]
    assert policies == sorted(policies)  # less free memory never picks a less strict policy
    assert policies[0] is MemoryPolicy.full
    assert policies[-1] is MemoryPolicy.sequential_offload  # nothing fits; only the ladder lowers the size
    assert MemoryPolicy.model_offload in policies
    assert starting_policy(weights, GpuPlan("mps", "float16", free=None, total=None)) is MemoryPolicy.full
    assert starting_policy(weights, GpuPlan("mps", "float16", free=None, total=4 * GIB)) > MemoryPolicy.full


# --- devices -----------------------------------------------------------------------------------------------


def test_choose_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORYBEAT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device() == DevicePlan("cpu", "float32")
    with pytest.raises(InputError, match="device: cuda was asked for"):
        choose_device("cuda")
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        choose_device("tpu")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_device() == DevicePlan("cuda", "float16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_device("auto") == DevicePlan("cuda", "bfloat16")
    assert choose_device().dtype is torch.bfloat16

    monkeypatch.setenv("STORYBEAT_DEVICE", "CPU")  # the environment overrides the argument
    assert choose_device("cuda") == DevicePlan("cpu", "float32")
    monkeypatch.setenv("STORYBEAT_DEVICE", "mps")
    with pytest.raises(InputError, match="STORYBEAT_DEVICE: mps"):
        choose_device()


def test_importing_the_pool_does_not_import_torch() -> None:
    code = "import sys, app.engine.models.pool; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- weight sizes ------------------------------------------------------------------------------------------


def _weights(path: Path, floats: int, ints: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"w": np.zeros((floats,), np.float32)}
    if ints:
        tensors["steps"] = np.zeros((ints,), np.int64)
    save_file(tensors, str(path))


def test_weights_bytes_scales_floats_to_the_target_dtype(tmp_path: Path) -> None:
    _weights(tmp_path / "model.safetensors", floats=300, ints=5)
    assert weights_bytes(tmp_path, "float32") == 300 * 4 + 5 * 8
    assert weights_bytes(tmp_path, "float16") == 300 * 2 + 5 * 8


def test_weights_bytes_reads_headers_only(tmp_path: Path) -> None:
    header = json.dumps({"big": {"dtype": "BF16", "shape": [1024, 1024, 256], "data_offsets": [0, 2**29]}})
    (tmp_path / "big.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())  # no data
    assert weights_bytes(tmp_path, "float32") == 2**28 * 4


def test_weights_bytes_counts_what_the_loader_reads(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(
        json.dumps(
            {"_class_name": "X", "unet": ["diffusers", "U"], "vae": ["diffusers", "V"], "sc": [None, None]}
        )
    )
    _weights(tmp_path / "unet/diffusion_pytorch_model.safetensors", 100)
    _weights(tmp_path / "unet/diffusion_pytorch_model.fp16.safetensors", 100)  # a variant: not loaded
    # the only variant there is, in two shards: loaded
    _weights(tmp_path / "vae/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", 10)
    _weights(tmp_path / "vae/diffusion_pytorch_model.fp16-00002-of-00002.safetensors", 20)
    _weights(tmp_path / "sc/model.safetensors", 1000)  # a component model_index.json leaves out
    _weights(tmp_path / "single_file_checkpoint.safetensors", 1000)  # beside the diffusers layout
    assert weights_bytes(tmp_path, "float16") == (100 + 10 + 20) * 2


def test_weights_bytes_names_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "broken.safetensors").write_bytes(struct.pack("<Q", 12) + b"{not json!!}")
    with pytest.raises(InputError, match=r"broken\.safetensors: not a safetensors file"):
        weights_bytes(tmp_path, "float16")


# --- the pool ----------------------------------------------------------------------------------------------


class FakeLoader:
    def __init__(self, oom_on_to: bool = False) -> None:
        self.loads: list[tuple[str, str, str]] = []
        self.derived: list[tuple[FakePipe, str]] = []
        self.oom_on_to = oom_on_to

    def __call__(self, entry: ModelEntry, class_name: str, device: str, dtype: torch.dtype) -> FakePipe:
        self.loads.append((entry.name, class_name, device))
        return FakePipe(f"{entry.name}:{entry.revision}", self.oom_on_to)

    def derive(self, base: FakePipe, class_name: str, dtype: torch.dtype) -> FakePipe:
        self.derived.append((base, class_name))
        return FakePipe(f"{base.label}>{class_name}")


def _entry(root: Path, name: str, revision: str = "r1", pipeline: str = "FluxPipeline") -> ModelEntry:
    _weights(root / name / "model.safetensors", 100)
    return ModelEntry(name, root / name, pipeline, revision)


def _pool(loader: FakeLoader, plan: DevicePlan = CPU, budget: int | None = None) -> ModelPool:
    return ModelPool(loader, plan, budget_bytes=budget, derive=loader.derive)


def test_pool_keeps_a_model_loaded_and_remembers_its_policy(tmp_path: Path) -> None:
    loader = FakeLoader()
    pool = _pool(loader, GpuPlan("cuda", "float32", free=100 * GIB))
    entry = _entry(tmp_path, "flux")
    with pool.acquire(entry, "FluxPipeline") as model:
        first = model.pipe
        assert model.policy is MemoryPolicy.full and first.calls[-1] == ("to", "cuda")
        model.set_policy(MemoryPolicy.sequential_offload)
        assert first.calls[-1] == ("sequential_offload", "cuda")
    calls_before = len(first.calls)
    with pool.acquire(entry, "FluxPipeline") as model:
        assert model.pipe is first and model.policy is MemoryPolicy.sequential_offload
    assert len(first.calls) == calls_before  # already placed: nothing re-applied
    assert loader.loads == [("flux", "FluxPipeline", "cpu")]


def test_pool_places_down_the_ladder_when_the_model_does_not_fit(tmp_path: Path) -> None:
    pool = _pool(FakeLoader(oom_on_to=True), GpuPlan("cuda", "float16", free=100 * GIB))
    with pool.acquire(_entry(tmp_path, "flux"), "FluxPipeline") as model:
        assert model.policy is MemoryPolicy.model_offload
        assert model.pipe.calls[-1] == ("model_offload", "cuda")


def test_pool_unloads_the_least_recently_used_to_fit_the_budget(tmp_path: Path) -> None:
    loader = FakeLoader()
    pool = _pool(loader, budget=1000)  # each model below is 400 bytes (100 float32)
    a, b, c = (_entry(tmp_path, name) for name in "abc")
    for entry in (a, b, a, c):  # b is now the least recently used
        with pool.acquire(entry, "FluxPipeline"):
            pass
    assert [name for name, _, _ in loader.loads] == ["a", "b", "c"]
    for entry in (a, c, b):  # a and c stayed; b comes back, unloading a
        with pool.acquire(entry, "FluxPipeline"):
            pass
    assert [name for name, _, _ in loader.loads] == ["a", "b", "c", "b"]
    with pool.acquire(a, "FluxPipeline"):
        pass
    assert [name for name, _, _ in loader.loads][-1] == "a"


def test_pool_reloads_a_model_whose_folder_changed(tmp_path: Path) -> None:
    loader = FakeLoader()
    pool = _pool(loader)
    entry = _entry(tmp_path, "flux")
    with pool.acquire(entry, "FluxPipeline") as model:
        old = model.pipe
    with pool.acquire(ModelEntry(entry.name, entry.path, entry.pipeline, "r2"), "FluxPipeline") as model:
        assert model.pipe is not old and model.pipe.label == "flux:r2"
    assert len(loader.loads) == 2


def test_pool_derives_img2img_from_the_loaded_base(tmp_path: Path) -> None:
    loader = FakeLoader()
    pool = _pool(loader)
    entry = _entry(tmp_path, "sd", pipeline="StableDiffusionPipeline")
    with pool.acquire(entry, "StableDiffusionImg2ImgPipeline") as model:  # loads the base, then derives
        refiner = model.pipe
        assert refiner.calls[-1] == ("to", "cpu")
    with pool.acquire(entry, "StableDiffusionPipeline") as model:
        base = model.pipe
    with pool.acquire(entry, "StableDiffusionImg2ImgPipeline") as model:
        assert model.pipe is refiner
    assert loader.loads == [("sd", "StableDiffusionPipeline", "cpu")]
    assert loader.derived == [(base, "StableDiffusionImg2ImgPipeline")]
    wrong_class = "'sd' is a StableDiffusionPipeline; it cannot run as FluxImg2ImgPipeline"
    with pytest.raises(InputError, match=wrong_class), pool.acquire(entry, "FluxImg2ImgPipeline"):
        pass


def test_pool_resets_offload_hooks_after_an_interrupted_job_and_keeps_the_model(tmp_path: Path) -> None:
    loader = FakeLoader()
    pool = _pool(loader)
    entry = _entry(tmp_path, "flux")
    with pytest.raises(Cancelled), pool.acquire(entry, "FluxPipeline") as model:
        raise Cancelled("cancelled")
    assert model.pipe.calls[-1] == ("free_hooks", None)
    with pool.acquire(entry, "FluxPipeline"):
        pass
    pool.unload_all()
    with pool.acquire(entry, "FluxPipeline"):
        pass
    assert len(loader.loads) == 2


def test_pool_runs_one_generation_at_a_time(tmp_path: Path) -> None:
    pool = _pool(FakeLoader())
    entries = [_entry(tmp_path, name) for name in ("one", "two")]
    inside = threading.Event()
    let_go = threading.Event()
    log: list[str] = []

    def first() -> None:
        with pool.acquire(entries[0], "FluxPipeline"):
            log.append("first in")
            inside.set()
            let_go.wait(5)
            log.append("first out")

    def second() -> None:
        with pool.acquire(entries[1], "FluxPipeline"):
            log.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert inside.wait(5)
    threads[1].start()
    time.sleep(0.1)  # room for the second thread to (wrongly) get in
    assert log == ["first in"]
    let_go.set()
    for thread in threads:
        thread.join(5)
    assert log == ["first in", "first out", "second in"]


def test_default_pool_is_one_per_process() -> None:
    pools: list[ModelPool] = []
    threads = [threading.Thread(target=lambda: pools.append(default_pool())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pools) == 4 and all(pool is pools[0] for pool in pools)


def test_derive_refuses_a_class_outside_the_catalog() -> None:
    with pytest.raises(InputError, match="'UNet2DConditionModel' is not supported"):
        derive_pipeline(FakePipe(), "UNet2DConditionModel", torch.float16)


def _tiny_stable_diffusion(dtype: torch.dtype) -> Any:
    """A real StableDiffusionPipeline of random, tiny components (no tokenizer: nothing here encodes text)."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet: Any = UNet2DConditionModel(
        sample_size=8, block_out_channels=(4, 8), layers_per_block=1, norm_num_groups=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8, attention_head_dim=2,
    )  # fmt: skip
    vae: Any = AutoencoderKL(
        block_out_channels=(4,), down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",), latent_channels=4, norm_num_groups=4,
    )  # fmt: skip
    text_encoder: Any = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=8, intermediate_size=16, num_attention_heads=2, num_hidden_layers=1, vocab_size=99
        )
    )
    return StableDiffusionPipeline(
        unet=unet.to(dtype), vae=vae.to(dtype), text_encoder=text_encoder.to(dtype), tokenizer=None,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip


@pytest.mark.slow  # importing diffusers and transformers takes several seconds
def test_a_derived_diffusers_pipeline_shares_the_weights_and_their_dtype() -> None:
    base = _tiny_stable_diffusion(torch.bfloat16)
    apply_policy(base, MemoryPolicy.vae_tiling, DevicePlan("cpu", "bfloat16"))
    assert base.vae.use_tiling and base.vae.use_slicing
    refiner = derive_pipeline(base, "StableDiffusionImg2ImgPipeline", torch.bfloat16)
    assert type(refiner).__name__ == "StableDiffusionImg2ImgPipeline"
    assert refiner.unet is base.unet and refiner.vae is base.vae
    assert base.unet.dtype == torch.bfloat16  # from_pipe left alone would have cast the shared unet to fp32
    apply_policy(refiner, MemoryPolicy.full, DevicePlan("cpu", "bfloat16"))
    assert not base.vae.use_tiling
