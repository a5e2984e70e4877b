"""The built-in motion backend: camera moves, handles, determinism, reference morphs and the audio pulse."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.backends.base import MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.engine.backends.motion import MotionClip
from app.engine.clip import Clip
from app.engine.keyframe import fit_image, load_image
from app.model import Act, Project
from app.model.act import CameraMove, Easing, FitMode, MotionSettings, TransitionKind, TransitionSpec
from app.model.commands import SplitAct
from app.model.history import History
from app.model.project_file import dumps_project
from tests.engine.frame_measures import content_shift, psnr

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WIDTH, HEIGHT = 192, 108


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(DEMO / "01_astronaut.jpg")


@pytest.fixture(scope="module")
def rocket() -> np.ndarray:
    return load_image(DEMO / "04_rocket.jpg")


def _marker_picture(width: int = 640, height: int = 360) -> np.ndarray:
    """A textured mid-tone picture (nothing near white or black) with a white disc in the middle."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.uniform(60, 190, (height, width, 3)).astype(np.float32), (0, 0), 3)
    picture = np.clip(noise, 60, 190).astype(np.uint8)
    cv2.circle(picture, (width // 2, height // 2), height // 8, (255, 255, 255), -1, cv2.LINE_AA)
    return picture


def _disc_area(frame: np.ndarray) -> int:
    return int((frame.min(axis=2) > 225).sum())


def _clip(
    images: list[np.ndarray], camera: CameraMove, intensity: float = 1.0, length: int = 24, **kwargs: object
) -> MotionClip:
    easing = kwargs.pop("easing", Easing.linear)
    reactivity = kwargs.pop("audio_reactivity", 0.0)
    settings = MotionSettings(camera=camera, intensity=intensity, easing=easing, audio_reactivity=reactivity)
    arguments: dict = {"fit": FitMode.cover, "width": WIDTH, "height": HEIGHT, "seed": 1, **kwargs}
    return MotionClip(images, settings=settings, length=length, **arguments)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def test_zoom_in_narrows_the_framing_and_zoom_out_widens_it() -> None:
    picture = _marker_picture()
    zoom_in = _clip([picture], CameraMove.zoom_in)
    zoom_out = _clip([picture], CameraMove.zoom_out)
    first, last = _disc_area(zoom_in.frame(0)), _disc_area(zoom_in.frame(23))
    assert last > 1.5 * first  # 35 % closer at full intensity: the disc's area grows by about 1.8x
    assert _disc_area(zoom_out.frame(0)) > 1.5 * _disc_area(zoom_out.frame(23))
    areas = [_disc_area(zoom_in.frame(index)) for index in range(24)]
    assert all(later >= earlier - 3 for earlier, later in itertools.pairwise(areas))


def test_dolly_pushes_in_harder_than_a_zoom() -> None:
    picture = _marker_picture()
    zoom = _clip([picture], CameraMove.zoom_in)
    dolly = _clip([picture], CameraMove.dolly_in)
    zoom_growth = _disc_area(zoom.frame(23)) / _disc_area(zoom.frame(0))
    dolly_growth = _disc_area(dolly.frame(23)) / _disc_area(dolly.frame(0))
    assert dolly_growth > zoom_growth * 1.05


@pytest.mark.parametrize(
    ("camera", "direction"),
    [
        (CameraMove.pan_right, (-1, 0)),  # the camera goes right, so the content moves left
        (CameraMove.pan_left, (1, 0)),
        (CameraMove.pan_down, (0, -1)),
        (CameraMove.pan_up, (0, 1)),
    ],
)
def test_pans_move_the_content_the_opposite_way(
    rocket: np.ndarray, camera: CameraMove, direction: tuple
) -> None:
    clip = _clip([rocket], camera, length=24)
    for index in (0, 8, 16, 22):
        dx, dy = content_shift(clip.frame(index), clip.frame(index + 1))
        along = dx * direction[0] + dy * direction[1]
        across = dx * direction[1] + dy * direction[0]
        assert along > 0.3 and abs(across) < 0.3 * along


@pytest.mark.parametrize("camera", [CameraMove.rotate_cw, CameraMove.rotate_ccw])
def test_rotation_turns_the_picture_the_named_way(camera: CameraMove) -> None:
    bar = np.full((360, 640, 3), 120, dtype=np.uint8)
    bar[60:300, 310:330] = 255  # an upright white bar
    clip = _clip([bar], camera)

    def clockwise_tilt_degrees(frame: np.ndarray) -> float:
        moments = cv2.moments((frame.min(axis=2) > 225).astype(np.uint8), binaryImage=True)
        # Angle of the bar's long axis from vertical; positive when its top leans right (turned clockwise).
        return -math.degrees(0.5 * math.atan2(2 * moments["mu11"], moments["mu02"] - moments["mu20"]))

    start, end = clockwise_tilt_degrees(clip.frame(0)), clockwise_tilt_degrees(clip.frame(23))
    turned = end - start
    assert 6.0 < (turned if camera is CameraMove.rotate_cw else -turned) < 10.0  # 8 degrees at intensity 1


@pytest.mark.parametrize("camera", list(CameraMove))
def test_intensity_zero_is_a_still_of_the_fitted_picture(astronaut: np.ndarray, camera: CameraMove) -> None:
    clip = _clip([astronaut], camera, intensity=0.0)
    still = fit_image(astronaut, WIDTH, HEIGHT, FitMode.cover)
    for index in (-3, 0, 11, 23, 30):
        np.testing.assert_array_equal(clip.frame(index), still)


@pytest.mark.parametrize("camera", [CameraMove.drift, CameraMove.dolly_out, CameraMove.rotate_cw])
def test_frames_are_deterministic_and_independent_of_call_order(
    astronaut: np.ndarray, rocket: np.ndarray, camera: CameraMove
) -> None:
    indices = [-4, 0, 5, 9, 12, 17, 23, 27]
    forward = _clip([astronaut, rocket], camera, reactivity=np.linspace(0, 1, 24), audio_reactivity=0.7)
    backward = _clip([astronaut, rocket], camera, reactivity=np.linspace(0, 1, 24), audio_reactivity=0.7)
    in_order = [forward.frame(index) for index in indices]
    reversed_order = [backward.frame(index) for index in reversed(indices)][::-1]
    for first, second in zip(in_order, reversed_order, strict=True):
        np.testing.assert_array_equal(first, second)


def test_drift_differs_from_seed_to_seed(astronaut: np.ndarray) -> None:
    paths = []
    for seed in (1, 2, 3):
        clip = _clip([astronaut], CameraMove.drift, seed=seed)
        paths.append(np.stack([clip.frame(0), clip.frame(23)]))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(paths[a].astype(int) - paths[b]).mean() > 2.0


def _ramp_picture() -> np.ndarray:
    """Red rises left to right, green top to bottom, blue constant: no black, and no fold goes unnoticed."""
    xs = np.linspace(40, 230, 320)
    ys = np.linspace(40, 230, 180)
    picture = np.zeros((180, 320, 3), dtype=np.uint8)
    picture[..., 0] = np.round(xs)[None, :]
    picture[..., 1] = np.round(ys)[:, None]
    picture[..., 2] = 90
    return picture


@pytest.mark.parametrize("camera", list(CameraMove))
@pytest.mark.parametrize("fit", [FitMode.cover, FitMode.stretch])
def test_handles_keep_moving_inside_the_picture(camera: CameraMove, fit: FitMode) -> None:
    clip = _clip([_ramp_picture()], camera, length=30, fit=fit, easing=Easing.linear)
    frames = [clip.frame(index) for index in (-1000, -5, 0, 15, 29, 34, 1000)]
    for frame in frames:
        assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
        borders = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        assert borders.min() >= 35  # never the black of an empty border
        # Leaving the picture would mirror it back in (BORDER_REFLECT): a ramp that turns back.
        red, green = frame[..., 0].astype(int), frame[..., 1].astype(int)
        if camera in (CameraMove.rotate_cw, CameraMove.rotate_ccw):
            continue  # a turned ramp is not monotonic along rows; the border check above still applies
        assert (np.diff(red, axis=1) >= -1).all() and (np.diff(green, axis=0) >= -1).all()
    if camera is not CameraMove.static:
        # The linear path keeps going a little past each end, then holds.
        assert (frames[1] != frames[2]).any() and (frames[5] != frames[4]).any()
        np.testing.assert_array_equal(frames[0], clip.frame(-999))


def test_two_references_start_on_the_first_and_end_on_the_second(
    astronaut: np.ndarray, rocket: np.ndarray
) -> None:
    clip = _clip([astronaut, rocket], CameraMove.zoom_in, intensity=0.3, length=60)
    first = fit_image(astronaut, WIDTH, HEIGHT, FitMode.cover)
    second = fit_image(rocket, WIDTH, HEIGHT, FitMode.cover)
    opening, closing = clip.frame(0), clip.frame(59)
    assert _correlation(opening, first) > _correlation(opening, second) + 0.3
    assert _correlation(closing, second) > _correlation(closing, first) + 0.3
    # Around the middle (a 9-frame morph window) the pictures change over several frames instead of cutting.
    middle = [clip.frame(index) for index in range(22, 39)]
    cut_size = np.abs(first.astype(int) - second).mean()
    steps = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(middle)]
    assert max(steps) < 0.6 * cut_size
    assert sum(step > 0.05 * cut_size for step in steps) >= 4


def test_reactivity_pulses_the_zoom_where_the_envelope_peaks() -> None:
    picture = _marker_picture()
    envelope = np.zeros(24, dtype=np.float32)
    envelope[12] = 1.0
    pulsing = _clip([picture], CameraMove.static, reactivity=envelope, audio_reactivity=1.0)
    quiet, peak = _disc_area(pulsing.frame(11)), _disc_area(pulsing.frame(12))
    assert peak / quiet == pytest.approx(1.06**2, rel=0.04)
    np.testing.assert_array_equal(pulsing.frame(11), pulsing.frame(13))
    # Handles take the nearest envelope value.
    envelope[-1] = 1.0
    at_end = _clip([picture], CameraMove.static, reactivity=envelope, audio_reactivity=1.0)
    np.testing.assert_array_equal(at_end.frame(23), at_end.frame(26))
    # With reactivity off the envelope is ignored.
    ignored = _clip([picture], CameraMove.static, reactivity=envelope, audio_reactivity=0.0)
    np.testing.assert_array_equal(ignored.frame(11), ignored.frame(12))


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (333, 187), (91, 160)])
def test_odd_sizes_give_contiguous_rgb_frames(astronaut: np.ndarray, width: int, height: int) -> None:
    clip = _clip([astronaut], CameraMove.dolly_in, length=1, width=width, height=height)
    for index in (-2, 0, 3):
        frame = clip.frame(index)
        assert frame.shape == (height, width, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous


def test_bad_arguments_are_refused(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at least one keyframe"):
        _clip([], CameraMove.static)
    with pytest.raises(ValueError, match="expected 24 values"):
        _clip([astronaut], CameraMove.static, reactivity=np.zeros(10), audio_reactivity=0.5)
    with pytest.raises(ValueError, match="keyframe 0"):
        _clip([astronaut[..., 0]], CameraMove.static)


def test_motion_made_at_a_lower_rate_is_held_on_twos_with_nearest_frames() -> None:
    from fractions import Fraction

    from app.engine.backends import MotionRequest, get_backend
    from app.model.act import FitMode, InterpolationMethod

    image = np.random.default_rng(3).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    request = MotionRequest(
        keyframes=[image],
        fit=FitMode.cover,
        motion=MotionSettings(camera=CameraMove.pan_right, intensity=1.0),
        length=24,
        width=64,
        height=36,
        fps=Fraction(24),
        seed=1,
        generation_fps=Fraction(12),
        interpolation=InterpolationMethod.nearest,
    )
    clip = get_backend("motion").animate(request)
    frames = [clip.frame(i) for i in range(24)]
    # Each drawing is shown for two frames (positions k + 0.5 round up to the next drawing).
    held = [np.array_equal(frames[i], frames[i + 1]) for i in range(1, 23, 2)]
    moved = [np.array_equal(frames[i], frames[i + 1]) for i in range(0, 23, 2)]
    assert all(held) and not any(moved)
    smooth = get_backend("motion").animate(
        MotionRequest(**{**request.__dict__, "interpolation": InterpolationMethod.flow})
    )
    assert not np.array_equal(smooth.frame(1), smooth.frame(0))  # flow fills the in-betweens


def _render(act: Act, keyframe: np.ndarray) -> Clip:
    request = MotionRequest(
        keyframes=[keyframe],
        fit=act.fit,
        motion=act.motion,
        length=act.duration_frames,
        width=WIDTH,
        height=HEIGHT,
        fps=Fraction(24),
        seed=act.effective_seed(),
    )
    return BuiltinMotionBackend().animate(request)


@pytest.mark.parametrize("camera", [CameraMove.zoom_in, CameraMove.pan_right, CameraMove.drift])
@pytest.mark.parametrize("easing", [Easing.ease_in_out, Easing.linear])
def test_a_split_act_plays_on_across_the_split(
    astronaut: np.ndarray, camera: CameraMove, easing: Easing
) -> None:
    act = Act(
        id="shot",
        duration_frames=48,
        seed=3,
        motion=MotionSettings(camera=camera, intensity=1.0, easing=easing),
        transition=TransitionSpec(kind=TransitionKind.dip, frames=8),
    )
    project = Project(acts=[act, Act(id="next", duration_frames=24)])
    original = dumps_project(project)
    whole = _render(act, astronaut)
    history = History(project)
    history.execute(SplitAct("shot", 20, new_id="shot-2"))
    first, second = project.acts[:2]
    assert first.transition.kind is TransitionKind.cut and first.transition.frames == 0
    assert second.transition == TransitionSpec(kind=TransitionKind.dip, frames=8)

    before, after = _render(first, astronaut), _render(second, astronaut)
    assert psnr(whole.frame(20), after.frame(0)) > 40  # the second part starts where the shot was
    assert psnr(whole.frame(19), before.frame(19)) > 40  # the first part ends where the shot was
    assert psnr(whole.frame(47), after.frame(27)) > 40
    # …and the picture does move on across the split: frame 20 is no copy of frame 0
    assert psnr(whole.frame(0), after.frame(0)) < 40

    history.undo()
    assert dumps_project(project) == original
