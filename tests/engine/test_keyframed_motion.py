"""Keyframed camera motion: the built-in backend follows an act's camera keys, the generative backends name
the overall move in their prompt, and an edited key re-renders the act."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.backends.base import MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.engine.backends.diffusion import keyframed_move_phrase, motion_prompt
from app.engine.backends.motion import MotionClip
from app.engine.cache import StageCache
from app.engine.clip import Clip
from app.engine.keyframe import fit_image, load_image
from app.engine.pipeline import ActPipeline, RenderTarget
from app.model import Act, MediaRef, Project, ProjectSettings
from app.model.act import CameraKey, CameraMove, Easing, FitMode, InterpolationMethod, MotionSettings
from app.model.commands import SetActField, SplitAct
from app.model.history import History
from tests.engine.frame_measures import content_shift, psnr

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WIDTH, HEIGHT = 192, 108


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(DEMO / "01_astronaut.jpg")


def _keyed(*keys: CameraKey, easing: Easing = Easing.linear, **fields: object) -> MotionSettings:
    # A preset move that would show clearly if it were not replaced by the keys.
    return MotionSettings(camera=CameraMove.rotate_cw, intensity=1.0, easing=easing, keyframes=keys, **fields)


def _clip(image: np.ndarray, motion: MotionSettings, length: int = 24, **kwargs: object) -> MotionClip:
    arguments: dict = {"fit": FitMode.cover, "width": WIDTH, "height": HEIGHT, "seed": 1, **kwargs}
    return MotionClip([image], settings=motion, length=length, **arguments)


def _render(act: Act, image: np.ndarray, **request: object) -> Clip:
    return BuiltinMotionBackend().animate(
        MotionRequest(
            keyframes=[image],
            fit=act.fit,
            motion=act.motion,
            length=act.duration_frames,
            width=WIDTH,
            height=HEIGHT,
            fps=Fraction(24),
            seed=act.effective_seed(),
            **request,  # type: ignore[arg-type]
        )
    )


def test_a_key_moving_right_moves_the_content_left(astronaut: np.ndarray) -> None:
    motion = _keyed(CameraKey(frame=0, x=-0.1, zoom=1.5), CameraKey(frame=23, x=0.1, zoom=1.5))
    clip = _clip(astronaut, motion)
    # 0.2 of the picture's width over 23 frames, seen 1.5 times enlarged: 2.5 output pixels a frame.
    expected = 0.2 * WIDTH * 1.5 / 23
    for index in (0, 7, 15, 21):
        dx, dy = content_shift(clip.frame(index), clip.frame(index + 1))
        assert dx == pytest.approx(-expected, abs=0.4) and abs(dy) < 0.3
    # Outside the keys the camera holds (transition handles too); the preset rotation is not used.
    np.testing.assert_array_equal(clip.frame(-6), clip.frame(0))
    np.testing.assert_array_equal(clip.frame(30), clip.frame(23))


@pytest.mark.parametrize(("x", "y"), [(0.0, 0.0), (0.25, 0.0), (0.0, -0.25), (-0.125, 0.125)])
def test_zoom_two_shows_half_the_picture_around_the_key_centre(
    astronaut: np.ndarray, x: float, y: float
) -> None:
    clip = _clip(astronaut, _keyed(CameraKey(frame=0, x=x, y=y, zoom=2.0)))
    assert clip.canvas_size == (2 * WIDTH, 2 * HEIGHT)  # the view is drawn 1:1 from the fitted canvas
    canvas = fit_image(astronaut, 2 * WIDTH, 2 * HEIGHT, FitMode.cover)
    left = round((0.5 + x) * 2 * WIDTH - WIDTH / 2)
    top = round((0.5 + y) * 2 * HEIGHT - HEIGHT / 2)
    crop = canvas[top : top + HEIGHT, left : left + WIDTH]
    frame = clip.frame(5)
    assert psnr(frame, crop) > 35
    whole = fit_image(astronaut, WIDTH, HEIGHT, FitMode.cover)
    assert psnr(frame, whole) < 25  # it is no copy of the whole picture


def _ramp_picture() -> np.ndarray:
    """Red rises left to right, green top to bottom, blue constant: an edge of the picture reads 40 or 230."""
    xs = np.linspace(40, 230, 320)
    ys = np.linspace(40, 230, 180)
    picture = np.zeros((180, 320, 3), dtype=np.uint8)
    picture[..., 0] = np.round(xs)[None, :]
    picture[..., 1] = np.round(ys)[:, None]
    picture[..., 2] = 90
    return picture


@pytest.mark.parametrize("rotation", [30.0, -30.0])
def test_a_turned_key_gets_the_least_zoom_that_hides_the_borders(rotation: float) -> None:
    clip = _clip(_ramp_picture(), _keyed(CameraKey(frame=0, rotation=rotation)))
    frame = clip.frame(0).astype(int)
    borders = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
    assert borders.min() >= 35  # never the black of an empty border, nor the picture mirrored back in
    # The least zoom puts the view's outermost corners on the picture's edges: they read a ramp's extreme.
    on_edge = 0
    for row, column in ((0, 0), (0, -1), (-1, -1), (-1, 0)):
        red, green = frame[row, column, 0], frame[row, column, 1]
        on_edge += min(abs(red - 40), abs(red - 230), abs(green - 40), abs(green - 230)) <= 6
    assert on_edge >= 2
    # …and the turn is there: the red ramp runs along a tilted direction.
    red = frame[..., 0]
    assert abs(int(red[0, WIDTH // 2]) - int(red[-1, WIDTH // 2])) > 20


def test_a_key_past_the_picture_edge_zooms_in_rather_than_showing_borders() -> None:
    clip = _clip(_ramp_picture(), _keyed(CameraKey(frame=0, x=0.5, y=-0.5, zoom=1.0)))
    frame = clip.frame(0)
    assert frame.min() >= 35 and frame.shape == (HEIGHT, WIDTH, 3)


def test_a_split_keyed_act_shows_exactly_the_frames_of_the_whole(astronaut: np.ndarray) -> None:
    keys = (
        CameraKey(frame=0, x=-0.05, zoom=1.2),
        CameraKey(frame=30, x=0.1, y=0.05, zoom=2.0, rotation=10.0),
        CameraKey(frame=47, y=0.1, zoom=1.5, rotation=-5.0),
    )
    act = Act(id="shot", duration_frames=48, seed=3, motion=_keyed(*keys, easing=Easing.ease_in_out))
    project = Project(acts=[act, Act(id="next", duration_frames=24)])
    whole = _render(act, astronaut)
    History(project).execute(SplitAct("shot", 20, new_id="shot-2"))
    first, second = project.acts[:2]
    assert second.motion.keyframes[0].frame == -20  # every key stays with both parts
    before, after = _render(first, astronaut), _render(second, astronaut)
    for index in (-4, 0, 11, 19, 22):
        np.testing.assert_array_equal(before.frame(index), whole.frame(index))
    for index in (-3, 0, 9, 27, 31):
        np.testing.assert_array_equal(after.frame(index), whole.frame(20 + index))
    assert psnr(whole.frame(0), whole.frame(30)) < 30  # the camera does move


def test_keys_are_timed_in_act_frames_when_motion_is_made_at_a_lower_rate(astronaut: np.ndarray) -> None:
    act = Act(
        duration_frames=24,
        motion=_keyed(CameraKey(frame=0, zoom=1.0), CameraKey(frame=23, x=0.2, zoom=2.0)),
    )
    full_rate = _render(act, astronaut)
    on_twos = _render(act, astronaut, generation_fps=Fraction(12), interpolation=InterpolationMethod.nearest)
    for index in (0, 8, 16, 22):  # the frames drawn at 12 fps are the project frames 0, 2, 4, …
        np.testing.assert_array_equal(on_twos.frame(index), full_rate.frame(index))


def test_audio_pulses_still_add_to_a_keyed_camera(astronaut: np.ndarray) -> None:
    envelope = np.zeros(24, dtype=np.float32)
    envelope[12] = 1.0
    motion = _keyed(CameraKey(frame=0, zoom=1.5), audio_reactivity=1.0)
    clip = _clip(astronaut, motion, reactivity=envelope)
    np.testing.assert_array_equal(clip.frame(11), clip.frame(13))  # one still key: quiet frames alike
    assert psnr(clip.frame(12), clip.frame(11)) < 35  # the hit zooms in further


def test_editing_a_key_rerenders_only_that_act(tmp_path: Path) -> None:
    image = cv2.resize(cv2.imread(str(DEMO / "01_astronaut.jpg")), (200, 150))
    cv2.imwrite(str(tmp_path / "photo.jpg"), image)
    keys = _keyed(CameraKey(frame=0), CameraKey(frame=5, x=0.1, zoom=1.5))
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=96, height=64),
        acts=[
            Act(id=f"act{i}", duration_frames=6, seed=i, references=[MediaRef(path="photo.jpg")], motion=keys)
            for i in range(3)
        ],
    )
    history = History(project)
    pipeline = ActPipeline(tmp_path, StageCache())
    target = RenderTarget.preview(project)

    def render_all() -> tuple[int, np.ndarray]:
        before = pipeline.renders
        last = [pipeline.draft_clip(act, target).frame(5) for act in project.acts][1]
        return pipeline.renders - before, last

    renders, unedited = render_all()
    assert renders == 3
    moved = keys.with_key(CameraKey(frame=5, x=-0.1, zoom=1.5))
    history.execute(SetActField("act1", "motion", moved))
    renders, edited = render_all()
    assert renders == 1 and psnr(edited, unedited) < 30
    history.undo()
    renders, restored = render_all()
    assert renders == 0
    np.testing.assert_array_equal(restored, unedited)


def test_the_prompt_names_the_overall_keyed_move() -> None:
    keys = _keyed(
        CameraKey(frame=-10, zoom=1.0),  # a key before the act (a split's first part) shapes the move too
        CameraKey(frame=30, x=0.1, zoom=1.6),
    )
    assert motion_prompt("a fox", keys, 24) == "a fox, camera slowly zooms in and pans right"
    assert motion_prompt("", _keyed(CameraKey(frame=0, zoom=3.0)), 24) == "static camera"
    # Without keys the preset move is described as before.
    assert motion_prompt("a fox", MotionSettings(camera=CameraMove.pan_left, intensity=0.9), 24) == (
        "a fox, dynamic motion, camera pans left"
    )


@pytest.mark.parametrize(
    ("start", "end", "phrase"),
    [
        (CameraKey(frame=0, zoom=2.0), CameraKey(frame=9, zoom=1.0), "camera zooms out"),
        (CameraKey(frame=0, y=0.2), CameraKey(frame=9, y=-0.2), "camera quickly tilts up"),
        (
            CameraKey(frame=0, zoom=1.5),
            CameraKey(frame=9, x=-0.1, y=0.1, zoom=1.5, rotation=20),
            "camera pans left, tilts down and rolls clockwise",
        ),
        (
            CameraKey(frame=0, rotation=5),
            CameraKey(frame=9, rotation=-50),
            "camera quickly rolls counter-clockwise",
        ),
        (CameraKey(frame=0, x=0.005), CameraKey(frame=9), "static camera"),
    ],
)
def test_keyed_move_phrases(start: CameraKey, end: CameraKey, phrase: str) -> None:
    assert keyframed_move_phrase(start, end) == phrase


def test_acts_without_keys_keep_the_motion_cache_key_they_had_before_keys_existed() -> None:
    from app.engine.pipeline import (
        _motion_key,
    )  # the cache input itself: the renders cached by earlier versions

    assert "keyframes" not in _motion_key(MotionSettings(camera=CameraMove.pan_left))
    keyed = _motion_key(_keyed(CameraKey(frame=3, zoom=2.0)))
    assert keyed["keyframes"] == [{"frame": 3, "x": 0.0, "y": 0.0, "zoom": 2.0, "rotation": 0.0}]
