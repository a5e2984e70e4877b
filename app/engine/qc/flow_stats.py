"""Per-pair optical-flow statistics of a film, computed once and shared by the temporal checks.

For every consecutive pair of frames (t, t+1) inside one span (pairs across a cut are two different shots
and are skipped) at analysis size (at most ANALYSIS_WIDTH pixels wide, grey):

- DIS optical flow both ways (OpenCV's "fast" preset refined down to half resolution: as accurate as the
  "medium" preset for the texture measure, at about 60 % of its cost);
- frame t warped onto frame t+1 along the backward flow (bicubic, which keeps fine detail a bilinear
  warp would blur), and an occlusion mask for frame t+1 by the forward-backward consistency test of
  Sundaram et al. (2010): a pixel is occluded when |b + f(x + b)|² > 0.01·(|b|² + |f(x + b)|²) + 0.5 px²,
  or when the backward flow leaves the frame;
- from the difference D = frame t+1 − warped frame t on non-occluded pixels, one number per measure (below),
  so memory grows by a few dozen floats per frame whatever the film's length.

All per-pair arrays have n − 1 entries for n frames (entry t: frames t → t+1) and hold NaN for pairs that
are not measured (across a cut). `usable` adds the pairs the flow could not explain (more than
MAX_OCCLUDED_SHARE of the picture occluded: an undetected cut, a flash frame) to those the checks skip.

Also here, shared by the checks: which pairs belong to which span (`pair_spans`), how spans are named in
metrics and messages (`span_key`, `span_title`), and sliding-window medians over a per-pair measure with the
stretches where they reach a threshold (`windowed_runs`).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from app.engine.cancel import CancelToken, ProgressFn, no_progress
from app.engine.flow import remap_untyped
from app.engine.qc.types import ActSpan, QCInput

ANALYSIS_WIDTH = 320  # pixels; wider frames are scaled down first
BLOCK_GRID = 3  # brightness changes are also measured on a BLOCK_GRID x BLOCK_GRID grid (local flicker)
MAX_OCCLUDED_SHARE = 0.5

# Below this many grey levels a region's mean is taken as this, so that relative brightness changes of
# near-black regions (a few levels of noise) do not read as large.
_LUMA_FLOOR = 32.0
# Forward-backward consistency tolerances (see the module doc).
_REL_TOLERANCE = 0.01
_ABS_TOLERANCE_PX2 = 0.5
# DIS needs frames of at least two patches on a side; smaller frames are padded.
_DIS_MIN_SIDE_PX = 16
_DIS_FINEST_SCALE = 1  # the "fast" preset stops at 1/4 resolution; 1/2 keeps sub-pixel accuracy
# Texture measure: local grey standard deviation (5x5) above which a pixel is textured, below which smooth.
_TEXTURED_STD = 10.0
_SMOOTH_STD = 3.0
_LOCAL_BOX = (5, 5)
# The frames are blurred by this sigma before the texture measure: the finest detail differs between two
# frames at different sub-pixel phases even when nothing is wrong (resampling), and this removes it.
_TEXTURE_PREBLUR_SIGMA = 0.8
_HIGH_PASS_SIGMA = 2.0  # high-pass = image minus its Gaussian blur of this sigma
_MIN_REGION_SHARE = 0.02  # texture/smooth measures need at least this share of the picture
# OpenCV releases the GIL, so two threads (the machines have two cores) nearly halve the time.
_WORKERS = 2
_CHUNK_PAIRS = 16  # pairs handed to the threads at a time: bounds memory and how soon a cancel is seen


@dataclass(frozen=True)
class FlowStats:
    """Per-pair statistics (see the module doc); entry t describes frames t → t+1."""

    frames: int  # frames in the film (pairs: frames − 1, or none)
    width: int  # analysis size, pixels
    height: int
    measured: np.ndarray  # bool: the pair lies inside one span
    motion: np.ndarray  # mean flow magnitude, pixels per frame at analysis size
    motion_p95: np.ndarray  # 95th percentile of the flow magnitude, same unit
    occluded: np.ndarray  # share of frame t+1's pixels that are occluded (0–1)
    luma: np.ndarray  # mean grey of frame t+1 on non-occluded pixels, 8-bit levels
    warp_error: np.ndarray  # mean |D| on non-occluded pixels, 8-bit grey levels
    brightness_change: np.ndarray  # mean D / mean luma on non-occluded pixels (relative, e.g. 0.02 = 2 %)
    block_brightness_change: np.ndarray  # the same per block, shape (n−1, BLOCK_GRID, BLOCK_GRID)
    frame_difference: np.ndarray  # mean |RGB t+1 − RGB t| over all pixels, 8-bit levels (VBench's term)
    texture_instability: np.ndarray  # RMS of high-passed D on textured pixels, levels (NaN: no texture)
    smooth_instability: np.ndarray  # the same on smooth pixels (NaN: no smooth area)
    texture_detail: np.ndarray  # RMS of the high-passed frame t+1 on those textured pixels, levels

    @property
    def usable(self) -> np.ndarray:
        """Pairs measured and mostly explained by the flow (occluded share ≤ MAX_OCCLUDED_SHARE)."""
        with np.errstate(invalid="ignore"):
            usable: np.ndarray = self.measured & (self.occluded <= MAX_OCCLUDED_SHARE)
        return usable

    @property
    def vbench_scores(self) -> np.ndarray:
        """VBench's temporal-flickering term per pair: (255 − mean |RGB t+1 − RGB t|) / 255, in 0–1."""
        scores: np.ndarray = (255.0 - self.frame_difference) / 255.0
        return scores

    @property
    def motion_energy(self) -> np.ndarray:
        """Motion per frame: entry t is the mean flow magnitude from frame t−1 to t (pixels per frame at
        analysis size), 0 for the first frame and for the first frame after a cut; n entries."""
        energy = np.zeros(self.frames, dtype=np.float64)
        energy[1:] = np.where(self.measured, np.nan_to_num(self.motion), 0.0)
        return energy


# The FlowStats fields measured per pair (all but the counts, the size and `measured`).
_PAIR_FIELDS = tuple(
    name for name in FlowStats.__dataclass_fields__ if name not in ("frames", "width", "height", "measured")
)


def pair_spans(qc: QCInput) -> list[tuple[int, ActSpan, slice]]:
    """(span number from 1, span, slice of its pair indices) for each span, in order.

    The pairs of a span of frames [start, end) are start … end−2: none crosses into the next span.
    """
    return [
        (number, span, slice(span.start, max(span.start, span.end - 1)))
        for number, span in enumerate(qc.spans, start=1)
    ]


def span_key(span: ActSpan, number: int) -> str:
    """Metrics key of a span: its act id, else "shot N" (N from 1)."""
    return span.act_id or f"shot {number}"


def span_title(span: ActSpan, number: int) -> str:
    """How messages name a span: "act 'Dawn'" or "shot N"."""
    return f"act {span.name!r}" if span.name else f"shot {number}"


def _analysis_size(frame: np.ndarray) -> tuple[int, int]:
    height, width = frame.shape[:2]
    if width <= ANALYSIS_WIDTH:
        return width, height
    return ANALYSIS_WIDTH, max(1, round(height * ANALYSIS_WIDTH / width))


def _analysis_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    resized: np.ndarray = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return resized


_per_thread = threading.local()


def _dis() -> cv2.DISOpticalFlow:
    """This thread's DIS instance (DIS keeps scratch state in the object: one per thread)."""
    dis: cv2.DISOpticalFlow | None = getattr(_per_thread, "dis", None)
    if dis is None:
        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        dis.setFinestScale(_DIS_FINEST_SCALE)
        _per_thread.dis = dis
    return dis


def _flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """DIS flow from grey `src` to grey `dst` (pixels), padding frames too small for DIS."""
    height, width = src.shape
    pad_bottom, pad_right = max(0, _DIS_MIN_SIDE_PX - height), max(0, _DIS_MIN_SIDE_PX - width)
    if pad_bottom or pad_right:
        src, dst = (
            cv2.copyMakeBorder(grey, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE) for grey in (src, dst)
        )
    flow: np.ndarray = _dis().calc(src, dst, None)  # type: ignore[call-overload]  # stubs lack None
    return flow[:height, :width]


def _remap(image: np.ndarray, source: np.ndarray, interpolation: int) -> np.ndarray:
    """`image` sampled at the absolute positions `source` (H, W, 2), edges replicated outside."""
    sampled: np.ndarray = remap_untyped(image, source, None, interpolation, borderMode=cv2.BORDER_REPLICATE)
    return sampled


def _local_std(grey: np.ndarray) -> np.ndarray:
    mean = cv2.blur(grey, _LOCAL_BOX)
    variance = cv2.blur(grey * grey, _LOCAL_BOX) - mean * mean
    std: np.ndarray = np.sqrt(np.maximum(variance, 0.0))
    return std


def _high_pass(image: np.ndarray) -> np.ndarray:
    high: np.ndarray = image - cv2.GaussianBlur(image, (0, 0), _HIGH_PASS_SIGMA)
    return high


def _rms(values: np.ndarray, mask: np.ndarray) -> float:
    if mask.mean() < _MIN_REGION_SHARE:
        return float("nan")
    selected = values[mask]
    return float(np.sqrt(np.mean(selected * selected)))


def _block_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of `values` in each block of a BLOCK_GRID x BLOCK_GRID grid (NaN where no weight)."""
    size = (BLOCK_GRID, BLOCK_GRID)
    weighted = cv2.resize(values * weights, size, interpolation=cv2.INTER_AREA)
    total = cv2.resize(weights, size, interpolation=cv2.INTER_AREA)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: np.ndarray = np.where(total > 1e-3, weighted / total, np.nan)
    return means


def _pair_stats(
    rgb0: np.ndarray, rgb1: np.ndarray, grey0: np.ndarray, grey1: np.ndarray, grid: np.ndarray
) -> dict[str, float | np.ndarray]:
    """Every per-pair measure, keyed by the FlowStats field it goes to."""
    height, width = grey0.shape
    forward = _flow(grey0, grey1)
    backward = _flow(grey1, grey0)
    source = grid + backward
    warped = _remap(grey0.astype(np.float32), source, cv2.INTER_CUBIC)
    forward_there = _remap(forward, source, cv2.INTER_LINEAR)
    round_trip = backward + forward_there
    error_sq = np.einsum("ijk,ijk->ij", round_trip, round_trip)
    magnitude_sq = np.einsum("ijk,ijk->ij", backward, backward) + np.einsum(
        "ijk,ijk->ij", forward_there, forward_there
    )
    inside = cv2.inRange(source, (0.0, 0.0), (width - 1.0, height - 1.0)) > 0
    visible = (error_sq <= _REL_TOLERANCE * magnitude_sq + _ABS_TOLERANCE_PX2) & inside
    weights = visible.astype(np.float32)

    magnitude = cv2.magnitude(forward[..., 0], forward[..., 1])
    later = grey1.astype(np.float32)
    difference = later - warped
    if visible.any():
        luma = float(later[visible].mean())
        mean_difference = float(difference[visible].mean())
        warp_error = float(np.abs(difference[visible]).mean())
    else:
        luma = mean_difference = warp_error = float("nan")
    brightness_change = mean_difference / max(luma, _LUMA_FLOOR)
    block_luma = np.maximum(_block_means(later, weights), _LUMA_FLOOR)
    block_change = _block_means(difference, weights) / block_luma

    # Texture: an overall brightness change is flicker's business, so the warped frame is matched in gain
    # first; the blur drops the sub-pixel resampling differences (see _TEXTURE_PREBLUR_SIGMA).
    gain = luma / max(float(warped[visible].mean()), 1.0) if visible.any() else 1.0
    soft_later = cv2.GaussianBlur(later, (0, 0), _TEXTURE_PREBLUR_SIGMA)
    soft_warped = cv2.GaussianBlur(warped * np.float32(gain), (0, 0), _TEXTURE_PREBLUR_SIGMA)
    unstable = _high_pass(soft_later - soft_warped)
    std_later, std_warped = _local_std(later), _local_std(warped)
    textured = visible & (std_later > _TEXTURED_STD) & (std_warped > _TEXTURED_STD)
    smooth = visible & (std_later < _SMOOTH_STD) & (std_warped < _SMOOTH_STD)
    return {
        "motion": float(magnitude.mean()),
        "motion_p95": float(np.percentile(magnitude, 95)),
        "occluded": 1.0 - float(weights.mean()),
        "luma": luma,
        "warp_error": warp_error,
        "brightness_change": brightness_change,
        "block_brightness_change": block_change,
        "frame_difference": float(cv2.absdiff(rgb0, rgb1).mean()),
        "texture_instability": _rms(unstable, textured),
        "smooth_instability": _rms(unstable, smooth),
        "texture_detail": _rms(_high_pass(soft_later), textured),
    }


def compute(qc: QCInput, progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> FlowStats:
    """The per-pair statistics of `qc`'s frames (module doc). `progress` gets (pairs done, pairs total).

    Any frame count works (0 or 1 frame: empty arrays). Frames wider than ANALYSIS_WIDTH are scaled down.
    Raises Cancelled when `cancel` is cancelled.
    """
    count = len(qc.frames)
    size = _analysis_size(qc.frames[0]) if count else (0, 0)
    pairs = max(0, count - 1)
    measured = np.zeros(pairs, dtype=bool)
    for _, _, pair_slice in pair_spans(qc):
        measured[pair_slice] = True
    columns: dict[str, list[float | np.ndarray]] = {name: [] for name in _PAIR_FIELDS}
    nothing: dict[str, float | np.ndarray] = {name: float("nan") for name in _PAIR_FIELDS}
    nothing["block_brightness_change"] = np.full((BLOCK_GRID, BLOCK_GRID), np.nan)
    xs, ys = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    grid = np.dstack([xs, ys])

    def prepared(index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame `index` at analysis size: (RGB, grey)."""
        rgb = np.ascontiguousarray(_analysis_frame(qc.frames[index], size))
        return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for first in range(0, pairs, _CHUNK_PAIRS):
            if cancel is not None:
                cancel.raise_if_cancelled()
            last = min(pairs, first + _CHUNK_PAIRS)  # pairs first … last−1 use frames first … last
            frames = list(pool.map(prepared, range(first, last + 1)))

            def measure(
                pair: int, frames: list[tuple[np.ndarray, np.ndarray]] = frames, first: int = first
            ) -> dict[str, float | np.ndarray]:
                if not measured[pair]:
                    return nothing
                (rgb0, grey0), (rgb1, grey1) = frames[pair - first], frames[pair + 1 - first]
                return _pair_stats(rgb0, rgb1, grey0, grey1, grid)

            for values in pool.map(measure, range(first, last)):
                for name, value in values.items():
                    columns[name].append(value)
            progress(last, pairs)
    arrays = {name: np.asarray(column, dtype=np.float64) for name, column in columns.items()}
    arrays["block_brightness_change"] = arrays["block_brightness_change"].reshape(
        pairs, BLOCK_GRID, BLOCK_GRID
    )
    return FlowStats(frames=count, width=size[0], height=size[1], measured=measured, **arrays)


def sliding_medians(series: np.ndarray, window: int) -> np.ndarray:
    """Median of each run of `window` consecutive entries of `series` (shape (m,) or (m, k): per column),
    ignoring NaN; NaN where fewer than half the entries are numbers. m − window + 1 rows (none if m <
    window)."""
    if len(series) < window:
        return np.empty((0, *series.shape[1:]))
    views = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)
    counts = np.isfinite(views).sum(axis=-1)
    medians = np.full(views.shape[:-1], np.nan)
    enough = counts * 2 >= window
    if enough.any():
        medians[enough] = np.nanmedian(views[enough], axis=-1)
    return medians


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] index pairs (inclusive) of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(start), int(end)) for start, end in zip(starts, ends, strict=True)]


def worst_window(per_pair: np.ndarray, window: int) -> float | None:
    """The largest window median of a per-pair measure over one span (`per_pair` as `windowed_runs`
    takes it), at any level: what `windowed_runs` compares with its threshold. None when no window has
    enough measured entries."""
    regions = per_pair[:, np.newaxis] if per_pair.ndim == 1 else per_pair
    medians = sliding_medians(regions, window)
    finite = medians[np.isfinite(medians)]
    return float(finite.max()) if len(finite) else None


def windowed_runs(per_pair: np.ndarray, window: int, threshold: float) -> list[tuple[int, int, float]]:
    """Where a per-pair measure stays at or above `threshold`: (first, last, value) per stretch.

    `per_pair` is (m,) or (m, k) for one span (k regions, e.g. blocks), NaN where not measured. A window
    of `window` entries is flagged when the median of some region reaches `threshold` (so the measure
    holds for at least half the window); consecutive flagged windows make one stretch, reported from the
    first to the last entry inside them (inclusive, indices into `per_pair`) that reaches `threshold` on
    its own, with value = the largest window median in the stretch.
    """
    regions = per_pair[:, np.newaxis] if per_pair.ndim == 1 else per_pair
    medians = sliding_medians(regions, window)
    if not len(medians):
        return []
    window_values = np.fmax.reduce(medians, axis=1)
    entry_values = np.fmax.reduce(regions, axis=1)
    stretches = []
    with np.errstate(invalid="ignore"):
        flagged = window_values >= threshold
        reaching = entry_values >= threshold
    for first_window, last_window in runs(flagged):
        covered = np.flatnonzero(reaching[first_window : last_window + window]) + first_window
        value = float(np.max(window_values[first_window : last_window + 1]))
        stretches.append((int(covered[0]), int(covered[-1]), value))
    return stretches
