"""Texture artifacts: fine detail in textured regions (grass, water, fur) that boils from frame to frame.

Formula. For each pair of frames (t, t+1) inside a span, `flow_stats` warps frame t onto frame t+1 along the
optical flow, matches its overall gain (brightness changes are flicker's business), blurs both slightly
(sigma 0.8 px: sub-pixel resampling differs between frames even when nothing is wrong) and high-passes the
difference (minus its sigma-2 px blur). On non-occluded pixels it gives T, the RMS of that residual on
textured pixels (5x5 grey standard deviation > 10 levels in both frames), S, the same on smooth pixels
(< 3 levels), and H, the RMS of the high-passed frame t+1 on the textured pixels: the texture's own detail.
Detail that follows the motion leaves little residual; detail redrawn every frame leaves one as large as
itself. Noise or grain spread over the whole picture is not a texture artifact, so what the smooth
pixels show is taken out first:

    instability_t = sqrt(max(T² − S², 0)) / H     (0: stable; 1: changes by as much as it has detail)

A window of WINDOW_S is worth the median instability in it (it must last half the window); windows at or
above WARN make a finding whose value is the largest window value and whose start/end are the first and
last frames inside them where the instability reaches WARN. Pairs with less than 2 % textured pixels, or
across a cut, are not measured.

Severity: warn at value ≥ WARN, fail at value ≥ FAIL.

Calibration (bench/bench_qc.py on tests/engine/qc_dataset.py, 320 px): clean clips of camera moves over
real photos reach at most 0.14 (fast moves over fine detail such as a launch tower's lattice), 0.17 under
the templates' heaviest film grain; temporally independent noise of 3 / 6 / 12 levels on the textured
pixels measures 0.15–0.21 / 0.26–0.37 / 0.49–0.66; a 12 % brightness flicker leaks 0.19 at most. WARN sits
above the clean, grained and flicker values and below every moderate defect (mild ones are mostly missed);
FAIL below every strong one.
"""

from __future__ import annotations

import numpy as np

from app.engine.qc.flow_stats import FlowStats, pair_spans, span_key, span_title, windowed_runs, worst_window
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput, Severity, subject_key

WINDOW_S = 0.5
WARN = 0.22
FAIL = 0.45
_MIN_WINDOW_PAIRS = 3


def instability(stats: FlowStats) -> np.ndarray:
    """instability_t (module doc) per pair; NaN where not usable or without texture."""
    smooth = np.nan_to_num(stats.smooth_instability)
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.sqrt(np.maximum(stats.texture_instability**2 - smooth**2, 0.0))
        values: np.ndarray = np.where(
            stats.usable & (stats.texture_detail > 0.0), excess / stats.texture_detail, np.nan
        )
    return values


def check(qc: QCInput, stats: FlowStats) -> CheckResult:
    """Texture-artifact findings and metrics of `qc` (module doc), from its `flow_stats.compute` statistics.

    Metrics: {"texture": {act id or "shot N": {"instability": the act's median, "worst": its largest
    window value (0 when none)}}} for spans with a measured textured pair. Measures: each span's largest
    window value, below WARN too.
    """
    result = CheckResult()
    values = instability(stats)
    window = max(_MIN_WINDOW_PAIRS, round(WINDOW_S * float(qc.fps)))
    per_act: dict[str, dict[str, float]] = {}
    for number, span, pairs in pair_spans(qc):
        span_values = values[pairs]
        window_value = worst_window(span_values, window)
        if window_value is not None:
            result.measures[subject(span_key(span, number))] = window_value
        worst = 0.0
        for first, last, value in windowed_runs(span_values, window, WARN):
            worst = max(worst, value)
            result.findings.append(_finding(qc, span, number, pairs.start + first, pairs.start + last, value))
        measured = span_values[np.isfinite(span_values)]
        if len(measured):
            per_act[span_key(span, number)] = {
                "instability": round(float(np.median(measured)), 4),
                "worst": round(worst, 4),
            }
    result.metrics["texture"] = per_act
    return result


def subject(span_key: str) -> str:
    """The measure key of a span's texture instability (an act id or "shot N")."""
    return subject_key(CheckKind.texture_artifacts, span_key)


def _finding(qc: QCInput, span: ActSpan, number: int, first: int, last: int, value: float) -> Finding:
    """The finding for pairs first … last (film pair indices: frames first … last + 1) of one span."""
    start, end = qc.seconds(first), qc.seconds(min(last + 2, span.end))
    return Finding(
        kind=CheckKind.texture_artifacts,
        severity=Severity.fail if value >= FAIL else Severity.warn,
        start=start,
        end=end,
        act=span.act_id,
        value=value,
        threshold=WARN,
        message=(
            f"Unstable texture in {span_title(span, number)} at {start:.1f}–{end:.1f} s: fine detail changes "
            f"by {100.0 * value:.0f} % of itself from frame to frame without following the motion "
            f"(warn at {100.0 * WARN:.0f} %, fail at {100.0 * FAIL:.0f} %)"
        ),
        subject=subject(span_key(span, number)),
    )
