"""Reference overfit: acts that barely move away from their reference, and acts that look the same.

Near-static (per span). Every frame, the span's first frame and each of the span's references (fitted to
the frame by cover) are reduced to grey at STILL_WIDTH px wide, lightly blurred, and their own mean is
subtracted (a flicker or a fade is not motion). How far a frame has moved from an anchor (the first frame or
a reference) is estimated as mean |frame − anchor| / mean |∇anchor|: for small moves the difference of a
shifted picture is its gradient times the shift, so the ratio is about the displacement in STILL_WIDTH
pixels, whatever the picture's contrast (a dim night scene moves as much as a bright one). A frame is
*still* when that is below STILL_DISPLACEMENT_PX for the first frame or a reference. The value is the share
of the span's frames after the first that are still (0–1); warn at STILL_SHARE_WARN. Spans shorter than
MIN_SPAN_FRAMES, or whose first frame has no structure to move (mean gradient below MIN_STRUCTURE: black, a
flat colour), are skipped. On the labelled set clean acts (camera intensity ≥ 0.5) reach a share of at
most 0.34; acts at intensity 0.06 reach 0.66–1.0, at 0.02 and 0 reach 1.0.

Reuse (between spans). Each reference and each span's middle frame gets a 64-bit DCT perceptual hash
(grey 32×32, the 8×8 lowest frequencies above or below their median). Two spans whose references hash
within REUSE_BITS of each other, or (with no reference to compare) whose middle frames do, look the same
(flat middle frames — black, a plain colour — are not compared):
one warning on the later span with value = similarity = 1 − Hamming distance / 64, threshold
REUSE_SIMILARITY.

This check only warns, it never fails: a still or a repeated shot can be a choice only the user can judge.

Measures: each judged span's still share (`still_subject`) and, for each span after the first, its largest
similarity to an earlier span compared as above (`reuse_subject`), below the thresholds too.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from app.engine.qc.flow_stats import span_key, span_title
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput, Severity, subject_key

STILL_WIDTH = 64  # px: movement of a pixel at this size is a clearly visible move
STILL_DISPLACEMENT_PX = 0.4  # estimated move (STILL_WIDTH pixels) below which a frame has not moved
STILL_SHARE_WARN = 0.8
MIN_SPAN_FRAMES = 6
MIN_STRUCTURE = 0.5  # mean gradient (grey levels per pixel) below which a picture is flat
FLAT_STD = 2.0  # grey standard deviation (levels) below which a middle frame is flat (no hash)
HASH_BITS = 64
REUSE_BITS = 6  # Hamming distance of two perceptual hashes at or below which two pictures are one
REUSE_SIMILARITY = 1.0 - REUSE_BITS / HASH_BITS


def check(qc: QCInput) -> CheckResult:
    """Near-static spans and spans that look the same (module doc); metrics: the still share per span."""
    result = CheckResult()
    still_shares: dict[str, float] = {}
    for number, span in enumerate(qc.spans, start=1):
        if span.end - span.start < MIN_SPAN_FRAMES:
            continue
        share = still_share(qc.frames[span.start : span.end], span.references)
        if share is None:
            continue
        still_shares[span_key(span, number)] = round(share, 4)
        result.measures[still_subject(span_key(span, number))] = share
        if share >= STILL_SHARE_WARN:
            result.findings.append(_still_finding(qc, span, number, share))
    result.findings.extend(_reuse_findings(qc, result.measures))
    result.metrics["still_share"] = still_shares
    return result


def still_subject(span: str) -> str:
    """The measure key of the still share of the span whose key is `span`."""
    return subject_key(CheckKind.reference_overfit, "still", span)


def reuse_subject(span: str) -> str:
    """The measure key of how alike the span whose key is `span` is to the earlier spans."""
    return subject_key(CheckKind.reference_overfit, "reuse", span)


def still_share(frames: Sequence[np.ndarray], references: Sequence[np.ndarray] = ()) -> float | None:
    """Share (0–1) of `frames[1:]` that moved less than STILL_DISPLACEMENT_PX from `frames[0]` or from a
    reference fitted to them; None when there is nothing to judge (under two frames, a flat first frame)."""
    if len(frames) < 2:
        return None
    height, width = frames[0].shape[:2]
    size = (STILL_WIDTH, max(4, round(STILL_WIDTH * height / width)))
    first = _still_signature(frames[0], size)
    if _structure(first) < MIN_STRUCTURE:
        return None
    anchors = [first] + [_still_signature(_cover(image, width, height), size) for image in references]
    scales = [max(_structure(anchor), MIN_STRUCTURE) for anchor in anchors]
    still = 0
    for frame in frames[1:]:
        signature = _still_signature(frame, size)
        moved = min(
            float(np.mean(np.abs(signature - anchor))) / scale
            for anchor, scale in zip(anchors, scales, strict=True)
        )
        if moved < STILL_DISPLACEMENT_PX:
            still += 1
    return still / (len(frames) - 1)


def perceptual_hash(image: np.ndarray) -> int:
    """64-bit DCT hash of an RGB image: near-identical pictures (any size, exposure) hash alike."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    # The DC term is the mean brightness; comparing it with the median would make exposure count.
    bits = low > np.median(low[1:])
    bits[0] = False
    return int(sum(1 << index for index, bit in enumerate(bits) if bit))


def _still_signature(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    grey = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(grey.astype(np.float32), (3, 3), 0)
    return blurred - float(blurred.mean())


def _structure(signature: np.ndarray) -> float:
    """Mean gradient magnitude (grey levels per pixel)."""
    grad_y, grad_x = np.gradient(signature)
    return float(np.mean(np.hypot(grad_x, grad_y)))


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled to fill width×height, centred, the overflow cropped (how references are fitted)."""
    source_height, source_width = image.shape[:2]
    scale = max(width / source_width, height / source_height)
    scaled_width = max(width, round(source_width * scale))
    scaled_height = max(height, round(source_height * scale))
    scaled = cv2.resize(image, (scaled_width, scaled_height), interpolation=cv2.INTER_AREA)
    left, top = (scaled_width - width) // 2, (scaled_height - height) // 2
    return scaled[top : top + height, left : left + width]


def _still_finding(qc: QCInput, span: ActSpan, number: int, share: float) -> Finding:
    start, end = qc.seconds(span.start), qc.seconds(span.end)
    return Finding(
        kind=CheckKind.reference_overfit,
        severity=Severity.warn,
        start=start,
        end=end,
        act=span.act_id,
        value=share,
        threshold=STILL_SHARE_WARN,
        message=(
            f"Near-static {span_title(span, number)} at {start:.1f}–{end:.1f} s: {share:.0%} of its frames "
            f"barely move from the first frame or the reference (re-roll the seed or add motion)"
        ),
        subject=still_subject(span_key(span, number)),
    )


def _reuse_findings(qc: QCInput, measures: dict[str, float]) -> list[Finding]:
    """One finding per span that looks like an earlier one; each span's largest similarity to the earlier
    spans goes into `measures`."""
    reference_hashes = [[perceptual_hash(image) for image in span.references] for span in qc.spans]
    middle_hashes = [_middle_hash(qc, span) for span in qc.spans]
    findings = []
    for later in range(1, len(qc.spans)):
        found = False
        closest: int | None = None
        for earlier in range(later):
            if reference_hashes[later] and reference_hashes[earlier]:
                distance = min(
                    _hamming(a, b) for a in reference_hashes[later] for b in reference_hashes[earlier]
                )
                same_reference = True
            else:
                first, second = middle_hashes[later], middle_hashes[earlier]
                if first is None or second is None:
                    continue
                distance = _hamming(first, second)
                same_reference = False
            closest = distance if closest is None else min(closest, distance)
            if distance <= REUSE_BITS and not found:
                findings.append(_reuse_finding(qc, later, earlier, distance, same_reference))
                found = True  # one finding per span: the first look-alike is enough to act on
        if closest is not None:
            measures[reuse_subject(span_key(qc.spans[later], later + 1))] = 1.0 - closest / HASH_BITS
    return findings


def _middle_hash(qc: QCInput, span: ActSpan) -> int | None:
    """The perceptual hash of the span's middle frame; None when it is flat (black frames all hash alike)."""
    if span.end <= span.start:
        return None
    middle = qc.frames[(span.start + span.end - 1) // 2]
    if float(np.std(cv2.cvtColor(middle, cv2.COLOR_RGB2GRAY))) < FLAT_STD:
        return None
    return perceptual_hash(middle)


def _reuse_finding(qc: QCInput, later: int, earlier: int, distance: int, same_reference: bool) -> Finding:
    span, other = qc.spans[later], qc.spans[earlier]
    start, end = qc.seconds(span.start), qc.seconds(span.end)
    title, other_title = span_title(span, later + 1), span_title(other, earlier + 1)
    what = (
        f"reuses the reference image of {other_title}: the acts look the same"
        if same_reference
        else f"looks the same as {other_title} (the same picture again)"
    )
    return Finding(
        kind=CheckKind.reference_overfit,
        severity=Severity.warn,
        start=start,
        end=end,
        act=span.act_id,
        value=1.0 - distance / HASH_BITS,
        threshold=REUSE_SIMILARITY,
        message=f"{title[0].upper()}{title[1:]} at {start:.1f}–{end:.1f} s {what}",
        subject=reuse_subject(span_key(span, later + 1)),
    )


def _hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
