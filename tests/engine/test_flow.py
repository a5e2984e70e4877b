"""Optical flow and flow interpolation on real photos with known motion."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.flow import FlowInterpolator, crossfade, estimate_flow

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
PHOTOS = sorted(DEMO.glob("*.jpg"))


def _photo(name: str, width: int | None = None) -> np.ndarray:
    bgr = cv2.imread(str(DEMO / name))
    assert bgr is not None, name
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if width is None:
        return rgb
    height = round(rgb.shape[0] * width / rgb.shape[1])
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)


def _translated(picture: np.ndarray, dx: float, dy: float) -> np.ndarray:
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], dtype=np.float32)
    size = (picture.shape[1], picture.shape[0])
    return cv2.warpAffine(picture, shift, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _psnr(frame: np.ndarray, truth: np.ndarray) -> float:
    mse = float(np.mean((frame.astype(np.float64) - truth) ** 2))
    return 10.0 * np.log10(255.0**2 / mse)


Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _camera_pan(scene: np.ndarray, step: tuple[int, int], size: tuple[int, int] = (480, 320)) -> Triple:
    """Crops of `scene` at offsets 0, 2·step and step: the two endpoints and the true middle frame."""
    width, height = size
    (sx, sy), x0, y0 = step, 60, 60

    def crop(k: int) -> np.ndarray:
        return np.ascontiguousarray(
            scene[y0 + k * sy : y0 + k * sy + height, x0 + k * sx : x0 + k * sx + width]
        )

    return crop(0), crop(2), crop(1)


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda path: path.stem)
def test_flow_recovers_a_subpixel_translation_of_a_real_photo(photo: Path) -> None:
    picture = _photo(photo.name)
    dx, dy = 5.4, -3.3
    flow = estimate_flow(picture, _translated(picture, dx, dy))
    assert flow.shape == (*picture.shape[:2], 2) and flow.dtype == np.float32
    interior = flow[24:-24, 24:-24]
    error_px = np.hypot(interior[..., 0] - dx, interior[..., 1] - dy)
    assert error_px.mean() < 0.25
    assert np.percentile(error_px, 95) < 0.5


def test_faster_presets_still_find_the_motion() -> None:
    picture = _photo("03_coffee.jpg")
    for quality in ("fast", "ultrafast"):
        flow = estimate_flow(picture, _translated(picture, -4.0, 2.5), quality)
        interior = flow[24:-24, 24:-24]
        assert np.median(np.hypot(interior[..., 0] + 4.0, interior[..., 1] - 2.5)) < 0.6


def test_flow_and_frames_are_the_same_from_many_threads_at_once() -> None:
    picture = _photo("04_rocket.jpg")
    moved = _translated(picture, 3.0, 1.5)
    expected = estimate_flow(picture, moved)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: estimate_flow(picture, moved), range(8)))
    for flow in results:
        np.testing.assert_array_equal(flow, expected)
    interpolator = FlowInterpolator(picture, moved)
    times = [0.2, 0.4, 0.6, 0.8] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        frames = list(pool.map(interpolator.frame_at, times))
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, interpolator.frame_at(t))


def test_mismatched_or_malformed_frames_and_bad_arguments_raise() -> None:
    small, large = np.zeros((40, 60, 3), np.uint8), np.zeros((40, 61, 3), np.uint8)
    with pytest.raises(ValueError, match="differ in size"):
        estimate_flow(small, large)
    with pytest.raises(ValueError, match="differ in size"):
        FlowInterpolator(small, large)
    with pytest.raises(ValueError, match="differ in size"):
        crossfade(small, large, 0.5)
    with pytest.raises(ValueError, match="uint8 RGB"):
        estimate_flow(small.astype(np.float32), small.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        estimate_flow(small[..., 0], small[..., 0])
    with pytest.raises(ValueError, match="flow quality"):
        estimate_flow(small, small, "best")
    with pytest.raises(ValueError, match="0 <= t <= 1"):
        FlowInterpolator(small, small).frame_at(1.5)
    with pytest.raises(ValueError, match="0 <= t <= 1"):
        crossfade(small, small, float("nan"))


@pytest.mark.parametrize("step", [(12, 0), (-9, 7), (20, 14)], ids=["right", "down-left", "far-diagonal"])
def test_middle_frame_of_a_camera_pan_beats_a_crossfade(step: tuple[int, int]) -> None:
    scene = _photo("01_astronaut.jpg", width=720)
    first, last, truth = _camera_pan(scene, step)
    interpolated = FlowInterpolator(first, last).frame_at(0.5)
    blended = crossfade(first, last, 0.5)
    assert interpolated.shape == truth.shape and interpolated.dtype == np.uint8
    assert _psnr(interpolated, truth) > _psnr(blended, truth) + 8.0
    assert _psnr(interpolated, truth) > 33.0


def test_endpoints_are_returned_exactly_and_as_copies() -> None:
    scene = _photo("02_chelsea.jpg", width=640)
    first, last, _ = _camera_pan(scene, (10, 5), size=(320, 200))
    interpolator = FlowInterpolator(first, last)
    start, end = interpolator.frame_at(0.0), interpolator.frame_at(1.0)
    np.testing.assert_array_equal(start, first)
    np.testing.assert_array_equal(end, last)
    start[:] = 0
    np.testing.assert_array_equal(interpolator.frame_at(0.0), first)
    np.testing.assert_array_equal(crossfade(first, last, 0.0), first)
    np.testing.assert_array_equal(crossfade(first, last, 1.0), last)


def test_content_entering_and_leaving_at_the_borders_comes_from_the_side_that_has_it() -> None:
    # Panning 2 x 24 px: the middle frame's left strip exists only in the first frame, its right strip
    # only in the last; a plain blend ghosts there, an occlusion-aware one must not.
    scene = _photo("03_coffee.jpg", width=800)
    first, last, truth = _camera_pan(scene, (24, 0))
    interpolated = FlowInterpolator(first, last).frame_at(0.5)
    for strip in (np.s_[:, :24], np.s_[:, -24:]):
        flow_error = np.abs(interpolated[strip].astype(np.int16) - truth[strip]).mean()
        fade_error = np.abs(crossfade(first, last, 0.5)[strip].astype(np.int16) - truth[strip]).mean()
        assert flow_error < 4.0
        assert flow_error < fade_error / 3


def _object_over_background(t: float) -> np.ndarray:
    """A 200 px astronaut portrait sliding 16 px right while the coffee photo behind it pans 8 px left."""
    background = _photo("03_coffee.jpg", width=640)
    portrait = _photo("01_astronaut.jpg", width=200)
    pan = round(-8 * t)
    frame = np.ascontiguousarray(background[40:360, 60 + pan : 540 + pan])
    left = 120 + round(16 * t)
    frame[70:270, left : left + 200] = portrait
    return frame


def test_a_moving_object_uncovers_background_without_ghosting() -> None:
    first, last, truth = (_object_over_background(t) for t in (0.0, 1.0, 0.5))
    interpolated = FlowInterpolator(first, last).frame_at(0.5)
    blended = crossfade(first, last, 0.5)
    assert _psnr(interpolated, truth) > _psnr(blended, truth) + 8.0
    # Left of the object at t=0.5: background that only the last frame shows (the object covers it in
    # the first), so any share of the first frame shows as a ghost of the object.
    uncovered = np.s_[80:260, 121:127]
    ghost = np.abs(interpolated[uncovered].astype(np.int16) - truth[uncovered]).mean()
    fade_ghost = np.abs(blended[uncovered].astype(np.int16) - truth[uncovered]).mean()
    assert ghost < fade_ghost / 3


def test_unrelated_pictures_blend_without_black_holes() -> None:
    # No flow explains one photo by the other, so most pixels fail the consistency test: the weights
    # must fall back to the plain time weighting instead of vanishing. Both pictures are lifted to
    # 100-253, so any pixel darker than that is a hole, wherever the warps fetched it from.
    def lifted(name: str) -> np.ndarray:
        picture = np.ascontiguousarray(_photo(name, width=480)[:300])
        return cv2.convertScaleAbs(picture, alpha=0.6, beta=100.0)

    first, last = lifted("04_rocket.jpg"), lifted("02_chelsea.jpg")
    interpolator = FlowInterpolator(first, last)
    for t in (0.2, 0.5, 0.8):
        frame = interpolator.frame_at(t)
        assert frame.min() >= 99
        assert abs(frame.mean() - crossfade(first, last, t).mean()) < 5.0


def test_in_between_frames_move_steadily_from_one_end_to_the_other() -> None:
    scene = _photo("04_rocket.jpg", width=720)
    first, last, _ = _camera_pan(scene, (16, 8))
    interpolator = FlowInterpolator(first, last)
    times = np.linspace(0.0, 1.0, 6)
    distance_to_first = [np.abs(interpolator.frame_at(t).astype(np.int16) - first).mean() for t in times]
    assert all(earlier < later for earlier, later in itertools.pairwise(distance_to_first))


def _camera_zoom(scene: np.ndarray, size: tuple[int, int], zoom: float, pan: tuple[float, float]) -> Triple:
    """Views of `scene` before and after zooming by `zoom` about the frame centre and panning by `pan`
    pixels, and the true middle view: the one whose scene-to-screen transform is the mean of the two, so
    every scene point moves at constant speed on screen."""
    width, height = size
    start = np.array([[1.0, 0.0, -40.0], [0.0, 1.0, -40.0]])
    change = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, zoom)
    change[:, 2] += np.asarray(pan)
    end = change @ np.vstack([start, [0.0, 0.0, 1.0]])

    def view(transform: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(scene, transform, size, flags=cv2.INTER_CUBIC)

    return view(start), view(end), view((start + end) / 2)


@pytest.mark.parametrize("size", [(480, 320), (481, 320), (480, 321), (479, 317)])
def test_zoom_interpolates_at_even_and_odd_frame_sizes(size: tuple[int, int]) -> None:
    # A zoom's flow changes across the frame (unlike a pan's), and the motion is handled at half
    # resolution, which odd sizes do not divide evenly.
    first, last, truth = _camera_zoom(_photo("01_astronaut.jpg", width=720), size, 1.05, (6.0, -4.0))
    interpolated = FlowInterpolator(first, last).frame_at(0.5)
    interior = np.s_[30:-30, 30:-30]
    assert np.abs(interpolated[interior].astype(np.int16) - truth[interior]).mean() < 1.5
    assert _psnr(interpolated, truth) > _psnr(crossfade(first, last, 0.5), truth) + 12.0


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (30, 9)])
def test_frames_too_small_for_dis_still_work(size: tuple[int, int]) -> None:
    width, height = size
    rng = np.random.default_rng(7)
    first = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    last = np.roll(first, 1, axis=1)
    assert estimate_flow(first, last).shape == (height, width, 2)
    interpolator = FlowInterpolator(first, last)
    assert interpolator.frame_at(0.5).shape == (height, width, 3)
    np.testing.assert_array_equal(interpolator.frame_at(1.0), last)
