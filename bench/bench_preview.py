"""Scrubbing and waveform figures for the editor's draft preview.

1. A cached draft frame at random playhead positions: p50/p95 of `DraftService.frame()` over 1,000 random
   timeline frames of a 20-act 1080p project (drafts 480x270, a crossfade at every other cut), against a bare
   `cv2.imdecode` of one stored JPEG; then the same while the worker re-renders every act (old drafts shown).
2. `DraftService.set_project` cost for 100 and 1,000 acts (the GUI thread budget is 1 ms per 100 acts).
3. Waveform peaks for 10 minutes of 48 kHz stereo: build time against reading the raw PCM bytes, and
   `columns()` for a 1920-column view at three zooms.
Run: python bench/bench_preview.py
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication

from app.engine.audio.decode import PcmFile
from app.engine.audio.peaks import build_peaks
from app.engine.cache import StageCache
from app.engine.preview import frozen_copy
from app.engine.worker import DraftService
from app.model import (
    Act,
    CameraMove,
    MediaRef,
    MotionSettings,
    Project,
    ProjectSettings,
    TransitionKind,
    TransitionSpec,
)

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"
ACTS = 20
FRAMES_PER_ACT = 48
POSITIONS = 1000
AUDIO_MINUTES = 10
RATE = 48000


def _percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def _time_calls(call: Callable[[int], object], arguments: list[int]) -> list[float]:
    times = []
    for argument in arguments:
        start = time.perf_counter()
        call(argument)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _project(photos: list[str], acts: int) -> Project:
    cameras = list(CameraMove)
    crossfade = TransitionSpec(kind=TransitionKind.crossfade, frames=12)
    return Project(
        settings=ProjectSettings(fps=Fraction(24), width=1920, height=1080),
        acts=[
            Act(
                id=f"act{i}",
                name=f"Act {i}",
                duration_frames=FRAMES_PER_ACT,
                references=[MediaRef(path=photos[i % len(photos)])],
                motion=MotionSettings(camera=cameras[i % len(cameras)]),
                transition=crossfade if i % 2 else TransitionSpec(),
                seed=i,
            )
            for i in range(acts)
        ],
    )


def bench_scrubbing(work: Path) -> None:
    photos = []
    for photo in sorted(DEMO.glob("0*.jpg")):
        shutil.copy(photo, work / photo.name)
        photos.append(photo.name)
    project = _project(photos, ACTS)
    drafts = DraftService(StageCache(work / "cache"))
    try:
        start = time.perf_counter()
        drafts.set_project(project, work, 1)
        if not drafts.wait_idle(600):
            raise SystemExit("drafts did not finish within 10 minutes")
        elapsed = time.perf_counter() - start
        print(f"drafts for {ACTS} acts x {FRAMES_PER_ACT} frames rendered in {elapsed:.1f} s")
        rng = random.Random(1)
        positions = [rng.randrange(project.duration_frames) for _ in range(POSITIONS)]
        drafts.frame(0)  # first-call costs (imports, file cache) are not what scrubbing feels
        p50, p95 = _percentiles(_time_calls(drafts.frame, positions))

        stored = sorted((work / "cache").rglob("*.jpg"))[0]
        data = np.fromfile(stored, dtype=np.uint8)
        base50, base95 = _percentiles(
            _time_calls(lambda _: cv2.imdecode(np.fromfile(stored, np.uint8), cv2.IMREAD_COLOR), positions)
        )
        frame = drafts.frame(positions[0])
        size = f"{frame.shape[1]}x{frame.shape[0]}" if frame is not None else "none"
        print(
            f"\ncached draft frame ({size}, JPEG {data.size / 1024:.0f} KiB), {POSITIONS} random positions:"
        )
        print(f"  DraftService.frame()        p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   (target p95 < 5 ms)")
        print(f"  bare imdecode of one JPEG   p50 {base50:6.2f} ms   p95 {base95:6.2f} ms")
        print(f"  ratio frame()/imdecode      p50 {p50 / base50:6.2f}x     p95 {p95 / base95:6.2f}x")

        edited = frozen_copy(project)
        for act in edited.acts:
            act.seed += 1000
        drafts.set_project(edited, work, 2)
        busy50, busy95 = _percentiles(_time_calls(drafts.frame, positions))
        print(f"  while re-rendering all acts p50 {busy50:6.2f} ms   p95 {busy95:6.2f} ms")
    finally:
        drafts.shutdown()


def bench_set_project(work: Path) -> None:
    drafts = DraftService(StageCache(work / "cache-set"))
    try:
        print("\nset_project on the GUI thread (snapshot + layout + notify; target < 1 ms per 100 acts):")
        for acts in (100, 1000):
            project = _project(["missing.jpg"], acts)
            idle, busy = [], []
            for revision in range(20):
                drafts.wait_idle(60)  # not timed: the worker has taken in the previous snapshot
                start = time.perf_counter()
                drafts.set_project(project, work, 2 * revision)
                idle.append((time.perf_counter() - start) * 1000)
                # Straight after: the worker is evaluating the previous snapshot and holds the GIL at times.
                start = time.perf_counter()
                drafts.set_project(project, work, 2 * revision + 1)
                busy.append((time.perf_counter() - start) * 1000)
            idle50, _ = _percentiles(idle)
            busy50, _ = _percentiles(busy)
            scale = acts / 100
            for label, p50 in (("worker idle", idle50), ("worker busy", busy50)):
                print(f"  {acts:5d} acts, {label}: p50 {p50:6.2f} ms = {p50 / scale:.2f} ms per 100 acts")
    finally:
        drafts.shutdown()


def bench_peaks(work: Path) -> None:
    frames = AUDIO_MINUTES * 60 * RATE
    path = work / "long.f32"
    rng = np.random.default_rng(0)
    with path.open("wb") as out:
        for offset in range(0, frames, RATE * 10):
            t = np.arange(offset, min(offset + RATE * 10, frames)) / RATE
            tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.1 * t))
            noise = 0.05 * rng.standard_normal(t.size)
            np.stack([tone + noise, tone - noise], axis=1).astype("<f4").tofile(out)
    pcm = PcmFile(path, RATE, 2)
    start = time.perf_counter()
    with path.open("rb") as source:
        while source.read(1 << 23):  # the I/O floor: the same bytes in 8 MiB reads, nothing computed
            pass
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    peaks = build_peaks(pcm)
    build_s = time.perf_counter() - start
    size_mb = path.stat().st_size / 1e6
    print(f"\nwaveform peaks, {AUDIO_MINUTES} min stereo 48 kHz ({size_mb:.0f} MB of PCM):")
    print(f"  build                 {build_s * 1000:7.1f} ms   (target < 500 ms)")
    print(f"  baseline: raw read    {read_s * 1000:7.1f} ms   ratio {build_s / read_s:.2f}x")
    for label, start_s, end_s in (
        ("whole 10 min", 0.0, peaks.duration_s),
        ("30 s", 120.0, 150.0),
        ("1 s", 120.0, 121.0),
    ):

        def view(_: int, start_s: float = start_s, end_s: float = end_s) -> object:
            return peaks.columns(start_s, end_s, 1920)

        times = _time_calls(view, list(range(200)))
        p50, p95 = _percentiles(times)
        print(f"  columns(1920) {label:>12}: p50 {p50:6.3f} ms  p95 {p95:6.3f} ms")


def main() -> None:
    app = QCoreApplication.instance() or QCoreApplication([])
    work = Path(tempfile.mkdtemp(prefix="storybeat-bench-preview-"))
    try:
        bench_scrubbing(work)
        bench_set_project(work)
        bench_peaks(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        del app


if __name__ == "__main__":
    main()
