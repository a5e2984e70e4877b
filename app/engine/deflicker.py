"""Temporal deflicker: frame-to-frame brightness wobble evened out, slow changes kept.

Frames are (H, W, 3) uint8 RGB. For every frame the picture is cut into a GRID x GRID grid and each cell's
mean grey (Rec.601, as the flicker check measures it) is taken, on a copy shrunk to STATS_WIDTH px wide:
y_t = log(mean_t + LUMA_FLOOR) per cell (the floor keeps near-black cells, where a level or two is a large
ratio, from being corrected hard). The cell's intended brightness s_t is a robust local-quadratic fit
(LOESS) of y over the neighbours t − WINDOW_FRAMES … t + WINDOW_FRAMES, evaluated at t: Gaussian weights of
SIGMA_FRAMES, then one refit with bisquare weights cut off at ROBUST_MADS median absolute residuals (a lone
outlier stops pulling the fit); a line instead of a parabola where the window reaches less than half-way
on one side. A local polynomial follows a fade, an exposure drift, and the smooth rise and fall of
brightness that a camera move brings into a cell, and unlike a plain average it stays right at the ends of
a clip, where the window is one-sided. Measured on sinusoids, it removes all of a wobble with a period up
to 8 frames (3 Hz at 24 fps), 37 % at 12 frames, 14 % at 16 and under 4 % from 24 frames on: flicker
goes, a change taking a second or more stays. On camera moves over the demo photos (48 frames at 320 px,
intensity 0.5 and 1) a twelfth of the picture changes by under 1 % in most frames and by 4–6 % in the worst
frame of the fastest moves (a dolly or pan at intensity 1: content entering a cell changes its mean faster
than a parabola over ±WINDOW_FRAMES follows). At the first and last frames of a clip, a line fitted to one
side leaves about a quarter of an alternating flicker.

Each cell's mean is moved to y_t + strength · (s_t − y_t) (1 = fully onto the fitted curve, 0 = untouched)
by a gain per cell, limited to [1 / MAX_GAIN, MAX_GAIN] and bilinearly interpolated between cell centres, so a
flicker confined to part of the picture is corrected there and the correction has no seams. An interpolated
map averages less than its cell's gain over the cell (about 56 % of it where the neighbours need no change:
the gain falls off towards them), so the gains are refined CORRECTION_ROUNDS times on the small copy, each
round adding what the cell means still miss. GRID is 6 so that each third of the picture a side (the
flicker check's blocks, app.engine.qc.flow_stats.BLOCK_GRID) is exactly 2 x 2 cells: with the cell means on
target, so are the block means the check measures. With a 4 x 4 grid and no refinement, a ±3 % flicker in
one such block measured 2.9 % and still 2.0 % after deflicker 0.8 (the repair changed nothing a user could
see in the QC panel); now it measures under the check's threshold, and strength s leaves about (1 − s) of a
local flicker, as it does of one over the whole frame. A flicker on a patch much smaller than a cell is
only partly removed: a gain per cell evens out the cell's mean, not the patch inside it.

The window reaches into the handles (frames before 0 and from `length` on: the shot continuing, as
transitions show it) as far as the source has handle material: a clip without it repeats its end frame, and
the window stops at the first exact repeat (a standstill that would bend the fit at the ends).
Short bursts meant to be seen (an exposure flash on a beat) are evened out too: deflicker is a repair,
applied to acts that flicker.

Random access: the cell means of a frame are computed once and kept (a few hundred bytes a frame), and the
last WINDOW_FRAMES + 1 source frames read for them are kept too, so reading frames in order costs one
source read each (plus the handle frames the first and last windows reach); a random frame costs up to
2 · WINDOW_FRAMES + 1 reads the first time. Every output
frame depends only on its window's source frames, so the order of reads never changes a result.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import cv2
import numpy as np

from app.engine.clip import Clip

GRID = 6  # cells per side: each third of the picture (the flicker check's blocks) is 2 x 2 cells
WINDOW_FRAMES = 8  # neighbours each side of a frame that the intended brightness is fitted to
SIGMA_FRAMES = 4.0  # Gaussian weight of a neighbour at distance d: exp(−d² / 2σ²)
DEGREE = 2  # of the local polynomial (where the window reaches at least half-way on both sides; else 1)
ROBUST_MADS = 6.0  # bisquare cut-off, in median absolute residuals
MAX_GAIN = 1.25
LUMA_FLOOR = 4.0  # 8-bit grey levels added before the log
STATS_WIDTH = 64  # px: the copy the cell means are taken on
#: Part of a deflickered act's cache key: raised when the same strength gives other frames, so drafts made by
#: an older deflicker are rendered again instead of served (2: the 6 x 6 grid and refined gains).
REVISION = 2
CORRECTION_ROUNDS = 3  # refinements of the gains so each cell's mean reaches its target (module doc)
_MIN_ROBUST_SCALE = 1e-3  # log units (0.1 %): below this every residual is as good as zero
_CACHED_FRAMES = WINDOW_FRAMES + 1


class DeflickeredClip:
    """`source` with its brightness flicker removed by `strength` (0–1; module doc). Thread-safe."""

    def __init__(self, source: Clip, strength: float) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"deflicker strength: expected 0 <= strength <= 1, got {strength}")
        self._source = source
        self._strength = strength
        self.length = source.length
        self._lock = threading.Lock()
        self._cells: dict[int, np.ndarray] = {}  # frame index -> log cell means (GRID, GRID)
        # The source frames read last, oldest first: in order, frame i is read for frame i − WINDOW_FRAMES's
        # window and needed again WINDOW_FRAMES reads later.
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()

    def frame(self, index: int) -> np.ndarray:
        """The deflickered frame at body index `index` (any int, as the source takes)."""
        if self._strength == 0.0:
            return self._source.frame(index)
        image = self._source_frame(index)  # first: the window's reads below may push it out of the cache
        neighbours = self._window(index)
        values = np.stack([self._log_cells(neighbour) for neighbour in neighbours])
        offsets = np.arange(neighbours.start - index, neighbours.stop - index, dtype=np.float64)
        intended = robust_local_fit(offsets, values.reshape(len(offsets), -1)).reshape(GRID, GRID)
        current = values[index - neighbours.start]
        target = current + self._strength * (intended - current)
        return apply_gains(image, cell_gains(stats_copy(image), current, target))

    def _window(self, index: int) -> range:
        """The frames the fit for frame `index` uses: index ± WINDOW_FRAMES, cut where the source runs out
        of handle material (past the body, a frame that repeats its neighbour towards the body exactly)."""
        first, last = index - WINDOW_FRAMES, index + WINDOW_FRAMES
        for handle in range(-1, first - 1, -1):
            if np.array_equal(self._log_cells(handle), self._log_cells(handle + 1)):
                first = min(handle + 1, index)
                break
        for handle in range(self.length, last + 1):
            if np.array_equal(self._log_cells(handle), self._log_cells(handle - 1)):
                last = max(handle - 1, index)
                break
        return range(first, last + 1)

    def _source_frame(self, index: int) -> np.ndarray:
        with self._lock:
            found = self._frames.get(index)
        if found is not None:
            return found
        image = self._source.frame(index)
        with self._lock:
            self._frames[index] = image
            while len(self._frames) > _CACHED_FRAMES:
                self._frames.popitem(last=False)
        return image

    def _log_cells(self, index: int) -> np.ndarray:
        with self._lock:
            found = self._cells.get(index)
        if found is not None:
            return found
        cells = np.log(cell_means(self._source_frame(index)) + LUMA_FLOOR)
        with self._lock:
            self._cells[index] = cells
        return cells


def stats_copy(frame: np.ndarray) -> np.ndarray:
    """The frame (RGB uint8) shrunk to STATS_WIDTH px wide, float32: what the cell means are taken on."""
    height, width = frame.shape[:2]
    small_size = (STATS_WIDTH, max(GRID, round(height * STATS_WIDTH / width)))
    # Shrinking in two steps keeps the big one on uint8 (fast); the rounding it adds averages out over the
    # hundreds of small pixels in a cell.
    small: np.ndarray = cv2.resize(frame, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return small


def cell_means(frame: np.ndarray) -> np.ndarray:
    """Mean grey (8-bit levels, float64) of each cell of a GRID x GRID grid over an RGB uint8 frame."""
    return _small_cell_means(stats_copy(frame))


def _small_cell_means(small: np.ndarray) -> np.ndarray:
    cells = cv2.resize(small, (GRID, GRID), interpolation=cv2.INTER_AREA)
    grey: np.ndarray = cv2.cvtColor(cells, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return grey


def cell_gains(small: np.ndarray, current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The per-cell gains (float32, GRID x GRID, within [1 / MAX_GAIN, MAX_GAIN]) that, bilinearly
    interpolated over `small` (a `stats_copy`), move its cells' log means from `current` to `target`
    (log(mean + LUMA_FLOOR), module doc)."""
    log_gains = target - current
    for _ in range(CORRECTION_ROUNDS):
        gains = np.clip(np.exp(log_gains), 1.0 / MAX_GAIN, MAX_GAIN).astype(np.float32)
        reached = np.log(_small_cell_means(_gained(small, gains)) + LUMA_FLOOR)
        log_gains = log_gains + (target - reached)
    return np.clip(np.exp(log_gains), 1.0 / MAX_GAIN, MAX_GAIN).astype(np.float32)


def _gained(small: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """`small` (float32) times the interpolated gain map, clipped to 0–255 as `apply_gains` clips."""
    height, width = small.shape[:2]
    gain_map = cv2.resize(cv2.merge([gains, gains, gains]), (width, height), interpolation=cv2.INTER_LINEAR)
    gained: np.ndarray = np.clip(small * gain_map, 0.0, 255.0)
    return gained


def robust_local_fit(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The robust local-quadratic fit (module doc) of each column of `values` (n samples x k series, sampled
    at frame `offsets` from the frame of interest, which is among them), evaluated at offset 0: shape (k,).
    """
    # One-sided, a parabola swings with the last few samples: near the ends of a clip a line extrapolates
    # more steadily (an alternating ±5 % leaves 1.3 % at the last frame instead of 2.6 %).
    two_sided = min(-float(offsets.min()), float(offsets.max())) >= WINDOW_FRAMES // 2
    degree = min(DEGREE if two_sided else 1, len(offsets) - 1)
    design = np.stack([offsets**power for power in range(degree + 1)], axis=1)  # (n, degree + 1)
    base = np.exp(-0.5 * (offsets / SIGMA_FRAMES) ** 2)[:, np.newaxis]
    coefficients = _weighted_fit(design, values, np.broadcast_to(base, values.shape))
    residuals = values - design @ coefficients.T
    scale = np.maximum(ROBUST_MADS * np.median(np.abs(residuals), axis=0), _MIN_ROBUST_SCALE)
    bisquare = np.clip(1.0 - (residuals / scale) ** 2, 0.0, None) ** 2
    # At least half the residuals lie within a sixth of the cut-off, so every series keeps weight.
    refit: np.ndarray = _weighted_fit(design, values, base * bisquare)[:, 0]
    return refit


def _weighted_fit(design: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares per column of `values` (n x k) on `design` (n x p): coefficients (k, p).

    The pseudo-inverse keeps a column whose weight sits on too few offsets to fix every coefficient finite
    (it then gets the smallest coefficients that fit)."""
    normal = np.einsum("np,nk,nq->kpq", design, weights, design)
    moments = np.einsum("np,nk,nk->kp", design, weights, values)
    coefficients: np.ndarray = np.einsum("kpq,kq->kp", np.linalg.pinv(normal), moments)
    return coefficients


def apply_gains(frame: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """`frame` (RGB uint8) multiplied by a grid of gains (float32, one per cell), bilinearly interpolated
    between cell centres and constant beyond the outer ones; rounded and clipped to 0–255."""
    height, width = frame.shape[:2]
    gain_map = cv2.resize(cv2.merge([gains, gains, gains]), (width, height), interpolation=cv2.INTER_LINEAR)
    result: np.ndarray = cv2.multiply(frame, gain_map, dtype=cv2.CV_8U)
    return result
