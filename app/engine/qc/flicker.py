"""Flicker: frame-to-frame brightness oscillation that the motion does not explain.

Formula. For each pair of frames (t, t+1) inside a span, `flow_stats` gives c_t = mean(D) / mean luma, with
D = frame t+1 − frame t warped onto it along the optical flow, on non-occluded pixels: the relative
brightness change the motion does not explain, for the whole frame and for each block of a 3x3 grid (AI
flicker is often local). A brightness that alternates as 1 ± a from frame to frame gives c_t ≈ ±2a with
alternating sign, so

    osc_t = |c_t − c_{t−1}| / 4

estimates the amplitude a, while a fade or an exposure drift (c_t keeps its sign) gives about 0 and a single
jump only one or two spikes. A window of WINDOW_S is worth the largest, over the frame and its blocks, of the
median osc in it: the oscillation must last half the window (a lone flash is not flicker). Windows at or
above WARN_PERCENT make a finding whose value is the largest window value (percent of the brightness) and
whose start/end are the first and last frames inside those windows where osc reaches the threshold. Pairs
across a cut are never measured (`flow_stats`), so nothing is found on a cut.

VBench. VBench's temporal-flickering score, the mean over pairs of (255 − mean |f_t − f_t+1|) / 255 on RGB
frames, is reported per act and for the film (metrics) and in each finding. It is the visibility input: the
share of the frame-to-frame change it measures that the oscillation accounts for,
share = 2·a·L / (255·(1 − score)) (a: the whole frame's median osc, L: mean luma, both over the finding).
Where motion makes most of the change (share < MASKED_SHARE: fast moves over hard-edged detail) it masks
the flicker, and the finding stays a warning.

Severity: warn at value ≥ WARN_PERCENT; fail at value ≥ FAIL_PERCENT with share ≥ MASKED_SHARE.

Calibration (bench/bench_qc.py on tests/engine/qc_dataset.py, 320 px): clean clips (camera moves over real
photos) reach at most 0.05 %, 0.2 % under the templates' heaviest film grain; injected ±2 / 5 / 12 %
oscillations measure 2.0 / 5.0 / 12.1 % at least. WARN_PERCENT sits five times above the grained clean
maximum and halfway to the mild defect (all found); FAIL_PERCENT fails every moderate defect.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from app.engine.qc.flow_stats import (
    BLOCK_GRID,
    FlowStats,
    pair_spans,
    span_key,
    span_title,
    windowed_runs,
    worst_window,
)
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput, Severity, subject_key

WINDOW_S = 0.5
WARN_PERCENT = 1.0
FAIL_PERCENT = 4.0
MASKED_SHARE = 0.25
_MIN_WINDOW_PAIRS = 3


def oscillation(stats: FlowStats) -> np.ndarray:
    """osc_t (module doc) per pair, relative (0.01 = 1 %): shape (pairs, 1 + blocks), column 0 the whole
    frame; NaN where pair t or t−1 is not usable (the first pair of a span, pairs by a cut)."""
    count = len(stats.brightness_change)
    changes = np.concatenate(
        [
            stats.brightness_change[:, np.newaxis],
            stats.block_brightness_change.reshape(count, BLOCK_GRID * BLOCK_GRID),
        ],
        axis=1,
    )
    changes[~stats.usable] = np.nan
    oscillations = np.full_like(changes, np.nan)
    oscillations[1:] = np.abs(changes[1:] - changes[:-1]) / 4.0
    return oscillations


def window_pairs(fps: Fraction) -> int:
    """How many pairs a window of WINDOW_S holds at `fps`."""
    return max(_MIN_WINDOW_PAIRS, round(WINDOW_S * float(fps)))


def subject(span_key: str) -> str:
    """The measure key of a span's flicker (an act id or "shot N")."""
    return subject_key(CheckKind.flicker, span_key)


def _mean(values: np.ndarray) -> float:
    """Mean of the finite entries; NaN if none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def check(qc: QCInput, stats: FlowStats) -> CheckResult:
    """Flicker findings and metrics of `qc` (module doc), from its `flow_stats.compute` statistics.

    Metrics: {"flicker": {act id or "shot N": {"oscillation_percent", "vbench_temporal_flickering"}},
    "vbench_temporal_flickering": the film's score} (spans without a usable pair are left out). Measures:
    each span's largest window value in percent (`subject(key)`), below the threshold too.
    """
    result = CheckResult()
    oscillations = oscillation(stats)
    scores = np.where(stats.usable, stats.vbench_scores, np.nan)
    window = window_pairs(qc.fps)
    per_act: dict[str, dict[str, float]] = {}
    for number, span, pairs in pair_spans(qc):
        span_oscillations = oscillations[pairs]
        measured = worst_window(span_oscillations, window)
        if measured is not None:
            result.measures[subject(span_key(span, number))] = 100.0 * measured
        worst = 0.0
        for first, last, value in windowed_runs(span_oscillations, window, WARN_PERCENT / 100.0):
            worst = max(worst, value)
            stretch = (pairs.start + first, pairs.start + last, value)
            result.findings.append(_finding(qc, stats, oscillations[:, 0], span, number, stretch))
        act_score = _mean(scores[pairs])
        if np.isfinite(act_score):
            per_act[span_key(span, number)] = {
                "oscillation_percent": round(100.0 * worst, 3),
                "vbench_temporal_flickering": round(act_score, 4),
            }
    result.metrics["flicker"] = per_act
    film_score = _mean(scores)
    if np.isfinite(film_score):
        result.metrics["vbench_temporal_flickering"] = round(film_score, 4)
    return result


def _finding(
    qc: QCInput,
    stats: FlowStats,
    whole_frame: np.ndarray,
    span: ActSpan,
    number: int,
    stretch: tuple[int, int, float],
) -> Finding:
    """The finding for oscillation entries first … last (film pair indices, module doc) of one span, with
    `value` its largest window value; `whole_frame` is the whole frame's osc per pair.

    osc_t compares pairs t−1 and t, so the flickering frames are first … last (the frames whose
    brightness differs from both neighbours').
    """
    first, last, value = stretch
    pairs = slice(max(span.start, first - 1), last + 1)
    usable = stats.usable[pairs]
    difference = float(stats.frame_difference[pairs][usable].mean())
    luma = float(stats.luma[pairs][usable].mean())
    share = 2.0 * float(np.nanmedian(whole_frame[first : last + 1])) * luma / max(difference, 1e-6)
    score = 1.0 - difference / 255.0
    fails = value * 100.0 >= FAIL_PERCENT and share >= MASKED_SHARE
    start, end = qc.seconds(first), qc.seconds(min(last + 1, span.end))
    return Finding(
        kind=CheckKind.flicker,
        severity=Severity.fail if fails else Severity.warn,
        start=start,
        end=end,
        act=span.act_id,
        value=100.0 * value,
        threshold=WARN_PERCENT,
        message=(
            f"Flicker in {span_title(span, number)} at {start:.1f}–{end:.1f} s: the brightness oscillates by "
            f"±{100.0 * value:.1f} % from frame to frame (warn at {WARN_PERCENT:g} %, fail at "
            f"{FAIL_PERCENT:g} %; VBench temporal flickering {score:.3f})"
        ),
        subject=subject(span_key(span, number)),
    )
