"""Lighting jumps: an exposure or white-balance step where the picture should have kept its look.

Across each cut, the last WINDOW_S of the outgoing span and the first WINDOW_S of the incoming one are
averaged into one image per side. Whether the two sides show the same scene is decided by registration:
ORB features of the frames either side of the cut, matched and fitted with a RANSAC homography; the scene
is the same when at least MIN_INLIERS matches agree and the overlap covers MIN_OVERLAP of the frame. A cut
to another scene is not judged — its brightness and colour are the new scene's, however different (in the
labelled set, cuts between different photos register with at most 12 inliers, same-scene cuts with 31+).

A cut that is not a hard cut is not judged either: under a crossfade, dip or morph the picture changes over
many frames rather than at once (the mean absolute RGB difference of the pair at the cut, at HARD_CUT_WIDTH
px wide, is below HARD_CUT_RATIO times the median difference of the pairs within WINDOW_S either side:
hard cuts in the labelled set measure 17–124 times, the demo project's three transitions 0.9), and such a
transition already carries the eye across a step. (So a crossfade is not offered as a repair: the step under
it is no longer measured, and a repair must be measured again to say what it achieved.)

On a same-scene cut, the incoming image is warped onto the outgoing one and the value is the colour
difference of the two sides' mean CIELAB over the shared pixels (CIE76 ΔE: √(ΔL*² + Δa*² + Δb*²), where
1 is about the smallest step one can see side by side and a step of 2–3 shows at a cut). Comparing the
sides' means over the same content, rather than pixel by pixel, ignores the small misregistration of
moving shots; comparing over shared content rather than the whole frames ignores what the reframing
brings in. Warn at ΔE ≥ DELTA_E_WARN, fail at ΔE ≥ DELTA_E_FAIL. On the labelled set: clean same-scene
cuts measure ≤ 0.8, exposure/white-balance steps of mild strength 2.1–3.2, moderate 4.7–7.8, strong 10–17.

Spans sharing a template id are meant to share a look. Pairs that are not neighbours (neighbours are
judged at their cut) are compared on their middle frames the same way when they register; when they show
different scenes, their overall mean L*a*b* are compared and a warning is raised only past LOOK_DELTA_E_WARN,
a difference content alone rarely reaches (a night scene against a day scene of the demo photos is ~45–55).

Measures: the ΔE of every judged cut (`cut_subject`) and of every compared pair of spans sharing a template
(`look_subject`), below the thresholds too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.engine.qc.flow_stats import span_key, span_title
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput, Severity, subject_key

WINDOW_S = 0.3  # seconds of each side of a cut compared
DELTA_E_WARN = 3.0  # CIE76 ΔE of the sides' mean colour over shared content
DELTA_E_FAIL = 8.0
LOOK_DELTA_E_WARN = 30.0  # ΔE of the overall mean colour of two different-scene spans sharing a template
HARD_CUT_RATIO = 4.0
HARD_CUT_WIDTH = 80  # px: enough to see a cut, cheap
MIN_INLIERS = 25  # homography inliers for two frames to show one scene
MIN_OVERLAP = 0.1  # share of the frame the two sides must have in common
RANSAC_PX = 3.0
ORB_FEATURES = 1000
ORB_FAST_THRESHOLD = 8  # low, so dim (night) scenes still give features
MATCH_RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
_OVERLAP_ERODE_PX = 7  # the warped overlap's edge mixes in border pixels: leave it out


@dataclass(frozen=True)
class SideComparison:
    """The mean colour difference (incoming − outgoing, CIELAB) and ΔE; `same_scene` False: not judged."""

    same_scene: bool
    delta_lab: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def delta_e(self) -> float:
        return float(np.linalg.norm(self.delta_lab))


def check(qc: QCInput) -> CheckResult:
    """Lighting steps across cuts and between spans sharing a template (module doc). Metrics: per cut, its
    time (s) and ΔE (None where it is not judged: a cut to another scene, or a gradual transition)."""
    result = CheckResult()
    window = max(1, round(WINDOW_S * float(qc.fps)))
    cut_metrics = []
    for index in range(1, len(qc.spans)):
        before, after = qc.spans[index - 1], qc.spans[index]
        if before.end <= before.start or after.end <= after.start:
            continue
        count = min(window, before.end - before.start, after.end - after.start)
        comparison = SideComparison(same_scene=False)
        if is_hard_cut(qc.frames[before.end - count : after.start + count], count):
            comparison = compare_sides(
                qc.frames[before.end - count : before.end], qc.frames[after.start : after.start + count]
            )
        delta_e = round(comparison.delta_e, 3) if comparison.same_scene else None
        cut_metrics.append({"at": round(qc.seconds(after.start), 3), "delta_e": delta_e})
        if comparison.same_scene:
            result.measures[cut_subject(span_key(after, index + 1))] = comparison.delta_e
        if comparison.same_scene and comparison.delta_e >= DELTA_E_WARN:
            result.findings.append(_cut_finding(qc, index, count, comparison))
    result.findings.extend(_look_findings(qc, result.measures))
    result.metrics["lighting_cuts"] = cut_metrics
    return result


def cut_subject(incoming: str) -> str:
    """The measure key of the cut into the span whose key is `incoming`."""
    return subject_key(CheckKind.lighting_jump, "cut", incoming)


def look_subject(later: str, earlier: str) -> str:
    """The measure key of the look of span `later` against span `earlier` (span keys) sharing a template."""
    return subject_key(CheckKind.lighting_jump, "look", later, earlier)


def is_hard_cut(frames: Sequence[np.ndarray], cut: int) -> bool:
    """Whether `frames` change at once at index `cut` (vs. gradually, as under a transition): the difference
    of frames cut−1 → cut is at least HARD_CUT_RATIO times the median difference of the other pairs."""
    height, width = frames[0].shape[:2]
    size = (HARD_CUT_WIDTH, max(2, round(HARD_CUT_WIDTH * height / width)))
    small = [cv2.resize(frame, size, interpolation=cv2.INTER_AREA).astype(np.float32) for frame in frames]
    differences = [float(np.mean(np.abs(b - a))) for a, b in itertools.pairwise(small)]
    at_cut = differences.pop(cut - 1)
    around = float(np.median(differences)) if differences else 0.0
    # A floor of half a grey level: two frozen shots cut together are a hard cut, not 0 / 0.
    return at_cut >= HARD_CUT_RATIO * max(around, 0.5)


def compare_sides(outgoing: Sequence[np.ndarray], incoming: Sequence[np.ndarray]) -> SideComparison:
    """Compare the mean colour of two runs of frames (RGB uint8, one size) over the content they share.

    The last outgoing and first incoming frames are registered; without a registration the runs show
    different scenes and `same_scene` is False.
    """
    homography = register(outgoing[-1], incoming[0])
    if homography is None:
        return SideComparison(same_scene=False)
    height, width = outgoing[0].shape[:2]
    out_mean = np.mean(np.stack(outgoing).astype(np.float32), axis=0)
    in_mean = np.mean(np.stack(incoming).astype(np.float32), axis=0)
    warped = cv2.warpPerspective(in_mean, homography, (width, height), flags=cv2.INTER_LINEAR)
    coverage = cv2.warpPerspective(np.ones((height, width), np.uint8), homography, (width, height))
    shared = cv2.erode(coverage, np.ones((_OVERLAP_ERODE_PX, _OVERLAP_ERODE_PX), np.uint8)) > 0
    if shared.mean() < MIN_OVERLAP:
        return SideComparison(same_scene=False)
    delta = _lab(warped)[shared].mean(axis=0) - _lab(out_mean)[shared].mean(axis=0)
    return SideComparison(same_scene=True, delta_lab=(float(delta[0]), float(delta[1]), float(delta[2])))


def register(target: np.ndarray, moving: np.ndarray) -> np.ndarray | None:
    """Homography (3×3) taking `moving`'s pixels onto `target`'s when both show one scene, else None."""
    orb = cv2.ORB.create(nfeatures=ORB_FEATURES, fastThreshold=ORB_FAST_THRESHOLD)
    target_points, target_descriptors = orb.detectAndCompute(cv2.cvtColor(target, cv2.COLOR_RGB2GRAY), None)
    moving_points, moving_descriptors = orb.detectAndCompute(cv2.cvtColor(moving, cv2.COLOR_RGB2GRAY), None)
    if target_descriptors is None or moving_descriptors is None:
        return None
    if len(target_points) < MIN_INLIERS or len(moving_points) < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(moving_descriptors, target_descriptors, k=2)
    good = [pair[0] for pair in pairs if len(pair) == 2 and pair[0].distance < MATCH_RATIO * pair[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    source = np.array([moving_points[match.queryIdx].pt for match in good], dtype=np.float32)
    destination = np.array([target_points[match.trainIdx].pt for match in good], dtype=np.float32)
    homography, inliers = cv2.findHomography(source, destination, cv2.RANSAC, RANSAC_PX)
    if homography is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return np.asarray(homography, dtype=np.float64)


def _lab(image: np.ndarray) -> np.ndarray:
    """RGB (float 0–255 or uint8) to CIELAB: L* 0–100, a*/b* about −128–127."""
    return cv2.cvtColor(np.clip(image, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _describe(delta_lab: tuple[float, float, float]) -> str:
    """What the step looks like, in words: brighter/darker and warmer/cooler/greener/more magenta."""
    lightness, green_red, blue_yellow = delta_lab
    parts = []
    if abs(lightness) >= 1.0:
        parts.append(f"{'brighter' if lightness > 0 else 'darker'} by {abs(lightness):.1f} L*")
    if abs(blue_yellow) >= 1.0 and abs(blue_yellow) >= abs(green_red):
        parts.append("warmer" if blue_yellow > 0 else "cooler")
    elif abs(green_red) >= 1.0:
        parts.append("more magenta" if green_red > 0 else "greener")
    return ", ".join(parts) or "a colour shift"


def _severity(delta_e: float) -> Severity:
    return Severity.fail if delta_e >= DELTA_E_FAIL else Severity.warn


def _cut_finding(qc: QCInput, index: int, count: int, comparison: SideComparison) -> Finding:
    after = qc.spans[index]
    cut = qc.seconds(after.start)
    return Finding(
        kind=CheckKind.lighting_jump,
        severity=_severity(comparison.delta_e),
        start=qc.seconds(after.start - count),
        end=qc.seconds(after.start + count),
        act=after.act_id,
        value=comparison.delta_e,
        threshold=DELTA_E_WARN,
        message=(
            f"Lighting jump at the cut into {span_title(after, index + 1)} at {cut:.2f} s: the same scene "
            f"turns {_describe(comparison.delta_lab)} (ΔE {comparison.delta_e:.1f}; colour-match the cut)"
        ),
        subject=cut_subject(span_key(after, index + 1)),
    )


def _look_findings(qc: QCInput, measures: dict[str, float]) -> list[Finding]:
    findings = []
    spans = list(qc.spans)
    for later in range(len(spans)):
        for earlier in range(later - 1):  # neighbours are judged at their cut
            first, second = spans[earlier], spans[later]
            if first.template is None or first.template != second.template:
                continue
            if first.end <= first.start or second.end <= second.start:
                continue
            finding = _look_finding(qc, earlier, later, measures)
            if finding is not None:
                findings.append(finding)
    return findings


def _look_finding(qc: QCInput, earlier: int, later: int, measures: dict[str, float]) -> Finding | None:
    """The finding on span `later` against span `earlier` (indices) when their looks differ; their ΔE goes
    into `measures` either way."""
    first, second = qc.spans[earlier], qc.spans[later]
    middle_first = qc.frames[(first.start + first.end - 1) // 2]
    middle_second = qc.frames[(second.start + second.end - 1) // 2]
    comparison = compare_sides([middle_first], [middle_second])
    if comparison.same_scene:
        threshold, severity = DELTA_E_WARN, _severity(comparison.delta_e)
        delta_lab = comparison.delta_lab
    else:
        threshold, severity = LOOK_DELTA_E_WARN, Severity.warn
        delta = _span_mean_lab(qc, second) - _span_mean_lab(qc, first)
        delta_lab = (float(delta[0]), float(delta[1]), float(delta[2]))
    delta_e = float(np.linalg.norm(delta_lab))
    subject = look_subject(span_key(second, later + 1), span_key(first, earlier + 1))
    measures[subject] = delta_e
    if delta_e < threshold:
        return None
    start, end = qc.seconds(second.start), qc.seconds(second.end)
    return Finding(
        kind=CheckKind.lighting_jump,
        severity=severity,
        start=start,
        end=end,
        act=second.act_id,
        value=delta_e,
        threshold=threshold,
        message=(
            f"{_capitalised(span_title(second, later + 1))} at {start:.1f}–{end:.1f} s shares template "
            f"{second.template!r} with {span_title(first, earlier + 1)} but looks {_describe(delta_lab)} "
            f"(ΔE {delta_e:.1f})"
        ),
        subject=subject,
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _span_mean_lab(qc: QCInput, span: ActSpan) -> np.ndarray:
    """Mean CIELAB of a span, from at most 8 of its frames spread evenly."""
    picks = np.linspace(span.start, span.end - 1, num=min(8, span.end - span.start)).round().astype(int)
    return np.mean([_lab(qc.frames[index]).reshape(-1, 3).mean(axis=0) for index in picks], axis=0)
