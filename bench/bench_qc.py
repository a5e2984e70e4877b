"""Calibrate and time the quality checks on the labelled set (tests/engine/qc_dataset.py).

1. Detection: every check on every clip (one flow-statistics pass per clip, shared as in `run_checks`).
   Per check: detection rate per strength (an injected defect is found when a finding of its kind overlaps
   its [start, end]), findings of the kind on clips injected with another kind (cross-talk), the clean
   clips with a finding of the kind (false alarms), the same for the clean clips finished with the
   heaviest film grain of the built-in templates (super8: grain 0.75, vignette 0.55 — temporally
   independent noise everywhere, which is not a texture artifact) and any `fail` on a clean clip, grained
   or not (must be 0). The lighting,
   beat_sync and overfit checks run when their modules exist.
2. Margins of the flow-based checks: the largest window value each reaches on clean clips against the
   smallest window value inside each injected defect, per strength, next to the warn/fail thresholds.
3. Speed at 320 px: seconds of film per second of QC (the real-time factor), for the flow statistics
   with the flicker/texture/consistency checks and for `run_checks` (every check) when it exists, against
   the bare cost of the two DIS flows per pair measured in the same run; then including the downscale of
   each frame from 1080p (cv2.INTER_AREA, as a 1080p draft would be read).

Run: python bench/bench_qc.py
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.finish import Finisher
from app.engine.qc import consistency, flicker, flow_stats, texture
from app.engine.qc.types import CheckKind, CheckResult, Finding, QCInput, Severity
from app.model.act import GradeSettings
from tests.engine.qc_dataset import STRENGTHS, LabelledClip, clean_clips, defect_clips

Check = Callable[[QCInput, flow_stats.FlowStats], CheckResult]
FULL_HD = (1920, 1080)


def _optional(module: str) -> object | None:
    name = f"app.engine.qc.{module}"
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def _checks() -> dict[CheckKind, Check]:
    checks: dict[CheckKind, Check] = {
        CheckKind.flicker: flicker.check,
        CheckKind.texture_artifacts: texture.check,
    }
    lighting, beat_sync, overfit = (_optional(name) for name in ("lighting", "beat_sync", "overfit"))
    if lighting is not None:
        checks[CheckKind.lighting_jump] = lambda qc, stats: lighting.check(qc)  # type: ignore[attr-defined]
    if beat_sync is not None:
        checks[CheckKind.off_beat_motion] = lambda qc, stats: beat_sync.check(  # type: ignore[attr-defined]
            qc, stats.motion_energy
        )
    if overfit is not None:
        checks[CheckKind.reference_overfit] = lambda qc, stats: overfit.check(qc)  # type: ignore[attr-defined]
    return checks


def _overlaps(finding: Finding, start: float, end: float) -> bool:
    return finding.start <= end and finding.end >= start


def _window_values(kind: CheckKind, qc: QCInput, stats: flow_stats.FlowStats) -> np.ndarray:
    """The window value per pair (NaN where none) of a flow-based check, for the margins table."""
    window = max(3, round(0.5 * float(qc.fps)))
    per_pair = flicker.oscillation(stats) if kind is CheckKind.flicker else texture.instability(stats)
    values = np.full(len(per_pair), np.nan)
    for _, _, pairs in flow_stats.pair_spans(qc):
        medians = flow_stats.sliding_medians(per_pair[pairs], window)
        if len(medians):
            # A window is credited to its middle pair.
            middle = pairs.start + window // 2
            values[middle : middle + len(medians)] = np.fmax.reduce(medians.reshape(len(medians), -1), axis=1)
    return values * (100.0 if kind is CheckKind.flicker else 1.0)


def _grained(clip: LabelledClip) -> LabelledClip:
    """`clip` finished with the heaviest film grain and vignette of the built-in templates (super8)."""
    finisher = Finisher(GradeSettings(grain=0.75, vignette=0.55), seed=1)
    frames = tuple(finisher(frame.copy(), index) for index, frame in enumerate(clip.qc_input.frames))
    return replace(
        clip, name=clip.name.replace("clean/", "grain/"), qc_input=replace(clip.qc_input, frames=frames)
    )


def detection(clean: list[LabelledClip], defects: list[LabelledClip]) -> None:
    checks = _checks()
    grained = [_grained(clip) for clip in clean]
    found: dict[tuple[CheckKind, str], list[int]] = defaultdict(lambda: [0, 0])
    cross_talk: dict[CheckKind, list[int]] = defaultdict(lambda: [0, 0])
    false_alarms: dict[tuple[CheckKind, str], int] = defaultdict(int)  # (kind, "clean" or "grain")
    clean_fails: dict[CheckKind, list[str]] = defaultdict(list)
    clean_peak: dict[CheckKind, float] = defaultdict(float)
    defect_floor: dict[tuple[CheckKind, str], float] = {}
    for clip in clean + grained + defects:
        stats = flow_stats.compute(clip.qc_input)
        injected = {defect.kind for defect in clip.defects}
        for kind, check in checks.items():
            findings = [finding for finding in check(clip.qc_input, stats).findings if finding.kind is kind]
            if not clip.defects:
                false_alarms[(kind, clip.name.split("/")[0])] += bool(findings)
                clean_fails[kind] += [clip.name for f in findings if f.severity is Severity.fail]
            elif kind not in injected:
                cross_talk[kind][0] += bool(findings)
                cross_talk[kind][1] += 1
            for defect in (defect for defect in clip.defects if defect.kind is kind):
                counts = found[(kind, defect.strength)]
                counts[0] += any(_overlaps(finding, defect.start, defect.end) for finding in findings)
                counts[1] += 1
        for kind in (CheckKind.flicker, CheckKind.texture_artifacts):
            values = _window_values(kind, clip.qc_input, stats)
            if not clip.defects:
                clean_peak[kind] = max(clean_peak[kind], float(np.nanmax(values, initial=0.0)))
            fps = float(clip.qc_input.fps)
            for defect in (defect for defect in clip.defects if defect.kind is kind):
                inside = values[round(defect.start * fps) : round(defect.end * fps)]
                key = (kind, defect.strength)
                defect_floor[key] = min(defect_floor.get(key, np.inf), float(np.nanmax(inside)))

    print(
        f"\nDetection on {len(defects)} defect clips, false alarms on {len(clean)} clean clips and on "
        "the same with film grain 0.75 (320 px, 24 fps)"
    )
    header = f"{'check':<18}" + "".join(f"{strength:>11}" for strength in STRENGTHS)
    print(header + f"{'cross-talk':>12}{'clean FA':>10}{'grain FA':>10}{'clean fail':>11}")
    for kind in checks:
        cells = "".join(f"{found[(kind, s)][0]:>5}/{found[(kind, s)][1]:<5}" for s in STRENGTHS)
        talk = f"{cross_talk[kind][0]}/{cross_talk[kind][1]}"
        alarms = "".join(f"{false_alarms[(kind, group)]:>6}/{len(clean):<3}" for group in ("clean", "grain"))
        print(f"{kind!s:<18}{cells}{talk:>12}{alarms}{len(clean_fails[kind]):>11}")
        for name in clean_fails[kind]:
            print(f"    fail on clean clip {name}")
    missing = [str(kind) for kind in CheckKind if kind not in checks]
    if missing:
        print(f"(not run, module missing: {', '.join(missing)})")

    print("\nMargins of the flow-based checks (window values; flicker in %, texture as a share of detail)")
    print(
        f"{'check':<18}{'clean max':>10}"
        + "".join(f"{s + ' min':>14}" for s in STRENGTHS)
        + f"{'warn':>8}{'fail':>8}"
    )
    limits = {
        CheckKind.flicker: (flicker.WARN_PERCENT, flicker.FAIL_PERCENT),
        CheckKind.texture_artifacts: (texture.WARN, texture.FAIL),
    }
    for kind, (warn, fail) in limits.items():
        floors = "".join(f"{defect_floor.get((kind, s), float('nan')):>14.3f}" for s in STRENGTHS)
        print(f"{kind!s:<18}{clean_peak[kind]:>10.3f}{floors}{warn:>8.2f}{fail:>8.2f}")


def _timed(function: Callable[[], object], repeats: int = 2) -> float:
    """Best wall time of `repeats` calls, seconds (shared machines are noisy)."""
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return float(best)


def _flows_only(qc: QCInput) -> None:
    """The floor: the two DIS flows per pair that every flow statistic needs, nothing else."""
    dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    dis.setFinestScale(1)
    greys = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in qc.frames]
    for earlier, later in itertools.pairwise(greys):
        dis.calc(earlier, later, None)  # type: ignore[call-overload]
        dis.calc(later, earlier, None)  # type: ignore[call-overload]


def _temporal_checks(qc: QCInput) -> None:
    stats = flow_stats.compute(qc)
    flicker.check(qc, stats)
    texture.check(qc, stats)
    consistency.metrics(qc, stats)


def speed(clean: list[LabelledClip]) -> None:
    films = [clip.qc_input for clip in clean]
    frames = sum(len(qc.frames) for qc in films)
    film_s = sum(qc.seconds(len(qc.frames)) for qc in films)
    width, height = films[0].frames[0].shape[1], films[0].frames[0].shape[0]
    print(
        f"\nSpeed on the {len(films)} clean clips: {frames} frames, {film_s:.1f} s of film, {width}x{height}"
    )
    runners: dict[str, Callable[[QCInput], object]] = {
        "2 DIS flows per pair (baseline)": _flows_only,
        "flow stats + flicker/texture/consistency": _temporal_checks,
    }
    qc_package = importlib.import_module("app.engine.qc")
    run_checks = getattr(qc_package, "run_checks", None)
    if run_checks is not None:
        runners["run_checks (every check)"] = run_checks
    big = cv2.resize(films[0].frames[0], FULL_HD, interpolation=cv2.INTER_CUBIC)
    downscale_s = (
        _timed(lambda: [cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA) for _ in range(50)])
        / 50
    )
    baseline_s = None
    print(f"{'':<42}{'s':>7}{'ms/frame':>10}{'x real time':>13}{'vs baseline':>13}{'x RT from 1080p':>17}")
    for label, runner in runners.items():

        def run_all(runner: Callable[[QCInput], object] = runner) -> None:
            for qc in films:
                runner(qc)

        seconds = _timed(run_all)
        baseline_s = baseline_s or seconds
        per_frame = seconds / frames
        from_1080p = film_s / (seconds + downscale_s * frames)
        print(
            f"{label:<42}{seconds:>7.2f}{1000 * per_frame:>10.2f}{film_s / seconds:>13.1f}"
            f"{seconds / baseline_s:>13.2f}{from_1080p:>17.1f}"
        )
    print(f"(downscale 1920x1080 to {width}x{height}: {1000 * downscale_s:.2f} ms a frame, one thread)")


def main() -> None:
    started = time.perf_counter()
    clean, defects = clean_clips(), defect_clips()
    built_s = time.perf_counter() - started
    print(f"Labelled set: {len(clean)} clean + {len(defects)} defect clips built in {built_s:.1f} s")
    detection(clean, defects)
    speed(clean)


if __name__ == "__main__":
    main()
