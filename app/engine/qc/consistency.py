"""Frame-to-frame consistency: the flow warping error per act (metrics only, never findings).

For each pair of frames (t, t+1) inside a span, `flow_stats` warps frame t onto frame t+1 along the optical
flow and takes the mean absolute grey difference on the pixels both frames show (occlusions found by the
forward-backward test), in 8-bit levels (0–255): the warping error of Lai et al. (2018, "Learning Blind
Video Temporal Consistency") with its occlusion mask, taken as a mean absolute rather than squared
difference, on grey frames at analysis size. Per act:
"warp_error" is its mean over the act's pairs and "p95" the 95th percentile over them (the worst 5 % of
frame transitions). Pairs across a cut and pairs mostly occluded (an undetected cut) are left out. No
thresholds: the figure compares takes and renders of the same film; what is "too high" depends on the
content (a still act is near 0, fast detailed motion a few levels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine.qc.flow_stats import FlowStats, pair_spans, span_key
from app.engine.qc.types import QCInput


def metrics(qc: QCInput, stats: FlowStats) -> dict[str, Any]:
    """{"consistency": {act id or "shot N": {"warp_error": mean, "p95": 95th percentile}}}, grey levels;
    spans without a usable pair (a one-frame act) are left out."""
    per_act: dict[str, dict[str, float]] = {}
    for number, span, pairs in pair_spans(qc):
        errors = stats.warp_error[pairs][stats.usable[pairs]]
        errors = errors[np.isfinite(errors)]
        if len(errors):
            per_act[span_key(span, number)] = {
                "warp_error": round(float(errors.mean()), 3),
                "p95": round(float(np.percentile(errors, 95)), 3),
            }
    return {"consistency": per_act}
