"""The finishing stage after the colour grade: painterly stylize, film grain and vignette, in that order.

Frames are (H, W, 3) uint8 RGB. Each effect is driven by one `GradeSettings` value in 0..1 (0 = off):

stylize s — a painterly / cel simplification computed at a reduced working size (the frame's height capped
    at 360 px, so the look is the same fraction of the picture at every output size and costs the same at
    1080p as at 360p). With scale = work height / 360:
    1. an area-averaging downscale (sub-pixel motion changes the small image smoothly: no shimmer);
    2. a smooth Kuwahara filter with half-width h = round((1 + 3s)·scale) ≥ 1: each pixel becomes
       Σ m_q·w_q / Σ w_q over the four (2h+1)² boxes that have the pixel as a corner, m_q the box's mean
       colour, w_q = 1 / (1 + (var_q / 64)⁴) with var_q the variance of the box's luma — flat areas
       average evenly (stable on noise), edges take the side they belong to, which reads as brush strokes;
    3. above s = 0.4, posterisation in CIE Lab with p = (s − 0.4) / 0.6: L in 24 − 16p levels, a and b in
       steps of 3 + 9p around neutral, each step a smoothstep staircase (a value near a boundary moves
       continuously instead of flipping between two levels from frame to frame);
    4. above s = 0.6, dark ink lines on the dark side of edges: with D = (narrow − wide Gaussian blur of
       the filtered luma, σ = scale and 1.6·scale), the gain 1 − k·clip((−D − 2) / 6, 0, 1), a ramp rather
       than a threshold so lines fade in and out steadily, k = 0.8·min(1, (s − 0.6) / 0.3);
    5. a linear upscale, mixed with the input by α = min(1, s / 0.45): subtle at 0.3, fully painted from
       0.45 on. Everything is a pure function of the frame: the same input always gives the same output.
grain g — film grain on luminance, the same offset added to R, G and B and rounded to whole levels:
    g · 14 · w(Y) · n, with Y the pixel's luma in 0..1, w(Y) = (1 − Y)·min(1, 0.25 + 3Y) / 0.75 (1 at
    Y = 0.25, fading out in the highlights and partly in the blacks) and n zero-mean noise of unit
    variance: the difference of two uniform byte fields on a grid at most 540 rows tall, bilinearly
    upscaled (grain about 2 px at 1080p, soft like film rather than per-pixel digital noise). A frame under
    540 rows gets one cell per pixel with the spread divided by 540 / height, so a draft or a thumbnail
    shows the grain as the final frame scaled down would. The noise is seeded by (seed, frame index): it
    changes every frame, and the same frame index always gets the same grain (renders and caches stay
    deterministic).
vignette v — the frame multiplied by a precomputed radial mask, 1 − 0.6·v·smoothstep(0.3, 1, ρ) with ρ the
    distance from the centre in half-widths and half-heights, scaled so the corners are at ρ = 1 (the centre
    is untouched; the darkening follows the frame's aspect).
"""

from __future__ import annotations

import functools
import math
import threading

import cv2
import numpy as np

from app.engine.clip import Clip
from app.model.act import GradeSettings

_WORK_HEIGHT = 360  # stylize's working height in px (a frame smaller than this is filtered as it is)
_KUWAHARA_VARIANCE = 64.0  # luma variance (8-bit levels²) where a box's weight halves
_POSTERIZE_FROM = 0.4
_INK_FROM = 0.6
_INK_DARKNESS = 0.8
_FULL_MIX_AT = 0.45  # stylize at or above this replaces the frame entirely

_GRAIN_GRID_HEIGHT = 540  # grain is drawn on a grid at most this tall, then upscaled to the frame
_GRAIN_LEVELS = 14.0  # grain 1: the noise's standard deviation in 8-bit levels where w(Y) = 1
#: The standard deviation of the difference of two uniform bytes: sqrt(2 · (256² − 1) / 12).
_BYTE_DIFFERENCE_STD = math.sqrt(2 * (256**2 - 1) / 12)

_VIGNETTE_DARKEN = 0.6  # vignette 1: the corners keep 40 % of their value
_VIGNETTE_START = 0.3  # ρ where the darkening begins


class _Workspace(threading.local):
    """Work arrays reused from frame to frame, one set per thread.

    Finishing runs frame after frame at one size, and a fresh full-size array costs page faults on first
    touch: measured on the 2-core development VMs, that doubled the cost of the arithmetic itself.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> np.ndarray:
        """The thread's array called `name`, (re)allocated when the shape or dtype changed; uninitialised."""
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype)
        return array


_WORKSPACE = _Workspace()


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    result: np.ndarray = t * t * (3.0 - 2.0 * t)
    return result


def _staircase(step: float, centre: float) -> np.ndarray:
    """A 256-entry table snapping 8-bit values to levels `step` apart (one level at `centre`), with a smooth
    transition over the middle 35 % of each step."""
    position = (np.arange(256, dtype=np.float64) - centre) / step
    level = np.floor(position)
    fraction = _smoothstep(0.325, 0.675, position - level)
    return np.clip(np.rint((level + fraction) * step + centre), 0, 255)


def _posterize_table(strength: float) -> np.ndarray:
    """Lab staircases for posterisation `strength` in 0..1, as a (1, 256, 3) uint8 table for cv2.LUT."""
    lightness = _staircase(255.0 / (24.0 - 16.0 * strength), 0.0)
    chroma = _staircase(3.0 + 9.0 * strength, 128.0)  # 8-bit Lab stores a and b offset by 128
    return np.stack([lightness, chroma, chroma], axis=-1).astype(np.uint8).reshape(1, 256, 3)


def _grain_weights(grain: float) -> np.ndarray:
    """Grain standard deviation in 8-bit levels per luma level, (1, 256) float32, for unit-variance noise."""
    luma = np.arange(256, dtype=np.float64) / 255.0
    weight = (1.0 - luma) * np.minimum(1.0, 0.25 + 3.0 * luma) / 0.75  # peak 1 at Y = 0.25
    return (grain * _GRAIN_LEVELS * weight).astype(np.float32).reshape(1, 256)


@functools.lru_cache(maxsize=16)
def _interpolated_std(source: int, target: int) -> float:
    """How much bilinear resampling from `source` to `target` samples shrinks the standard deviation of
    independent noise along one axis, averaged over the output positions."""
    if source == target:
        return 1.0
    positions = (np.arange(target) + 0.5) * source / target - 0.5
    fraction = positions - np.floor(positions)
    return float(np.sqrt(np.mean((1.0 - fraction) ** 2 + fraction**2)))


@functools.lru_cache(maxsize=4)
def _vignette_mask(height: int, width: int, strength: float) -> np.ndarray:
    """The vignette gain per pixel as (height, width, 3) uint8 (255 = unchanged), read-only."""
    across = (np.arange(width, dtype=np.float32) + 0.5) / width * 2.0 - 1.0
    down = (np.arange(height, dtype=np.float32) + 0.5) / height * 2.0 - 1.0
    radius = np.sqrt((across[None, :] ** 2 + down[:, None] ** 2) / 2.0)
    gain = 1.0 - _VIGNETTE_DARKEN * strength * _smoothstep(_VIGNETTE_START, 1.0, radius)
    mask = np.repeat(np.rint(gain * 255.0).astype(np.uint8)[:, :, None], 3, axis=2)
    mask.flags.writeable = False
    return mask


def _smooth_kuwahara(image: np.ndarray, half: int, work: _Workspace) -> np.ndarray:
    """The smooth Kuwahara filter of the module docstring: uint8 RGB in, uint8 RGB out (a work array)."""
    height, width = image.shape[:2]
    plane, colour_shape = (height, width), (height, width, 3)
    box = (2 * half + 1, 2 * half + 1)
    replicate = cv2.BORDER_REPLICATE
    colour = work.array("colour", colour_shape, np.float32)
    np.copyto(colour, image)
    luma = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY, dst=work.array("luma", plane, np.float32))
    mean = cv2.blur(colour, box, dst=work.array("mean", colour_shape, np.float32), borderType=replicate)
    luma_mean = cv2.blur(luma, box, dst=work.array("luma mean", plane, np.float32), borderType=replicate)
    square = cv2.multiply(luma, luma, dst=work.array("square", plane, np.float32))
    variance = cv2.blur(square, box, dst=work.array("variance", plane, np.float32), borderType=replicate)
    np.subtract(variance, cv2.multiply(luma_mean, luma_mean, dst=square), out=variance)
    # weight = 1 / (1 + (variance / v0)⁴), computed in place; variance ≥ 0 up to rounding, so no clamp.
    weight = np.multiply(variance, 1.0 / _KUWAHARA_VARIANCE, out=variance)
    np.square(weight, out=weight)
    np.square(weight, out=weight)
    np.add(weight, 1.0, out=weight)
    np.reciprocal(weight, out=weight)
    # Padding by `half` turns "the box centred `half` px up and left of the pixel" into a plain slice.
    padded_mean = cv2.copyMakeBorder(
        mean,
        half,
        half,
        half,
        half,
        replicate,
        dst=work.array("padded mean", (height + 2 * half, width + 2 * half, 3), np.float32),
    )
    padded_weight = cv2.copyMakeBorder(
        weight,
        half,
        half,
        half,
        half,
        replicate,
        dst=work.array("padded weight", (height + 2 * half, width + 2 * half), np.float32),
    )
    total = work.array("total", colour_shape, np.float32)
    total.fill(0.0)
    weight_sum = work.array("weight sum", plane, np.float32)
    weight_sum.fill(0.0)
    weight_colour = work.array("weight colour", colour_shape, np.float32)
    for top in (0, 2 * half):
        for left in (0, 2 * half):
            quadrant_weight = padded_weight[top : top + height, left : left + width]
            quadrant_mean = padded_mean[top : top + height, left : left + width]
            cv2.cvtColor(quadrant_weight, cv2.COLOR_GRAY2RGB, dst=weight_colour)
            cv2.accumulateProduct(quadrant_mean, weight_colour, total)
            cv2.accumulate(quadrant_weight, weight_sum)
    cv2.cvtColor(weight_sum, cv2.COLOR_GRAY2RGB, dst=weight_colour)
    # dtype uint8 makes the division round and saturate in one pass.
    painted: np.ndarray = cv2.divide(
        total, weight_colour, dst=work.array("painted", colour_shape, np.uint8), dtype=cv2.CV_8U
    )
    return painted


def _ink_lines(image: np.ndarray, sigma: float, darkness: float, work: _Workspace) -> np.ndarray:
    """Per-pixel gain (H, W, 3) float32 that draws dark lines along the edges of `image` (1 = no line)."""
    height, width = image.shape[:2]
    plane = (height, width)
    luma = work.array("ink luma", plane, np.float32)
    np.copyto(luma, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    replicate = cv2.BORDER_REPLICATE
    narrow = cv2.GaussianBlur(
        luma, (0, 0), sigma, dst=work.array("ink narrow", plane, np.float32), borderType=replicate
    )
    wide = cv2.GaussianBlur(
        luma, (0, 0), 1.6 * sigma, dst=work.array("ink wide", plane, np.float32), borderType=replicate
    )
    # The dark side of an edge has narrow < wide; a ramp rather than a hard threshold keeps lines steady.
    gain = np.subtract(wide, narrow, out=wide)
    np.clip(gain, 2.0, 8.0, out=gain)
    # 1 - darkness·(gain - 2)/6: no line up to a DoG of 2 levels, full darkness from 8
    np.multiply(gain, -darkness / 6.0, out=gain)
    np.add(gain, 1.0 + darkness / 3.0, out=gain)
    return cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB, dst=work.array("ink gain", (height, width, 3), np.float32))


class Finisher:
    """Applies one act's finishing (stylize, vignette, grain) to its frames; see the module docstring.

    `seed` (any int ≥ 0) varies the grain between acts. Thread-safe: each thread works in its own arrays.
    """

    def __init__(self, settings: GradeSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        stylize = settings.stylize
        self._posterize = (
            _posterize_table((stylize - _POSTERIZE_FROM) / (1.0 - _POSTERIZE_FROM))
            if stylize > _POSTERIZE_FROM
            else None
        )
        self._ink = _INK_DARKNESS * min(1.0, (stylize - _INK_FROM) / 0.3) if stylize > _INK_FROM else 0.0
        self._mix = min(1.0, stylize / _FULL_MIX_AT)
        self._grain_weights = _grain_weights(settings.grain) if settings.grain > 0 else None

    @property
    def is_identity(self) -> bool:
        """True when stylize, grain and vignette are all 0; then calling returns the input object."""
        s = self.settings
        return s.stylize == 0.0 and s.grain == 0.0 and s.vignette == 0.0

    def __call__(self, frame: np.ndarray, index: int) -> np.ndarray:
        """Finish the (H, W, 3) uint8 RGB `frame` at act frame `index` (any int; it seeds the grain).

        Returns a new frame of the same size, or `frame` itself when `is_identity`.
        """
        finished = frame
        if self.settings.stylize > 0:
            finished = self._stylized(frame)
        if self.settings.vignette > 0:
            mask = _vignette_mask(frame.shape[0], frame.shape[1], self.settings.vignette)
            # After stylize the frame is our own: darken it in place.
            finished = cv2.multiply(
                finished, mask, dst=None if finished is frame else finished, scale=1 / 255
            )
        if self._grain_weights is not None:
            finished = self._grained(finished, index, in_place=finished is not frame)
        return finished

    def _stylized(self, frame: np.ndarray) -> np.ndarray:
        """The stylized frame (a new array)."""
        work = _WORKSPACE
        height, width = frame.shape[:2]
        work_height = min(height, _WORK_HEIGHT)
        work_width = max(1, round(width * work_height / height))
        scale = work_height / _WORK_HEIGHT
        small = frame
        if work_height < height:
            small = cv2.resize(
                frame,
                (work_width, work_height),
                dst=work.array("small", (work_height, work_width, 3), np.uint8),
                interpolation=cv2.INTER_AREA,
            )
        half = max(1, round((1.0 + 3.0 * self.settings.stylize) * scale))
        painted = _smooth_kuwahara(small, half, work)
        lines = _ink_lines(painted, max(0.5, scale), self._ink, work) if self._ink > 0 else None
        if self._posterize is not None:
            lab = cv2.cvtColor(painted, cv2.COLOR_RGB2Lab, dst=work.array("lab", painted.shape, np.uint8))
            cv2.LUT(lab, self._posterize, dst=lab)
            cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=painted)
        if lines is not None:
            cv2.multiply(painted, lines, dst=painted, dtype=cv2.CV_8U)
        if self._mix < 1.0:
            upscaled = cv2.resize(
                painted,
                (width, height),
                dst=work.array("upscaled", frame.shape, np.uint8),
                interpolation=cv2.INTER_LINEAR,
            )
            return cv2.addWeighted(frame, 1.0 - self._mix, upscaled, self._mix, 0.0)
        return cv2.resize(painted, (width, height), interpolation=cv2.INTER_LINEAR)

    def _grained(self, frame: np.ndarray, index: int, in_place: bool) -> np.ndarray:
        """`frame` with grain added (into `frame` itself when `in_place`, else a new array)."""
        assert self._grain_weights is not None
        work = _WORKSPACE
        height, width = frame.shape[:2]
        plane = (height, width)
        grid_height = min(height, _GRAIN_GRID_HEIGHT)
        grid_width = max(1, round(width * grid_height / height))
        # Negative indices (transition handles) wrap into the 32-bit range the seed sequence takes.
        rng = np.random.default_rng([self.seed, index % 2**32])
        uniform = rng.integers(0, 256, size=(2, grid_height, grid_width), dtype=np.uint8)
        noise = cv2.subtract(
            uniform[0],
            uniform[1],
            dst=work.array("grain grid", (grid_height, grid_width), np.float32),
            dtype=cv2.CV_32F,
        )
        if (grid_height, grid_width) != plane:
            noise = cv2.resize(
                noise,
                (width, height),
                dst=work.array("grain noise", plane, np.float32),
                interpolation=cv2.INTER_LINEAR,
            )
        spread = (
            _BYTE_DIFFERENCE_STD
            * _interpolated_std(grid_width, width)
            * _interpolated_std(grid_height, height)
        )
        # A frame under the grid height shows the grain as a scaled-down full-size frame would: averaging
        # (grid / height)² independent cells into each pixel divides the spread by grid / height.
        spread *= _GRAIN_GRID_HEIGHT / grid_height
        luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY, dst=work.array("grain luma", plane, np.uint8))
        amplitude = cv2.LUT(luma, self._grain_weights, dst=work.array("grain amplitude", plane, np.float32))
        delta = cv2.multiply(
            noise,
            amplitude,
            dst=work.array("grain delta", plane, np.int16),
            scale=1.0 / spread,
            dtype=cv2.CV_16S,
        )
        # Channel copying is bit-exact, and cvtColor takes unsigned 16-bit, not signed.
        delta_colour = cv2.cvtColor(
            delta.view(np.uint16),
            cv2.COLOR_GRAY2RGB,
            dst=work.array("grain delta colour", (height, width, 3), np.uint16),
        ).view(np.int16)
        return cv2.add(frame, delta_colour, dst=frame if in_place else None, dtype=cv2.CV_8U)


class FinishedClip:
    """A clip with a `Finisher` applied: frame(i) = finisher(source.frame(i), i), for any int i."""

    def __init__(self, source: Clip, finisher: Finisher) -> None:
        self._source = source
        self._finisher = finisher
        self.length = source.length

    def frame(self, index: int) -> np.ndarray:
        return self._finisher(self._source.frame(index), index)
