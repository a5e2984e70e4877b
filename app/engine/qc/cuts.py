"""Shot-cut detection for videos we did not render (where the act boundaries are unknown).

Two measures per pair of consecutive frames (t-1, t):

- `h[t]`: Bhattacharyya distance (0 same … 1 disjoint) between HSV colour histograms (16×4×4 bins) of the
  two frames at 80 px wide — the classic cut measure.
- `m[t]`: the share of pixels the motion cannot explain: both frames go to grey at 128 px wide, each
  normalised to zero mean and unit standard deviation (so a brightness change, a flash or flicker, counts
  for nothing), frame t-1 is warped onto frame t with DIS optical flow, and `m` is the share of pixels whose
  residual exceeds MISMATCH_SIGMA. A camera move, however fast, is explained by the flow (m ≈ 0.01 on fast
  pans, zooms and rotations of real photos); a new shot is not (m ≈ 0.7 between different photos).

Pair t is a cut when `m[t]` stands out from its neighbourhood — above MIN_MISMATCH and above the median of
the surrounding ±WINDOW_S plus K·MAD (the adaptive threshold) — and the histograms agree: `h[t]` also
stands out the same way, or `m[t]` is above STRONG_MISMATCH on its own (a reframing of the same picture
changes the histogram little).

Gradual transitions (a crossfade, a dip to black, a morph) change the picture a little every frame, so no
single pair stands out. They are found by comparing frames GRADUAL_HALF_S before and after each frame t:
`H[t]` = the histogram distance of frames t−K and t+K. A transition's centre is where `H` peaks (the largest
within ±K), above GRADUAL_MIN_HIST and above the median + K·MAD of its ±WINDOW_S neighbourhood, and where
the two frames do not show one scene moved (their flow-compensated mismatch, as `m`, is at least
GRADUAL_MIN_MISMATCH: a fast pan over 2K frames keeps its histogram and is explained by the flow; a fade of
one shot's brightness is removed by the normalisation). Its cut is placed at the first frame between
frames t−K and t+K whose histogram is nearer the later one's.

Among candidates closer than MIN_SHOT_S, hard cuts win over gradual ones, then the larger mismatch wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import cv2
import numpy as np

from app.engine.cancel import CancelToken, ProgressFn, no_progress

HIST_WIDTH = 80  # px: colour histograms need no detail
FLOW_WIDTH = 128  # px: enough for DIS to follow camera moves, cheap at any source size
HIST_BINS = (16, 4, 4)  # hue, saturation, value
MISMATCH_SIGMA = 0.5  # residual (in the frame's own standard deviations) past which a pixel is unexplained
MIN_MISMATCH = 0.12  # share of unexplained pixels below which a pair is never a cut
STRONG_MISMATCH = 0.4  # share above which a pair is a cut even when the colours barely change
K_MAD = 6.0  # how many robust standard deviations (1.4826·MAD) above the local median a cut stands
MISMATCH_SPREAD_FLOOR = 0.02  # the robust spread never counts as smaller (static shots have MAD ≈ 0)
HIST_SPREAD_FLOOR = 0.01
WINDOW_S = 1.0  # seconds either side of a pair in its neighbourhood
MIN_SHOT_S = 0.4  # no two cuts closer than this (seconds)
GRADUAL_HALF_S = 0.25  # K: frames this far either side of a frame are compared for a gradual transition
GRADUAL_MIN_HIST = 0.3
GRADUAL_MIN_MISMATCH = 0.4


def detect(
    frames: Sequence[np.ndarray],
    fps: Fraction | float,
    min_shot_s: float = MIN_SHOT_S,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[int]:
    """Frames (indices into `frames`) where a new shot starts, sorted, each in [1, len(frames)).

    `frames` are RGB uint8 frames of one size; `fps` their rate (frames per second); cuts are at least
    `min_shot_s` seconds apart. `progress` hears (pairs done, pairs) as the pairs are measured.
    """
    if len(frames) < 2:
        return []
    hists = [_histogram(frame, _size(frame, HIST_WIDTH, 8)) for frame in frames]
    hist_change, mismatch = pair_measures(frames, progress, cancel, hists)
    window = max(1, round(WINDOW_S * float(fps)))
    hard = [pair for pair in range(1, len(frames)) if _is_cut(pair - 1, hist_change, mismatch, window)]
    gradual = _gradual_transitions(frames, hists, max(2, round(GRADUAL_HALF_S * float(fps))), window)
    # Hard cuts rank above every gradual transition (mismatch ≤ 1), then by their own mismatch.
    strength = {frame: score for frame, score in gradual.items()}
    strength.update({frame: 1.0 + float(mismatch[frame - 1]) for frame in hard})
    return _spaced(strength, max(1, round(min_shot_s * float(fps))))


def pair_measures(
    frames: Sequence[np.ndarray],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    hists: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(h, m) for each consecutive pair: arrays of len(frames) - 1, pair i being frames (i, i+1).

    `h` is the colour-histogram distance and `m` the share of pixels the flow cannot explain (module doc);
    `hists` are the frames' histograms when already made.
    """
    histograms = hists or [_histogram(frame, _size(frame, HIST_WIDTH, 8)) for frame in frames]
    matcher = _Matcher(_size(frames[0], FLOW_WIDTH, 16))
    count = len(frames) - 1
    hist_change = np.zeros(count, dtype=np.float64)
    mismatch = np.zeros(count, dtype=np.float64)
    previous = matcher.prepare(frames[0])
    for pair in range(count):
        if cancel is not None:
            cancel.raise_if_cancelled()
        current = matcher.prepare(frames[pair + 1])
        hist_change[pair] = cv2.compareHist(histograms[pair], histograms[pair + 1], cv2.HISTCMP_BHATTACHARYYA)
        mismatch[pair] = matcher.unexplained(previous, current)
        previous = current
        progress(pair + 1, count)
    return hist_change, mismatch


class _Matcher:
    """Flow-compensated comparison of two frames at one analysis size (see `m` in the module doc)."""

    def __init__(self, size: tuple[int, int]) -> None:
        self._size = size
        self._grid_y, self._grid_x = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
        self._dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(grey with zero mean and unit deviation as float32, the same as uint8 for DIS)."""
        grey = cv2.cvtColor(cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        values = grey.astype(np.float32)
        # A flat frame (black, a fade) has no structure to compare: keep it flat rather than amplify noise.
        normalised = (values - values.mean()) / max(float(values.std()), 4.0)
        as_u8 = np.clip(normalised * 40.0 + 128.0, 0, 255).astype(np.uint8)
        return normalised, as_u8

    def unexplained(
        self, earlier: tuple[np.ndarray, np.ndarray], later: tuple[np.ndarray, np.ndarray]
    ) -> float:
        """Share of `later`'s pixels that `earlier`, moved along the flow, does not explain."""
        # Flow from the later frame back to the earlier one: where each later pixel came from.
        flow = self._dis.calc(later[1], earlier[1], None)  # type: ignore[call-overload]  # stubs lack None
        warped = cv2.remap(
            earlier[0],
            self._grid_x + flow[..., 0],
            self._grid_y + flow[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return float(np.mean(np.abs(warped - later[0]) > MISMATCH_SIGMA))


def _size(frame: np.ndarray, width: int, min_height: int) -> tuple[int, int]:
    height, source_width = frame.shape[:2]
    return width, max(min_height, round(width * height / source_width))


def _histogram(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    hsv = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), [0, 180, 0, 256, 0, 256])
    return hist / max(float(hist.sum()), 1.0)


def _stands_out(values: np.ndarray, index: int, window: int, spread_floor: float) -> bool:
    """values[index] > median + K_MAD·spread of its ±window neighbours (itself excluded)."""
    low, high = max(0, index - window), min(values.size, index + window + 1)
    neighbours = np.delete(values[low:high], index - low)
    if neighbours.size == 0:
        return True
    median = float(np.median(neighbours))
    spread = max(1.4826 * float(np.median(np.abs(neighbours - median))), spread_floor)
    return bool(values[index] > median + K_MAD * spread)


def _is_cut(index: int, hist_change: np.ndarray, mismatch: np.ndarray, window: int) -> bool:
    if mismatch[index] < MIN_MISMATCH or not _stands_out(mismatch, index, window, MISMATCH_SPREAD_FLOOR):
        return False
    return mismatch[index] >= STRONG_MISMATCH or _stands_out(hist_change, index, window, HIST_SPREAD_FLOOR)


def _gradual_transitions(
    frames: Sequence[np.ndarray], hists: Sequence[np.ndarray], half: int, window: int
) -> dict[int, float]:
    """Centres of gradual transitions (module doc) and the mismatch across each."""
    if len(frames) < 2 * half + 1:
        return {}
    span = np.array(
        [
            cv2.compareHist(hists[t - half], hists[t + half], cv2.HISTCMP_BHATTACHARYYA)
            for t in range(half, len(frames) - half)
        ]
    )
    matcher: _Matcher | None = None
    found = {}
    for index in range(span.size):
        if (
            span[index] < GRADUAL_MIN_HIST
            or span[index] < span[max(0, index - half) : index + half + 1].max()
        ):
            continue
        if not _stands_out(span, index, window, HIST_SPREAD_FLOOR):
            continue
        centre = index + half
        matcher = matcher or _Matcher(_size(frames[0], FLOW_WIDTH, 16))
        across = matcher.unexplained(
            matcher.prepare(frames[centre - half]), matcher.prepare(frames[centre + half])
        )
        if across >= GRADUAL_MIN_MISMATCH:
            found[_midpoint(hists, centre - half, centre + half)] = across
    return found


def _midpoint(hists: Sequence[np.ndarray], first: int, last: int) -> int:
    """The first frame between frames `first` and `last` that looks more like `last` than like `first`:
    where a transition between them hands over (the peak of `H` can sit a frame or two off it)."""
    for frame in range(first + 1, last + 1):
        to_first = cv2.compareHist(hists[frame], hists[first], cv2.HISTCMP_BHATTACHARYYA)
        to_last = cv2.compareHist(hists[frame], hists[last], cv2.HISTCMP_BHATTACHARYYA)
        if to_last < to_first:
            return frame
    return last


def _spaced(strength: dict[int, float], min_gap: int) -> list[int]:
    """The strongest candidate frames at least `min_gap` frames apart, sorted."""
    kept: list[int] = []
    for frame in sorted(strength, key=lambda f: -strength[f]):
        if all(abs(frame - other) >= min_gap for other in kept):
            kept.append(frame)
    return sorted(kept)
