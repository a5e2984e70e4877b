"""Benchmark the finishing stage (stylize, grain, vignette) after the colour grade, no encoding.

1. Each effect alone and all three together on a 1920x1080 demo frame: ms per frame of `Finisher`, against
   the bare colour grade (`Grader` with exposure, contrast, saturation and temperature set, no LUT)
   measured in the same run; ratio = finish ms / grade ms. The same at the 480x270 draft size.
2. The finished motion frame at 1080p: frames/s of motion → grade → finish with all three on (target
   >= 20 frames/s, the final motion render target) against motion → grade alone.
Every figure is the best of three runs, alternating ours and the baseline (shared machines are noisy); the
frame index advances every call, so the grain is drawn afresh each time as in a render.

Run: python bench/bench_finish.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.backends.motion import MotionClip
from app.engine.clip import GradedClip
from app.engine.finish import FinishedClip, Finisher
from app.engine.grade import Grader
from app.engine.keyframe import fit_image, load_image
from app.model.act import CameraMove, FitMode, GradeSettings, MotionSettings

DEMO = Path(__file__).resolve().parents[1] / "resources" / "demo"
ACT_FRAMES = 96
FINAL_TARGET_FPS = 20.0
GRADE = GradeSettings(exposure=0.2, contrast=1.2, saturation=1.1, temperature=0.2)
EFFECTS = {
    "stylize 0.3": GRADE.model_copy(update={"stylize": 0.3}),
    "stylize 0.6": GRADE.model_copy(update={"stylize": 0.6}),
    "stylize 1.0": GRADE.model_copy(update={"stylize": 1.0}),
    "grain 0.5": GRADE.model_copy(update={"grain": 0.5}),
    "vignette 0.5": GRADE.model_copy(update={"vignette": 0.5}),
    "all (s 0.6, g 0.4, v 0.4)": GRADE.model_copy(update={"stylize": 0.6, "grain": 0.4, "vignette": 0.4}),
    "all (s 1.0, g 1.0, v 1.0)": GRADE.model_copy(update={"stylize": 1.0, "grain": 1.0, "vignette": 1.0}),
}


def calls_per_second(render: Callable[[int], object], seconds: float) -> float:
    """Calls render(0), render(1), ... for about `seconds` (at least 5 calls); returns calls/s."""
    render(0)  # warm-up: cached masks, thread pool
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 5:
        render(count % ACT_FRAMES)
        count += 1
    return count / elapsed


def best_of_interleaved(
    ours: Callable[[int], object], baseline: Callable[[int], object], seconds: float, rounds: int = 3
) -> tuple[float, float]:
    """(ours, baseline) calls/s, each the best of `rounds` alternating runs."""
    ours_best = baseline_best = 0.0
    for _ in range(rounds):
        ours_best = max(ours_best, calls_per_second(ours, seconds / rounds))
        baseline_best = max(baseline_best, calls_per_second(baseline, seconds / rounds))
    return ours_best, baseline_best


def bench_effects(photo: np.ndarray, seconds: float) -> None:
    print("1. finish cost per frame (the graded frame in, the finished frame out)")
    grader = Grader(GRADE)
    for width, height in ((1920, 1080), (480, 270)):
        graded = grader(fit_image(photo, width, height, FitMode.cover))
        frame = fit_image(photo, width, height, FitMode.cover)
        print(f"\n  {width}x{height}")
        print(f"  {'effect':<27} {'finish ms':>9} {'grade ms':>9} {'ratio':>6}")
        grade = functools.partial(grade_once, grader, frame)
        for label, settings in EFFECTS.items():
            finish = functools.partial(finish_once, Finisher(settings, seed=7), graded)
            ours, baseline = best_of_interleaved(finish, grade, seconds)
            print(f"  {label:<27} {1000 / ours:9.2f} {1000 / baseline:9.2f} {baseline / ours:6.2f}")


def grade_once(grader: Grader, frame: np.ndarray, _: int) -> np.ndarray:
    return grader(frame)


def finish_once(finisher: Finisher, frame: np.ndarray, index: int) -> np.ndarray:
    return finisher(frame, index)


def bench_finished_motion(photo: np.ndarray, seconds: float) -> None:
    settings = EFFECTS["all (s 0.6, g 0.4, v 0.4)"]
    print(f"\n2. finished motion frame, 1920x1080, zoom_in, {label_of(settings)}")
    motion = MotionClip(
        [photo], FitMode.cover, MotionSettings(camera=CameraMove.zoom_in), ACT_FRAMES, 1920, 1080, seed=7
    )
    graded = GradedClip(motion, Grader(settings))
    finished = FinishedClip(graded, Finisher(settings, seed=7))
    ours, baseline = best_of_interleaved(finished.frame, graded.frame, seconds)
    verdict = "meets" if ours >= FINAL_TARGET_FPS else "MISSES"
    print(
        f"  motion + grade + finish {ours:6.1f} frames/s   motion + grade {baseline:6.1f} frames/s   "
        f"ratio {ours / baseline:4.2f}   -> {verdict} the {FINAL_TARGET_FPS:.0f} frames/s target"
    )


def label_of(settings: GradeSettings) -> str:
    return f"stylize {settings.stylize}, grain {settings.grain}, vignette {settings.vignette}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    arguments = parser.parse_args()
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads\n")
    photo = load_image(DEMO / "02_chelsea.jpg")
    bench_effects(photo, arguments.seconds)
    bench_finished_motion(photo, arguments.seconds)


if __name__ == "__main__":
    main()
