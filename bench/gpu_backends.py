"""Diffusers backends: time per clip, peak memory, and the engine's overhead over calling pipelines directly.

    python bench/gpu_backends.py [--models NAME ...] [--device cuda|mps|cpu] [--repeats N] [--steps N]

With registered models named (`storybeat models add`), each is timed at the act size below. With none named,
tiny random-weight pipelines (the test fixtures) are built, registered in a temporary config folder and timed
instead — that proves the device path on a machine without weights. The baseline calls the very same loaded
pipeline with the very same arguments (what `DiffusionBackend.arguments` builds) but without the engine:
no pool, no memory ladder, no step callback, no frame conversion and retiming. Target: overhead ≤ 5 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from app.engine.backends import MotionRequest
from app.engine.backends.diffusion import DiffusionBackend, model_frame_count
from app.engine.models.catalog import Task
from app.engine.models.memory import choose_device
from app.engine.models.pool import ModelPool
from app.engine.models.registry import ModelRegistry
from app.model import MotionSettings

DEMO_IMAGE = Path(__file__).resolve().parent.parent / "resources" / "demo" / "01_astronaut.jpg"


def _tiny_registry(root: Path) -> tuple[ModelRegistry, list[str]]:
    from tests.engine.tiny_models import save_tiny_ltx, save_tiny_svd, save_tiny_wan

    registry = ModelRegistry(root / "models.json")
    names = []
    for name, build in (
        ("tiny-svd", save_tiny_svd),
        ("tiny-ltx", save_tiny_ltx),
        ("tiny-wan", save_tiny_wan),
    ):
        registry.add(name, build(root / name))
        names.append(name)
    return registry, names


def _keyframe() -> np.ndarray:
    from app.engine.keyframe import load_image

    return load_image(DEMO_IMAGE)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def bench_model(
    backend: DiffusionBackend,
    pool: ModelPool,
    size: tuple[int, int],
    seconds: float,
    steps: int,
    repeats: int,
) -> None:
    import torch

    fps = Fraction(24)
    request = MotionRequest(
        keyframes=[_keyframe()],
        fit="cover",  # type: ignore[arg-type]
        motion=MotionSettings(),
        length=round(seconds * fps),
        width=size[0],
        height=size[1],
        fps=fps,
        seed=1,
        prompt="waves rolling onto a rocky coast",
        steps=steps,
    )
    device = pool.plan.device
    backend.animate(request)  # warm-up: loads the model into the pool, compiles kernels
    engine: list[float] = []
    direct: list[float] = []
    peaks: list[float] = []
    frames, _ = model_frame_count(backend.spec, request.length, fps)

    def through_engine() -> None:
        clip = backend.animate(request)
        clip.frame(request.length - 1)  # the engine's result includes retiming to the project rate

    def direct_call() -> None:
        with pool.acquire(backend.entry, backend.entry.pipeline) as loaded:
            arguments = backend.arguments(request, frames, loaded.policy)
        loaded.pipe(**arguments, output_type="np")

    for repeat in range(repeats):
        # Alternate which goes first so neither always runs on a warmer cache.
        order = [(through_engine, engine), (direct_call, direct)]
        for run, times in order if repeat % 2 == 0 else order[::-1]:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times.append(time.perf_counter() - start)
            if device == "cuda" and run is through_engine:
                peaks.append(torch.cuda.max_memory_allocated() / 2**30)
    engine_s, direct_s = statistics.median(engine), statistics.median(direct)
    peak = f", peak {max(peaks):.2f} GiB" if peaks else ""
    print(
        f"{backend.name:>12} ({backend.entry.pipeline}, {frames} frames, {steps} steps, {device}): "
        f"engine {engine_s:.3f} s/clip, direct {direct_s:.3f} s/clip, "
        f"overhead {engine_s / direct_s - 1:+.1%} ({(engine_s - direct_s) * 1000:+.0f} ms){peak}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[])
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--size", default=None, help="WxH (default: 64x64 for tiny models, 768x432 else)")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as scratch:
        if args.models:
            registry, names = ModelRegistry(), args.models
            size, steps, seconds = (768, 432), args.steps or 20, args.seconds or 2.0
        else:
            registry, names = _tiny_registry(Path(scratch))
            size, steps, seconds = (64, 64), args.steps or 4, args.seconds or 1.0
        if args.size:
            width, height = (int(v) for v in args.size.lower().split("x"))
            size = (width, height)
        plan = choose_device(args.device)
        print(f"device {plan.device}, dtype {plan.dtype_name}; {args.repeats} repeats, median shown")
        pool = ModelPool(plan=plan)
        for name in names:
            entry = registry.get(name)
            if entry.spec().task is not Task.image_to_video:
                print(f"{name}: {entry.pipeline} is not an image-to-video model, skipped")
                continue
            bench_model(DiffusionBackend(entry, pool), pool, size, seconds, steps, args.repeats)
            pool.unload_all()


if __name__ == "__main__":
    main()
