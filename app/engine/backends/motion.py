"""The built-in `motion` backend: camera moves over an act's keyframes, on any CPU.

A `MotionClip` fits every keyframe once to an overscanned canvas; each frame is then one warp from that
canvas straight to the output size. The camera is described by where the output frame's four corners land
on the fitted picture ("base frame", in output pixels), which makes the no-borders rule a matter of
keeping four points inside a rectangle. Several keyframes are shown in turn and morphed with optical flow.

An act with camera keys (MotionSettings.keyframes) follows them instead of its preset move: the pose at each
frame is `MotionSettings.key_at(frame)`, the one interpolation the editor's camera overlay draws too. Every
keyed pose gets its own least extra zoom that keeps the picture's edges out of view, so a key is shown as it
was set whenever it fits, and a frame depends only on the keys and its frame: the two parts of a split act
show exactly the frames of the unsplit one.

Dolly moves, which a flat picture cannot show with real parallax, combine a stronger zoom curve than the
zoom moves with a growing vertical keystone: the bottom of the picture is magnified more than the top, as
when a camera travels forward over a ground plane, so a dolly reads as a push rather than a lens zoom.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.engine.flow import FlowInterpolator
from app.engine.keyframe import fit_image
from app.model.act import CameraKey, CameraMove, Easing, FitMode, MotionSettings, ease

# Strength of each move at intensity 1.
_ZOOM_RANGE = 0.35  # zooms end 35 % closer (exponentially, so the speed reads as constant)
_DOLLY_ZOOM_RANGE = 0.5
_DOLLY_KEYSTONE = 0.08  # top edge of the view this much wider than the centre line, bottom this much narrower
_PAN_TRAVEL = 0.16  # fraction of the frame's width (or height) travelled over the act
_ROTATE_DEGREES = 8.0
_DRIFT_TRAVEL = 0.10  # fraction of the frame's shorter side
_DRIFT_ZOOM_RANGE = 0.12

_PULSE_MAX = 0.06  # zoom added by an envelope of 1 at audio_reactivity 1
_SHAKE_MAX = 0.015  # camera offset (fraction of the frame) at full envelope, reactivity and shake
_FLASH_MAX = 0.6  # exposure gain added at full envelope, reactivity and flash
_HANDLE_OVERRUN = 0.2  # the eased path continues this far past either end, for transition handles
_FIT_SAMPLES = 33
_KEY_SEGMENT_SAMPLES = 9  # poses checked between two camera keys when planning the canvas
_MAX_OVERSCAN = 2.0  # canvas side at most this times the frame side (memory), even if a move zooms further
_MORPH_FRACTION = 0.3  # of a reference's share of the act
_MORPH_MIN_FRAMES = 4

_WARP_FLAGS = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

# (start slope, end slope) of each easing curve: outside [0, 1] the path continues along them.
_END_SLOPES: dict[Easing, tuple[float, float]] = {
    Easing.linear: (1.0, 1.0),
    Easing.ease_in: (0.0, 2.0),
    Easing.ease_out: (2.0, 0.0),
    Easing.ease_in_out: (0.0, 0.0),
}


def _ease(easing: Easing, t: float) -> float:
    """Eased path time for normalised act time `t`; beyond [0, 1] it extends along the end slopes."""
    start_slope, end_slope = _END_SLOPES[easing]
    if t < 0.0:
        return start_slope * t
    if t > 1.0:
        return 1.0 + end_slope * (t - 1.0)
    return ease(easing, t)


@dataclass(frozen=True)
class _Pose:
    """The camera at one instant, relative to the fitted picture (the base frame, in output pixels)."""

    zoom: float = 1.0  # > 1 shows less of the picture
    offset_x: float = 0.0  # view centre from the picture centre, pixels
    offset_y: float = 0.0
    clockwise_degrees: float = 0.0  # how far the picture appears turned clockwise
    keystone: float = 0.0


class _CameraPath:
    """The camera pose along the eased path time u (0 at the act's first frame, 1 at its last)."""

    def __init__(self, settings: MotionSettings, width: int, height: int, seed: int) -> None:
        self.move = settings.camera
        self.intensity = settings.intensity
        self.width = width
        self.height = height
        rng = np.random.default_rng(seed)
        self._drift_angle = float(rng.uniform(0.0, 2.0 * math.pi))
        self._drift_zooms_in = bool(rng.integers(0, 2))

    def pose(self, u: float) -> _Pose:
        move, strength = self.move, self.intensity
        centred = u - 0.5  # pans and turns are centred on mid-act, which keeps the overscan small
        if move in (CameraMove.zoom_in, CameraMove.zoom_out):
            progress = u if move is CameraMove.zoom_in else 1.0 - u
            return _Pose(zoom=(1.0 + _ZOOM_RANGE * strength) ** progress)
        if move in (CameraMove.dolly_in, CameraMove.dolly_out):
            progress = u if move is CameraMove.dolly_in else 1.0 - u
            return _Pose(
                zoom=(1.0 + _DOLLY_ZOOM_RANGE * strength) ** progress,
                keystone=_DOLLY_KEYSTONE * strength * progress,
            )
        pan_x = _PAN_TRAVEL * strength * centred * self.width
        pan_y = _PAN_TRAVEL * strength * centred * self.height
        if move is CameraMove.pan_right:
            return _Pose(offset_x=pan_x)
        if move is CameraMove.pan_left:
            return _Pose(offset_x=-pan_x)
        if move is CameraMove.pan_down:
            return _Pose(offset_y=pan_y)
        if move is CameraMove.pan_up:
            return _Pose(offset_y=-pan_y)
        turn = _ROTATE_DEGREES * strength * centred
        if move is CameraMove.rotate_cw:
            return _Pose(clockwise_degrees=turn)
        if move is CameraMove.rotate_ccw:
            return _Pose(clockwise_degrees=-turn)
        if move is CameraMove.drift:
            travel = _DRIFT_TRAVEL * strength * centred * min(self.width, self.height)
            progress = u if self._drift_zooms_in else 1.0 - u
            return _Pose(
                zoom=(1.0 + _DRIFT_ZOOM_RANGE * strength) ** progress,
                offset_x=travel * math.cos(self._drift_angle),
                offset_y=travel * math.sin(self._drift_angle),
            )
        return _Pose()  # static

    def keyed_pose(self, key: CameraKey) -> _Pose:
        """The pose of a camera key (its x and y are fractions of the frame's width and height)."""
        return _Pose(
            zoom=key.zoom,
            offset_x=key.x * self.width,
            offset_y=key.y * self.height,
            clockwise_degrees=key.rotation,
        )

    def corners(self, pose: _Pose, extra_zoom: float) -> tuple[np.ndarray, np.ndarray]:
        """(view centre (2,), corner offsets from it (4, 2)) on the base frame; corners TL, TR, BR, BL."""
        half_width, half_height = self.width / 2.0, self.height / 2.0
        top, bottom = 1.0 + pose.keystone, 1.0 - pose.keystone
        offsets = np.array(
            [
                [-half_width * top, -half_height],
                [half_width * top, -half_height],
                [half_width * bottom, half_height],
                [-half_width * bottom, half_height],
            ]
        ) / (pose.zoom * extra_zoom)
        # The view turns the other way from how the picture should appear to turn (y points down).
        angle = math.radians(-pose.clockwise_degrees)
        rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        centre = np.array([half_width + pose.offset_x, half_height + pose.offset_y])
        return centre, offsets @ rotation.T


def _zoom_to_fit(centre: np.ndarray, offsets: np.ndarray, width: int, height: int) -> float:
    """The least extra zoom about `centre` that brings every corner inside the base frame."""
    needed = 0.0
    for axis, size in ((0, width), (1, height)):
        reach = offsets[:, axis]
        # A keyed view centred on the picture's very edge has no room: a tiny floor keeps the zoom finite.
        room = np.maximum(np.where(reach > 0.0, size - centre[axis], centre[axis]), 1e-3)
        needed = max(needed, float(np.max(np.abs(reach) / room)))
    return needed


def _magnification(corners: np.ndarray, width: int, height: int) -> float:
    """Largest output-pixels-per-picture-pixel along the view's edges (corners TL, TR, BR, BL)."""
    top, right, bottom, left = (np.linalg.norm(corners[(i + 1) % 4] - corners[i]) for i in range(4))
    return float(max(width / top, width / bottom, height / left, height / right))


class MotionClip:
    """Random-access frames of one act made by the built-in motion backend.

    Frames are (height, width, 3) uint8 RGB. `images` are the act's keyframes at their own size (at least
    one); `length` is the act body in frames at the project rate; `seed` varies the drift move;
    `reactivity` is an optional per-frame envelope in [0, 1] (one value per body frame) that pulses the
    zoom; `key_step` is how many act frames (the unit of camera keys) one index of this clip spans — more
    than 1 when the motion is made at a lower rate than the project's. Any frame index is valid: indices
    outside [0, length) are transition handles, where a preset move keeps going a little past the ends and
    a keyed camera holds its pose (key_at holds). Frames depend only on the constructor arguments and the
    index. Thread-safe.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        fit: FitMode,
        settings: MotionSettings,
        length: int,
        width: int,
        height: int,
        seed: int,
        reactivity: np.ndarray | None = None,
        key_step: float = 1.0,
    ) -> None:
        if not images:
            raise ValueError("motion clip: needs at least one keyframe image")
        if length < 1 or width < 1 or height < 1:
            raise ValueError(f"motion clip: length {length}, size {width}x{height} must all be at least 1")
        for number, image in enumerate(images):
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(
                    f"keyframe {number}: expected (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}"
                )
        self.settings = settings
        self.length = length
        self.width = width
        self.height = height
        # The whole move this act shows a stretch of (settings.path_start..path_end; all of it unless the act
        # is part of a split one), in frames: the reference morphs are timed on it like the camera, and
        # the overscan covers all of it, so the parts of a split act frame every instant as the act did.
        span = settings.path_end - settings.path_start
        self._move_length = (length - 1) / span + 1 if span > 0 else float(length)
        self._move_offset = settings.path_start * (self._move_length - 1) if span > 0 else 0.0
        self._path = _CameraPath(settings, width, height, seed)
        self._key_step = float(key_step)
        self._envelope = self._check_envelope(reactivity, length) if settings.audio_reactivity > 0 else None
        start_slope, end_slope = _END_SLOPES[settings.easing]
        self._u_range = (
            -_HANDLE_OVERRUN if start_slope else 0.0,
            1.0 + (_HANDLE_OVERRUN if end_slope else 0.0),
        )
        self._extra_zoom, overscan = self._plan_overscan()
        # Zoom in just enough that the largest shake never shows past the picture's edge.
        self._shake = (
            _SHAKE_MAX * settings.audio_reactivity * settings.react_shake
            if self._envelope is not None
            else 0.0
        )
        self._shake_zoom = 1.0 / (1.0 - 2.0 * self._shake)
        self._seed = seed
        canvas_width = max(width, round(width * overscan))
        canvas_height = max(height, round(height * overscan))
        self._to_canvas = np.array([canvas_width / width, canvas_height / height])
        self._canvases = [fit_image(image, canvas_width, canvas_height, fit) for image in images]
        self._morphs: dict[int, FlowInterpolator] = {}
        self._morph_lock = threading.Lock()

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) in pixels of the overscanned canvas each keyframe was fitted to."""
        height, width = self._canvases[0].shape[:2]
        return width, height

    @staticmethod
    def _check_envelope(reactivity: np.ndarray | None, length: int) -> np.ndarray | None:
        if reactivity is None:
            return None
        envelope = np.asarray(reactivity, dtype=np.float32)
        if envelope.shape != (length,):
            raise ValueError(f"reactivity envelope: expected {length} values, got shape {envelope.shape}")
        return np.clip(np.nan_to_num(envelope), 0.0, 1.0)

    def _plan_overscan(self) -> tuple[float, float]:
        """(extra zoom keeping the whole preset path inside the picture, canvas size over frame size).

        A keyed camera is planned over every key of the shot, those outside the act too, so that the parts
        of a split act get the same canvas as the whole act and show the very same frames."""
        if self.settings.keyframes:
            poses = [self._keyed_pose_at(frame) for frame in self._key_planning_frames()]
            extra_zooms = [self._keyed_fit(pose) for pose in poses]
            extra_zoom = 1.0  # unused: each keyed pose has its own (see _extra_zoom_for)
        else:
            poses = [self._path.pose(u) for u in np.linspace(*self._u_range, _FIT_SAMPLES)]
            extra_zoom = max(
                _zoom_to_fit(*self._path.corners(pose, 1.0), self.width, self.height) for pose in poses
            )
            extra_zooms = [extra_zoom] * len(poses)
        # Enough canvas pixels that the closest view is not enlarged (the pulse zooms in further still).
        pulse = 1.0 + _PULSE_MAX * self.settings.audio_reactivity if self._envelope is not None else 1.0
        closest = 1.0
        for pose, zoom in zip(poses, extra_zooms, strict=True):
            centre, offsets = self._path.corners(pose, zoom)
            closest = max(closest, _magnification(centre + offsets, self.width, self.height))
        return extra_zoom, min(_MAX_OVERSCAN, closest * pulse)

    def _key_planning_frames(self) -> list[float]:
        """Act frames at which the keyed path is checked: every key and a few points between each pair."""
        frames = [float(key.frame) for key in self.settings.keyframes]
        planned = frames[:1]
        for start, end in itertools.pairwise(frames):
            planned.extend(np.linspace(start, end, _KEY_SEGMENT_SAMPLES)[1:].tolist())
        return planned

    def _keyed_pose_at(self, act_frame: float) -> _Pose:
        return self._path.keyed_pose(self.settings.key_at(act_frame))

    def _keyed_fit(self, pose: _Pose) -> float:
        """The least extra zoom (at least 1: a key's own zoom is kept) that keeps borders out of `pose`."""
        return max(1.0, _zoom_to_fit(*self._path.corners(pose, 1.0), self.width, self.height))

    def _pose(self, index: int) -> _Pose:
        """The camera at clip frame `index`: from the keys when the act has any, else along the preset."""
        if self.settings.keyframes:
            return self._keyed_pose_at(index * self._key_step)
        return self._path.pose(self._path_time(index))

    def _extra_zoom_for(self, pose: _Pose) -> float:
        """The zoom added to `pose` so that neither the move nor the shake ever shows past the picture."""
        fit = self._keyed_fit(pose) if self.settings.keyframes else self._extra_zoom
        return fit * self._shake_zoom

    def _move_time(self, index: int) -> float:
        """Time of the whole move at body frame `index`: path_start at the first frame, path_end at the last,
        running on at that rate into the handles."""
        start, end = self.settings.path_start, self.settings.path_end
        if self.length > 1:
            return start + (end - start) * index / (self.length - 1)
        return start + (end - start) * index

    def _path_time(self, index: int) -> float:
        low, high = self._u_range
        return min(high, max(low, _ease(self.settings.easing, self._move_time(index))))

    def _level(self, index: int) -> float:
        """The audio envelope at `index` (handles use the nearest body value); 0 without reactivity."""
        if self._envelope is None:
            return 0.0
        return float(self._envelope[min(self.length - 1, max(0, index))])

    def _pulse(self, index: int) -> float:
        return 1.0 + _PULSE_MAX * self.settings.audio_reactivity * self.settings.react_zoom * self._level(
            index
        )

    def _shake_offset(self, index: int) -> np.ndarray:
        """Seeded per-frame jitter (output pixels) scaled by the envelope; a frame always shakes alike."""
        level = self._level(index)
        if self._shake == 0.0 or level == 0.0:
            return np.zeros(2)
        direction = np.random.default_rng((self._seed, index & 0xFFFFFFFF)).uniform(-1.0, 1.0, 2)
        return direction * self._shake * level * np.array([self.width, self.height])

    def _flash(self, frame: np.ndarray, index: int) -> np.ndarray:
        gain = _FLASH_MAX * self.settings.audio_reactivity * self.settings.react_flash * self._level(index)
        return frame if gain == 0.0 else cv2.convertScaleAbs(frame, alpha=1.0 + gain)

    def _morph_progress(self, index: int) -> tuple[int, float]:
        """(reference shown, or the first of a morphing pair; morph progress in [0, 1), 0 if not morphing)."""
        count = len(self._canvases)
        position = min(self._move_length - 1, max(0, self._move_offset + index))
        share = self._move_length / count
        window = min(share, max(_MORPH_MIN_FRAMES, _MORPH_FRACTION * share))
        for boundary in range(1, count):
            start = boundary * share - window / 2.0
            if start <= position < start + window:
                return boundary - 1, _ease(Easing.ease_in_out, (position - start) / window)
        return min(count - 1, int(position / share)), 0.0

    def _canvas(self, index: int) -> np.ndarray:
        reference, progress = self._morph_progress(index)
        if progress == 0.0:
            return self._canvases[reference]
        with self._morph_lock:
            if reference not in self._morphs:
                self._morphs[reference] = FlowInterpolator(
                    self._canvases[reference], self._canvases[reference + 1]
                )
            morph = self._morphs[reference]
        return morph.frame_at(progress)

    def frame(self, index: int) -> np.ndarray:
        """The frame at `index` (frames from the act's first body frame; any int), (height, width, 3) RGB."""
        index = int(index)
        pose = self._pose(index)
        extra_zoom = self._extra_zoom_for(pose)
        centre, offsets = self._path.corners(pose, extra_zoom * self._pulse(index))
        centre = centre + self._shake_offset(index) / (pose.zoom * extra_zoom)  # a fraction of the view
        # Pixel centres sit at +0.5 in the continuous coordinates the corners use.
        source = ((centre + offsets) * self._to_canvas - 0.5).astype(np.float32)
        target = np.array(
            [[0, 0], [self.width, 0], [self.width, self.height], [0, self.height]], dtype=np.float32
        ) - np.float32(0.5)
        size = (self.width, self.height)
        canvas = self._canvas(index)
        if pose.keystone == 0.0:
            affine = cv2.getAffineTransform(target[:3], source[:3])
            warped = cv2.warpAffine(canvas, affine, size, flags=_WARP_FLAGS, borderMode=cv2.BORDER_REFLECT)
        else:
            homography = cv2.getPerspectiveTransform(target, source)
            warped = cv2.warpPerspective(
                canvas, homography, size, flags=_WARP_FLAGS, borderMode=cv2.BORDER_REFLECT
            )
        return self._flash(warped, index)
