"""The finishing stage: painterly stylize, film grain and vignette after the colour grade."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.finish import FinishedClip, Finisher
from app.engine.keyframe import fit_image, load_image
from app.model.act import FitMode, GradeSettings

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
ALL_ON = GradeSettings(stylize=0.7, grain=0.6, vignette=0.6)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A detailed photo at 640x360 (the stylize working height: filtered without resizing)."""
    return fit_image(load_image(DEMO / "03_coffee.jpg"), 640, 360, FitMode.cover)


def _flat(value: int, height: int = 120, width: int = 160) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def _sharp_scene(height: int, width: int) -> np.ndarray:
    """Hard-edged shapes over fine stripes, defined on the pixel grid so a shifted crop is an exact shift."""
    y, x = np.mgrid[0:height, 0:width]
    scene = np.zeros((height, width, 3), dtype=np.uint8)
    scene[..., 0] = np.where((x // 7 + y // 11) % 2 == 0, 200, 60)
    scene[..., 1] = (128 + 90 * np.sin(x / 5.0) * np.cos(y / 9.0)).astype(np.uint8)
    scene[..., 2] = np.where((x - width / 2) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2, 230, 30)
    return scene


def _laplacian_variance(frame: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def _colour_count(frame: np.ndarray) -> int:
    return len(np.unique(frame.reshape(-1, 3), axis=0))


# --- the whole stage ----------------------------------------------------------------------------------------


def test_zero_settings_return_the_input_object(photo: np.ndarray) -> None:
    finisher = Finisher(GradeSettings(exposure=1.0, saturation=0.0), seed=3)  # colour only: not finishing
    assert finisher.is_identity
    assert finisher(photo, 5) is photo
    assert not Finisher(GradeSettings(grain=0.01), seed=3).is_identity


def test_same_frame_and_index_give_the_same_output(photo: np.ndarray) -> None:
    first = Finisher(ALL_ON, seed=11)(photo, 7)
    again = Finisher(ALL_ON, seed=11)(photo.copy(), 7)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, photo)


def test_the_input_frame_is_never_modified(photo: np.ndarray) -> None:
    original = photo.copy()
    for settings in (ALL_ON, GradeSettings(grain=1.0), GradeSettings(vignette=1.0)):
        Finisher(settings, seed=1)(photo, 0)
    assert np.array_equal(photo, original)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (37, 53), (361, 643), (720, 1281)])
@pytest.mark.parametrize(
    "settings",
    [ALL_ON, GradeSettings(stylize=1.0), GradeSettings(grain=1.0), GradeSettings(vignette=1.0)],
    ids=["all", "stylize", "grain", "vignette"],
)
def test_any_size_keeps_its_shape_and_dtype(shape: tuple[int, int], settings: GradeSettings) -> None:
    frame = _sharp_scene(*shape)
    finished = Finisher(settings, seed=2)(frame, 0)
    assert finished.shape == frame.shape and finished.dtype == np.uint8
    assert finished.flags.c_contiguous


def test_frames_of_changing_sizes_and_threads_match_a_fresh_run(photo: np.ndarray) -> None:
    """The per-thread work arrays are resized as frame sizes change and never shared between threads."""
    finisher = Finisher(ALL_ON, seed=4)
    small = cv2.resize(photo, (200, 112), interpolation=cv2.INTER_AREA)
    expected = {index: Finisher(ALL_ON, seed=4)(photo if index % 2 else small, index) for index in range(6)}
    results: dict[int, np.ndarray] = {}

    def finish(indices: range) -> None:
        for index in indices:
            results[index] = finisher(photo if index % 2 else small, index)

    threads = [threading.Thread(target=finish, args=(range(start, 6, 2),)) for start in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, frame in expected.items():
        assert np.array_equal(results[index], frame)


def test_finished_clip_finishes_every_frame_with_its_index(photo: np.ndarray) -> None:
    class Source:
        length = 4

        def frame(self, index: int) -> np.ndarray:
            return np.roll(photo, index, axis=1)

    finisher = Finisher(GradeSettings(grain=0.5, vignette=0.3), seed=9)
    clip = FinishedClip(Source(), finisher)
    assert clip.length == 4
    for index in (-2, 0, 3, 6):  # handles outside the body are finished too
        assert np.array_equal(clip.frame(index), finisher(Source().frame(index), index))


# --- grain --------------------------------------------------------------------------------------------------


def test_grain_changes_every_frame_but_repeats_for_the_same_index() -> None:
    finisher = Finisher(GradeSettings(grain=0.5), seed=21)
    grey = _flat(110)
    frames = [finisher(grey, index) for index in (-1, 0, 1, 2)]
    for i, first in enumerate(frames):
        for second in frames[i + 1 :]:
            assert np.abs(first.astype(int) - second).mean() > 1.0
    assert np.array_equal(finisher(grey, 1), frames[2])
    other_seed = Finisher(GradeSettings(grain=0.5), seed=22)(grey, 0)
    assert np.abs(other_seed.astype(int) - frames[1]).mean() > 1.0


def test_grain_has_zero_mean_and_grows_with_the_setting() -> None:
    grey = _flat(100, 360, 640)
    deltas = {g: Finisher(GradeSettings(grain=g), seed=5)(grey, 3).astype(float) - 100 for g in (0.3, 1.0)}
    for delta in deltas.values():
        assert abs(delta.mean()) < 0.2
        # luminance grain: the same offset on all three channels
        assert np.array_equal(delta[..., 0], delta[..., 1]) and np.array_equal(delta[..., 1], delta[..., 2])
    assert 2.0 < deltas[0.3].std() < deltas[1.0].std() < 20.0


def test_grain_is_weaker_in_the_highlights() -> None:
    finisher = Finisher(GradeSettings(grain=1.0), seed=5)
    spread = {value: (finisher(_flat(value), 0).astype(float) - value).std() for value in (70, 160, 240)}
    assert spread[70] > spread[160] > spread[240]
    assert spread[240] < 0.3 * spread[70]


# --- vignette -----------------------------------------------------------------------------------------------


def test_vignette_darkens_the_corners_and_leaves_the_centre() -> None:
    white = _flat(200, 90, 160)
    vignetted = Finisher(GradeSettings(vignette=1.0), seed=0)(white, 0).astype(int)
    assert np.array_equal(vignetted[35:55, 70:90], white[35:55, 70:90].astype(int))
    for corner in (vignetted[0, 0], vignetted[0, -1], vignetted[-1, 0], vignetted[-1, -1]):
        assert (corner < 0.5 * 200).all()
    diagonal = np.array([vignetted[int(t * 44), int(t * 79), 0] for t in np.linspace(0.0, 1.0, 12)])
    centre_out = diagonal[:6][::-1]  # from the centre towards the top-left corner
    assert (np.diff(centre_out) <= 0).all()
    weaker = Finisher(GradeSettings(vignette=0.4), seed=0)(white, 0).astype(int)
    assert vignetted[0, 0, 0] < weaker[0, 0, 0] < 200


# --- stylize ------------------------------------------------------------------------------------------------


def test_stylize_removes_fine_detail_and_colours(photo: np.ndarray) -> None:
    detail, colours = _laplacian_variance(photo), _colour_count(photo)
    painted = Finisher(GradeSettings(stylize=0.6), seed=0)(photo, 0)
    cel = Finisher(GradeSettings(stylize=1.0), seed=0)(photo, 0)
    for stylized in (painted, cel):
        assert _laplacian_variance(stylized) < 0.5 * detail
        assert _colour_count(stylized) < 0.2 * colours


def test_stylize_is_subtle_at_a_low_setting(photo: np.ndarray) -> None:
    def change(stylize: float) -> float:
        return float(
            np.abs(Finisher(GradeSettings(stylize=stylize), 0)(photo, 0).astype(float) - photo).mean()
        )

    assert 0.5 < change(0.3) < 0.5 * change(1.0)


@pytest.mark.parametrize("stylize", [0.3, 0.7, 1.0])
def test_stylize_follows_a_one_pixel_shift_without_shimmer(stylize: float) -> None:
    """A 1-px pan at 720p (half a pixel at the working size): the output moves with the picture instead
    of re-deciding strokes, bands and lines."""
    scene = fit_image(load_image(DEMO / "03_coffee.jpg"), 1282, 722, FitMode.cover)
    still, moved = scene[1:721, 1:1281], scene[1:721, 0:1280]  # moved[:, x + 1] == still[:, x]
    finisher = Finisher(GradeSettings(stylize=stylize), seed=0)
    out_still, out_moved = finisher(still, 0).astype(float), finisher(moved, 0).astype(float)
    aligned = np.abs(out_moved[8:-8, 9:-8] - out_still[8:-8, 8:-9]).mean()
    change = np.abs(out_still - still).mean()
    assert aligned < 1.5
    assert aligned < 0.1 * change
