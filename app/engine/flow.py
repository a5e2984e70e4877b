"""Dense optical flow and flow-based frame interpolation (the temporal stage's in-between frames).

Flow is OpenCV's DIS optical flow on grey frames. `FlowInterpolator` pays for the two flow fields once per
pair of frames and then synthesises any number of in-between frames cheaply, which is what frame-rate
conversion needs (several in-between frames per source pair).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import cast

import cv2
import numpy as np

# DIS needs frames of at least two patches on a side.
_DIS_MIN_SIDE_PX = 16

_DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# DIS keeps per-call scratch state inside the object, so sharing one across threads corrupts results.
_per_thread = threading.local()

# remap with map2=None is valid OpenCV, but the stubs of 4.x reject it and those of 5.x accept it: one untyped
# handle keeps the code checking cleanly on both.
remap_untyped = cast("Callable[..., np.ndarray]", cv2.remap)

# Forward-backward consistency test of Sundaram et al. (2010): a pixel is occluded when
# |f + b|² > _REL_TOLERANCE·(|f|² + |b|²) + _ABS_TOLERANCE_PX2. The relative term forgives the larger
# absolute errors that come with large motion.
_REL_TOLERANCE = 0.01
_ABS_TOLERANCE_PX2 = 0.5

# A sample from an endpoint whose content the other endpoint hides is still the only source for that
# content, so it keeps this share of its weight rather than none (it must win over a failed warp, lose
# against a sample both endpoints agree on).
_ONE_SIDED_WEIGHT = 0.1

# Keeps a little of the plain time weighting everywhere, so pixels that neither endpoint can explain fall
# back to (1 - t, t) instead of dividing by zero (relative to a fully trusted weight of 1).
_FALLBACK_WEIGHT = 0.002

# The motion is handled at half resolution (see FlowInterpolator); flows stay in full-resolution pixels.
_COARSE_PX_PER_FULL_PX = 0.5

# Fixed-point steps that turn the flow from an endpoint into the flow from time t back to it (at least 1),
# each one coarse remap per endpoint. Two recover nearly all of what more steps gain on real photos.
_FIXED_POINT_STEPS = 2

# Where the fixed point still misses by this many pixels, the warp from that endpoint is not trusted
# (fully trusted below the first figure, not at all above the second).
_MISS_TOLERANCE_PX = (0.5, 1.5)


def _dis_for(quality: str) -> cv2.DISOpticalFlow:
    """This thread's DIS instance for the preset named `quality`."""
    preset = _DIS_PRESETS.get(quality)
    if preset is None:
        raise ValueError(f"flow quality: expected one of {', '.join(_DIS_PRESETS)}, got {quality!r}")
    instances: dict[str, cv2.DISOpticalFlow] | None = getattr(_per_thread, "dis_by_quality", None)
    if instances is None:
        instances = {}
        _per_thread.dis_by_quality = instances
    if quality not in instances:
        instances[quality] = cv2.DISOpticalFlow.create(preset)
    return instances[quality]


def _checked_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`a` and `b` as C-contiguous arrays, after checking they are same-size (H, W, 3) uint8 frames."""
    for name, frame in (("first frame", a), ("second frame", b)):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f"{name}: expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {frame.shape}"
            )
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def estimate_flow(src: np.ndarray, dst: np.ndarray, quality: str = "medium") -> np.ndarray:
    """Dense optical flow from `src` to `dst`.

    Both frames are (H, W, 3) uint8 RGB of the same size. `quality` is a DIS preset: "ultrafast", "fast"
    or "medium". Returns an (H, W, 2) float32 array of (dx, dy) in pixels: the content at `src` pixel
    (x, y) is found at (x + dx, y + dy) in `dst`. Raises ValueError for mismatched or malformed frames.
    """
    src, dst = _checked_pair(src, dst)
    dis = _dis_for(quality)
    height, width = src.shape[:2]
    # DIS refuses frames smaller than a few patches; tiny ones (thumbnails) are padded with their edges.
    pad_bottom, pad_right = max(0, _DIS_MIN_SIDE_PX - height), max(0, _DIS_MIN_SIDE_PX - width)
    grey_src, grey_dst = (
        cv2.copyMakeBorder(
            cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE
        )
        for frame in (src, dst)
    )
    flow: np.ndarray = dis.calc(grey_src, grey_dst, None)  # type: ignore[call-overload]  # stubs lack None
    return np.ascontiguousarray(flow[:height, :width])


def _pixel_grid(height: int, width: int) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return np.dstack([xs, ys])


def _occlusion(flow_there: np.ndarray, flow_back: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """How occluded (0-1) each pixel of the frame `flow_there` starts from is in the other frame.

    Arguments are coarse (half resolution, see `FlowInterpolator`); flows are in full-resolution pixels.
    1 where following the flow and then the reverse flow does not bring the pixel back, i.e. the other
    frame hides the content, or where it leaves the frame (Sundaram et al., 2010). The test is softened
    over a factor of two of its tolerance so weights change smoothly.
    """
    displacement = flow_there * np.float32(_COARSE_PX_PER_FULL_PX)
    back_at_landing = _warp_by(flow_back, displacement)
    round_trip = flow_there + back_at_landing
    error_sq = np.einsum("ijk,ijk->ij", round_trip, round_trip)
    magnitude_sq = np.einsum("ijk,ijk->ij", flow_there, flow_there) + np.einsum(
        "ijk,ijk->ij", back_at_landing, back_at_landing
    )
    tolerance = _REL_TOLERANCE * magnitude_sq + _ABS_TOLERANCE_PX2
    occluded = np.clip(error_sq / tolerance - 1.0, 0.0, 1.0)
    occluded[_outside(grid, displacement)] = 1.0
    return occluded


def _fill_occluded(flow: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """`flow` with the vectors of occluded pixels replaced by those of the visible pixels around them.

    An occluded pixel has no counterpart in the other frame, so DIS's vector there is a guess, often a
    wild one; the motion around it is the better guess (for content leaving the frame, the camera's).
    Push-pull: trusted vectors are averaged over an image pyramid, and each level's gaps are filled from
    the level above. Fully visible pixels keep their vectors.
    """
    trust = 1.0 - occluded
    levels: list[tuple[np.ndarray, np.ndarray]] = [(flow * trust[..., np.newaxis], trust)]
    while min(levels[-1][1].shape) > 8:
        weighted, weight = levels[-1]
        levels.append((cv2.pyrDown(weighted), cv2.pyrDown(weight)))
    filled: np.ndarray | None = None
    for weighted, weight in reversed(levels):
        average = weighted / np.maximum(weight, 1e-6)[..., np.newaxis]
        if filled is None:
            filled = average
            continue
        from_above = cv2.pyrUp(filled, dstsize=(weight.shape[1], weight.shape[0]))
        own_share = np.clip(weight, 0.0, 1.0)[..., np.newaxis]
        filled = own_share * average + (1.0 - own_share) * from_above
    assert filled is not None
    return filled.astype(np.float32)


def _motion_image(flow: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """Coarse flow with a third channel: how far each pixel can be trusted as a source, in 0-1.

    That is 1 for pixels both frames show and `_ONE_SIDED_WEIGHT` for occluded ones. Four channels:
    OpenCV remaps four-channel float images faster than two-channel ones, and one remap then fetches
    flow and visibility together.
    """
    visibility = 1.0 - (1.0 - _ONE_SIDED_WEIGHT) * occluded
    return np.dstack([flow, visibility, np.zeros_like(visibility)]).astype(np.float32)


def _warp_by(image: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """`image` bilinearly sampled at each pixel's own position plus `displacement` (H, W, 2; in pixels of
    `image`), with the edges replicated outside."""
    warped: np.ndarray = remap_untyped(
        image, displacement, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return warped


def _flow_channels(motion: np.ndarray) -> np.ndarray:
    """The (dx, dy) channels of a four-channel motion image, contiguous (numpy slicing is far slower)."""
    flow = np.empty((*motion.shape[:2], 2), np.float32)
    cv2.mixChannels([motion], [flow], [0, 0, 1, 1])
    return flow


def _outside(grid: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Boolean mask of the pixels of `grid` (see `_pixel_grid`) whose `displacement` leaves the image."""
    height, width = grid.shape[:2]
    inside = cv2.inRange(cv2.add(grid, displacement), (0.0, 0.0), (width - 1.0, height - 1.0))
    outside: np.ndarray = inside == 0
    return outside


class FlowInterpolator:
    """In-between frames of one pair of frames, by occlusion-aware bidirectional flow warping.

    The forward and backward flow are computed once here; `frame_at` then costs a few warps and a blend.
    For time t, each endpoint is backward-warped by the flow from t to it, found as the fixed point of
    offset(x) = -t·flow(x + offset(x)) (constant velocity) started from the Super SloMo estimate (Jiang et
    al., 2018). The two warps are blended with weights (1 - t)·visibility_a and t·visibility_b, where a
    sample's visibility falls when the fixed point fails (content the endpoint does not have at all), when
    the forward-backward consistency test says the other endpoint hides it, or when it lies outside the
    frame. Instances are read-only after construction, so `frame_at` may be called from several threads.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, quality: str = "medium") -> None:
        """`a` is the frame at t=0 and `b` at t=1: (H, W, 3) uint8 RGB of the same size.

        `quality` is the DIS preset (see `estimate_flow`). Raises ValueError for mismatched frames.
        """
        a, b = _checked_pair(a, b)
        height, width = a.shape[:2]
        self._size = (width, height)
        # A fourth channel makes OpenCV's remap take its fast path (about twice as fast as RGB).
        self._a_rgba = cv2.cvtColor(a, cv2.COLOR_RGB2RGBA)
        self._b_rgba = cv2.cvtColor(b, cv2.COLOR_RGB2RGBA)
        # Everything about the motion, most of the per-frame cost, runs at half resolution: DIS itself
        # estimates at half resolution or coarser, so no detail is lost. pyrDown/pyrUp put coarse pixel i
        # on full pixel 2i for any frame size; flows stay in full-resolution pixels.
        flow_ab = cv2.pyrDown(estimate_flow(a, b, quality))
        flow_ba = cv2.pyrDown(estimate_flow(b, a, quality))
        self._coarse_grid = _pixel_grid(*flow_ab.shape[:2])
        occluded_a = _occlusion(flow_ab, flow_ba, self._coarse_grid)
        occluded_b = _occlusion(flow_ba, flow_ab, self._coarse_grid)
        self._coarse_flow_ab = _fill_occluded(flow_ab, occluded_a)
        self._coarse_flow_ba = _fill_occluded(flow_ba, occluded_b)
        self._coarse_motion_a = _motion_image(self._coarse_flow_ab, occluded_a)
        self._coarse_motion_b = _motion_image(self._coarse_flow_ba, occluded_b)

    def frame_at(self, t: float) -> np.ndarray:
        """The frame at time `t` in [0, 1] between `a` (t=0) and `b` (t=1), as (H, W, 3) uint8 RGB.

        t=0 and t=1 return copies of the endpoints exactly. Raises ValueError for t outside [0, 1].
        """
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"interpolation time: expected 0 <= t <= 1, got {t}")
        if t in (0.0, 1.0):
            endpoint: np.ndarray = cv2.cvtColor(
                self._a_rgba if t == 0.0 else self._b_rgba, cv2.COLOR_RGBA2RGB
            )
            return endpoint
        offset_a, weight_a = self._offset_and_weight(
            self._coarse_motion_a, t, slomo_weights=(-(1.0 - t) * t, t * t)
        )
        offset_b, weight_b = self._offset_and_weight(
            self._coarse_motion_b, 1.0 - t, slomo_weights=((1.0 - t) ** 2, -t * (1.0 - t))
        )
        a_at_t = _warp_by(self._a_rgba, self._to_full(offset_a))
        b_at_t = _warp_by(self._b_rgba, self._to_full(offset_b))
        blended = cv2.blendLinear(a_at_t, b_at_t, self._to_full(weight_a), self._to_full(weight_b))
        frame: np.ndarray = cv2.cvtColor(blended, cv2.COLOR_RGBA2RGB)
        return frame

    def _offset_and_weight(
        self, motion: np.ndarray, distance: float, slomo_weights: tuple[float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Coarse flow from time t to one endpoint, and the blend weight of that endpoint's warp (coarse).

        `motion` is that endpoint's coarse flow to the other one with its visibility (see
        `_motion_image`), `distance` the time between t and the endpoint (0-1), `slomo_weights`
        the Super SloMo coefficients of the forward and backward flow that give the first estimate.
        """
        weight_ab, weight_ba = slomo_weights
        to_coarse_px = np.float32(_COARSE_PX_PER_FULL_PX)

        def fixed_point_step(estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sampled = _warp_by(motion, estimate * to_coarse_px)
            return sampled, _flow_channels(sampled) * np.float32(-distance)

        previous = cv2.addWeighted(self._coarse_flow_ab, weight_ab, self._coarse_flow_ba, weight_ba, 0.0)
        sampled, offset = fixed_point_step(previous)
        for _ in range(_FIXED_POINT_STEPS - 1):
            previous = offset
            sampled, offset = fixed_point_step(previous)
        step_x, step_y, visibility = (np.empty(offset.shape[:2], np.float32) for _ in range(3))
        # One mixChannels instead of cv2.split calls, which allocate and cost several times more. The
        # visibility is the one at the last-but-one estimate: they differ by less than a pixel wherever
        # the iteration converged, and the weight is zero where it did not.
        cv2.mixChannels(
            [cv2.subtract(offset, previous), sampled], [step_x, step_y, visibility], [0, 0, 1, 1, 4, 2]
        )
        # The last step's size: where it stays large the iteration did not converge, because no endpoint
        # pixel reaches this point at time t (content the endpoint does not have).
        miss_px = cv2.magnitude(step_x, step_y)
        trusted_below, distrusted_above = _MISS_TOLERANCE_PX
        weight = np.clip((distrusted_above - miss_px) / (distrusted_above - trusted_below), 0.0, 1.0)
        weight *= visibility
        weight[_outside(self._coarse_grid, offset * to_coarse_px)] = 0.0
        # 1 - distance is this endpoint's plain crossfade weight (1 - t for a, t for b).
        # blendLinear adds 1e-5 to the sum of the weights, so they are scaled well clear of it.
        weight = (weight + _FALLBACK_WEIGHT) * np.float32(255.0 * (1.0 - distance))
        return offset, weight

    def _to_full(self, coarse: np.ndarray) -> np.ndarray:
        full: np.ndarray = cv2.pyrUp(coarse, dstsize=self._size)
        return full


def crossfade(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Linear blend (1 - t)·a + t·b of two (H, W, 3) uint8 RGB frames of the same size, t in [0, 1].

    Raises ValueError for mismatched frames or t outside [0, 1].
    """
    a, b = _checked_pair(a, b)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"crossfade amount: expected 0 <= t <= 1, got {t}")
    blended: np.ndarray = cv2.addWeighted(a, 1.0 - t, b, t, 0.0)
    return blended
