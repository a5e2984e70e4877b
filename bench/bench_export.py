"""Benchmark the final export against PyAV alone, and check that its memory stays flat with length.

1. Overhead: N pre-generated 1080p frames encoded by a bare PyAV libx264 loop, by `export_video` without
   audio and by `export_video` with AAC audio from a sine source (same crf, preset and threads). Each is
   run `--repeats` times and the fastest run counts. Target: export / bare <= 1.15.
2. Memory: `export_video` of 30 s and 120 s of 1080p at 24 fps with audio, each in its own process, frames
   made on the fly; peak RSS of each child. Target: the two peaks differ by < 10 %.

Run: python bench/bench_export.py [--frames 240] [--preset medium] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.export import ExportFormat, ExportSettings, export_video

WIDTH, HEIGHT, FPS, CRF = 1920, 1080, Fraction(24), 18
SAMPLE_RATE, CHANNELS = 48000, 2


def base_image(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A colour gradient (float32) and a grain texture (int16, ±12) to move over it."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    gradient = np.stack([x / WIDTH * 220, y / HEIGHT * 200, (x + y) / (WIDTH + HEIGHT) * 255], axis=-1)
    grain = np.random.default_rng(seed).integers(-12, 13, size=(HEIGHT, WIDTH, 3), dtype=np.int16)
    return gradient, grain


def textured_frame(gradient: np.ndarray, grain: np.ndarray, index: int) -> np.ndarray:
    """A moving gradient with grain drifting the other way: real work for the encoder's motion search."""
    moved = np.roll(gradient, 6 * index, axis=1) + np.roll(grain, 2 * index, axis=0)
    return np.clip(moved, 0, 255).astype(np.uint8)


def sine_source(freq_hz: float = 440.0) -> Callable[[int, int], np.ndarray]:
    def source(start: int, count: int) -> np.ndarray:
        mono = 0.3 * np.sin(2 * np.pi * freq_hz * np.arange(start, start + count) / SAMPLE_RATE)
        return np.repeat(mono[:, None].astype(np.float32), CHANNELS, axis=1)

    return source


def bare_encode(path: Path, frames: Sequence[np.ndarray], preset: str) -> None:
    """What a script would write with PyAV alone: same codec, crf, preset and threads, no audio."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": str(CRF), "preset": preset})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = 0
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode(None))


def settings(preset: str) -> ExportSettings:
    return ExportSettings(
        fps=FPS, width=WIDTH, height=HEIGHT, format=ExportFormat.h264, crf=CRF, preset=preset
    )


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) spent in `run`."""
    cpu_before, start = os.times(), time.perf_counter()
    run()
    wall, cpu_after = time.perf_counter() - start, os.times()
    return wall, (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)


def bench_overhead(frame_count: int, preset: str, repeats: int) -> None:
    gradient, grain = base_image()
    frames = [textured_frame(gradient, grain, i) for i in range(frame_count)]
    names = ("bare PyAV libx264", "export_video", "export_video + AAC")
    wall = dict.fromkeys(names, float("inf"))
    cpu = dict.fromkeys(names, float("inf"))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        runs: dict[str, Callable[[], object]] = {
            names[0]: lambda: bare_encode(out / "bare.mp4", frames, preset),
            names[1]: lambda: export_video(out / "export.mp4", frames, frame_count, settings(preset)),
            names[2]: lambda: export_video(
                out / "audio.mp4", frames, frame_count, settings(preset), audio=sine_source()
            ),
        }
        for _ in range(repeats):  # interleaved, so drift in machine load hits all three alike
            for name, run in runs.items():
                run_wall, run_cpu = timed(run)
                wall[name], cpu[name] = min(wall[name], run_wall), min(cpu[name], run_cpu)
    bare = names[0]
    print(f"\nOverhead: {frame_count} frames {WIDTH}x{HEIGHT}, libx264 crf {CRF} preset {preset}")
    print(f"fastest of {repeats} interleaved runs; CPU = user + system seconds of all threads")
    print(f"{'encoder':<20}{'wall s':>8}{'frames/s':>10}{'÷ bare':>8}{'CPU s':>8}{'÷ bare':>8}")
    for name in names:
        row = f"{name:<20}{wall[name]:>8.2f}{frame_count / wall[name]:>10.1f}{wall[name] / wall[bare]:>8.3f}"
        print(f"{row}{cpu[name]:>8.1f}{cpu[name] / cpu[bare]:>8.3f}")
    print(
        f"target: export ÷ bare <= 1.15 (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


def child_export(seconds: int) -> None:
    """Runs in a subprocess: export `seconds` of film and print its peak memory as JSON."""
    gradient, grain = base_image()
    frame_count = int(seconds * FPS)
    image = textured_frame(gradient, grain, 0)

    def frames() -> Iterator[np.ndarray]:
        for index in range(frame_count):
            yield np.roll(image, 4 * index, axis=1)

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        export_video(
            Path(folder) / "long.mp4", frames(), frame_count, settings("ultrafast"), audio=sine_source()
        )
        wall = time.perf_counter() - start
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    result = {"seconds": seconds, "frames": frame_count, "wall_s": wall, "maxrss_mb": maxrss_mb}
    print(json.dumps(result | {"vmhwm_mb": own_peak_rss_mb()}))


def own_peak_rss_mb() -> float | None:
    """Peak RSS of this process image alone (Linux VmHWM), or None where /proc is missing.

    ru_maxrss survives exec: a child started by a process that once held more memory reports the parent's
    peak. VmHWM starts afresh at exec, so it cross-checks the figure.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(kib) / 1024 if kib else None


def bench_memory(lengths: Sequence[int]) -> None:
    results = []
    for seconds in lengths:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(seconds)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"\nMemory: {WIDTH}x{HEIGHT} at {FPS} fps with AAC, preset ultrafast, one process each")
    print(f"{'film':>8}{'frames':>8}{'wall s':>9}{'frames/s':>10}{'ru_maxrss MB':>14}{'VmHWM MB':>10}")
    for result in results:
        fps = result["frames"] / result["wall_s"]
        vmhwm = "n/a" if result["vmhwm_mb"] is None else f"{result['vmhwm_mb']:.0f}"
        line = f"{result['seconds']:>6} s{result['frames']:>8}{result['wall_s']:>9.1f}{fps:>10.1f}"
        print(f"{line}{result['maxrss_mb']:>14.0f}{vmhwm:>10}")
    ratio = results[-1]["maxrss_mb"] / results[0]["maxrss_mb"]
    print(f"peak RSS {lengths[-1]} s ÷ {lengths[0]} s = {ratio:.3f} (target: within 10 %)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=240, help="frames for the overhead benchmark")
    parser.add_argument("--preset", default="medium", help="x264 preset for the overhead benchmark")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each encoder; the fastest counts")
    parser.add_argument("--lengths", type=int, nargs="+", default=[30, 120], help="film seconds for memory")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child_export(args.child)
        return
    # memory first: ru_maxrss in a child inherits the parent's peak, which the overhead frames would raise
    bench_memory(args.lengths)
    bench_overhead(args.frames, args.preset, args.repeats)


if __name__ == "__main__":
    main()
