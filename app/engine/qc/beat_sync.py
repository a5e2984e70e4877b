"""Off-beat motion: cuts, and bursts of motion, that miss the music's beats when the film should follow them.

Runs only when `qc.beat_sync` is set (the project cuts on beats, or the cuts of a video mostly sit on
beats: `cuts_on_beats`) and there are beats or onsets.

Cuts. A cut at frame c is seen at c / fps seconds; its offset is the distance to the nearest beat (to the
nearest onset when there are no beats: the beat grid is where cuts belong, and an off-beat onset such as a
hi-hat between beats does not make a cut "on the beat"). Warn when the offset exceeds CUT_WARN_S (or half a
frame, whichever is larger: a cut can only sit on whole frames), fail past CUT_FAIL_S. Cuts before the first
beat or after the last one by more than a beat period (the music has not started or has ended) are not
judged. Metrics ("cut_offsets"): how many cuts were judged, their mean and max offset in ms. Measures: each
judged cut's offset in ms (`cut_subject`).

Motion peaks. `motion_energy[t]` is the mean optical-flow magnitude between frames t−1 and t (pixels at
analysis size; pairs across a cut carry no motion and are ignored, as are the PEAK_GUARD_FRAMES after one).
A frame is a strong peak when its energy is the largest within ±PEAK_RADIUS_S, at least PEAK_RATIO times
the median energy within ±PEAK_CONTEXT_S, and at least MIN_PEAK_PX above that median: a burst (a zoom
pulse, a shake, a whip) rather than the smooth rise and fall of an eased camera move, whose top is at most
~1.3 times its surroundings. A strong peak at least PEAK_WARN_S from every beat and onset is a warning (never
a failure: a burst of motion in the picture's content may be meant to be free of the music).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.engine.qc.flow_stats import span_key, span_title
from app.engine.qc.types import CheckKind, CheckResult, Finding, QCInput, Severity, subject_key

CUT_WARN_S = 0.05
CUT_FAIL_S = 0.1
PEAK_WARN_S = 0.1
PEAK_RADIUS_S = 0.15
PEAK_CONTEXT_S = 0.5
PEAK_RATIO = 2.0
MIN_PEAK_PX = 0.75  # flow magnitude (pixels per frame at analysis size) a peak rises above its context
PEAK_GUARD_FRAMES = 1
ON_BEAT_S = 0.1  # a cut this close to a beat counts as on it when guessing whether a film follows beats


def cuts_on_beats(cuts_s: Sequence[float], beats_s: Sequence[float]) -> bool:
    """Whether the cuts (seconds) mostly follow the beats (seconds): at least half within ON_BEAT_S.

    How a video without a project says it was cut to the music; False with no cuts or no beats.
    """
    if not cuts_s or not beats_s:
        return False
    offsets = _offsets(np.asarray(cuts_s, dtype=np.float64), np.asarray(beats_s, dtype=np.float64))
    return bool(np.mean(offsets <= ON_BEAT_S) >= 0.5)


def check(qc: QCInput, motion_energy: Sequence[float] | np.ndarray) -> CheckResult:
    """Cuts and strong motion peaks far from beats and onsets (module doc); `motion_energy` has one value
    per frame (index t: the motion from frame t−1 to t, pixels at analysis size)."""
    result = CheckResult()
    if not qc.beat_sync or not (qc.beats or qc.onsets):
        return result
    grid = np.asarray(sorted(qc.beats or qc.onsets), dtype=np.float64)
    cut_offsets: list[float] = []
    warn_s = max(CUT_WARN_S, 0.5 / float(qc.fps))
    for index, cut in enumerate(qc.cuts, start=1):
        at = qc.seconds(cut)
        if not _within_music(at, grid):
            continue
        nearest = float(grid[np.argmin(np.abs(grid - at))])
        offset = abs(at - nearest)
        cut_offsets.append(offset)
        result.measures[cut_subject(span_key(qc.spans[index], index + 1))] = offset * 1000.0
        if offset > warn_s:
            result.findings.append(_cut_finding(qc, index, at, nearest, offset, warn_s))
    anchors = np.asarray(sorted({*qc.beats, *qc.onsets}), dtype=np.float64)
    for frame in strong_peaks(qc, np.asarray(motion_energy, dtype=np.float64)):
        at = qc.seconds(frame)
        if not _within_music(at, anchors):
            continue
        offset = float(np.min(np.abs(anchors - at)))
        if offset >= PEAK_WARN_S:
            result.findings.append(_peak_finding(qc, frame, at, offset))
    result.metrics["cut_offsets"] = {
        "judged": len(cut_offsets),
        "mean_ms": round(1000.0 * float(np.mean(cut_offsets)), 1) if cut_offsets else None,
        "max_ms": round(1000.0 * max(cut_offsets), 1) if cut_offsets else None,
    }
    return result


def cut_subject(incoming: str) -> str:
    """The measure key of the cut into the span whose key is `incoming`."""
    return subject_key(CheckKind.off_beat_motion, "cut", incoming)


def strong_peaks(qc: QCInput, energy: np.ndarray) -> list[int]:
    """Frames whose motion energy is a strong peak (module doc), sorted."""
    fps = float(qc.fps)
    usable = np.isfinite(energy)
    usable[:1] = False
    for cut in qc.cuts:
        usable[cut : cut + 1 + PEAK_GUARD_FRAMES] = False
    radius = max(1, round(PEAK_RADIUS_S * fps))
    context = max(radius + 1, round(PEAK_CONTEXT_S * fps))
    peaks = []
    for frame in np.flatnonzero(usable).tolist():
        around = _usable_values(energy, usable, frame - context, frame + context + 1)
        near = _usable_values(energy, usable, frame - radius, frame + radius + 1)
        value = float(energy[frame])
        median = float(np.median(around))
        if value >= float(near.max()) and value >= PEAK_RATIO * median and value - median >= MIN_PEAK_PX:
            peaks.append(frame)
    return peaks


def _usable_values(energy: np.ndarray, usable: np.ndarray, low: int, high: int) -> np.ndarray:
    low = max(0, low)
    return energy[low:high][usable[low:high]]


def _offsets(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.min(np.abs(times[:, None] - grid[None, :]), axis=1)


def _within_music(at: float, grid: np.ndarray) -> bool:
    period = float(np.median(np.diff(grid))) if grid.size > 1 else 0.0
    return float(grid[0]) - period <= at <= float(grid[-1]) + period


def _cut_finding(qc: QCInput, index: int, at: float, beat: float, offset: float, warn_s: float) -> Finding:
    direction = "after" if at > beat else "before"
    title = span_title(qc.spans[index], index + 1)
    return Finding(
        kind=CheckKind.off_beat_motion,
        severity=Severity.fail if offset > CUT_FAIL_S else Severity.warn,
        start=min(at, beat),
        end=max(at, beat),
        act=qc.spans[index].act_id,
        value=offset * 1000.0,
        threshold=warn_s * 1000.0,
        message=(
            f"Cut into {title} at {at:.2f} s is {offset * 1000:.0f} ms {direction} the beat at {beat:.2f} s "
            f"(snap the cut to the beat)"
        ),
        subject=cut_subject(span_key(qc.spans[index], index + 1)),
    )


def _peak_finding(qc: QCInput, frame: int, at: float, offset: float) -> Finding:
    span_index = next(i for i, span in enumerate(qc.spans) if span.start <= frame < span.end)
    start = qc.seconds(frame - 1)
    title = span_title(qc.spans[span_index], span_index + 1)
    return Finding(
        kind=CheckKind.off_beat_motion,
        severity=Severity.warn,
        start=start,
        end=at,
        act=qc.spans[span_index].act_id,
        value=offset * 1000.0,
        threshold=PEAK_WARN_S * 1000.0,
        message=(
            f"Burst of motion in {title} at {at:.2f} s is {offset * 1000:.0f} ms from any beat or onset"
        ),
    )
