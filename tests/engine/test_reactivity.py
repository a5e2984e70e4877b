"""Audio-reactive motion: the per-frame onset envelope and what it does to the picture."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.audio.reactivity import act_envelope
from app.engine.backends.motion import MotionClip
from app.model import CameraMove, FitMode, MotionSettings

PHOTO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "03_coffee.jpg"


def test_envelope_keeps_hits_between_frames_and_releases_linearly() -> None:
    rate = 100.0  # envelope samples per second; 24 fps frames span ~4.17 samples each
    onsets = np.zeros(300, dtype=np.float32)
    onsets[102] = 1.0  # 1.02 s: between frame 24 (1.000 s) and frame 25 (1.042 s)
    envelope = act_envelope(onsets, rate, 0.0, 0, 48, Fraction(24), release_frames=3)
    assert envelope[24] == pytest.approx(1.0)
    assert envelope[23] == 0.0
    assert list(np.round(envelope[25:29], 3)) == [0.75, 0.5, 0.25, 0.0]


def test_envelope_follows_the_act_position_and_the_audio_offset() -> None:
    onsets = np.zeros(1000, dtype=np.float32)
    onsets[500] = 1.0  # 5.0 s into the audio file
    # Audio starts at timeline 2 s, so the hit is at 7 s = frame 168; the act starts at frame 160.
    envelope = act_envelope(onsets, 100.0, 2.0, 160, 24, Fraction(24), release_frames=0)
    assert int(np.argmax(envelope)) == 8
    assert envelope.sum() == pytest.approx(1.0)


def _clip(envelope: np.ndarray, **react: float) -> MotionClip:
    image = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    settings = MotionSettings(camera=CameraMove.static, audio_reactivity=1.0, react_zoom=0.0, **react)
    return MotionClip([image], FitMode.cover, settings, len(envelope), 160, 96, seed=3, reactivity=envelope)


def test_flash_brightens_frames_on_hits_only() -> None:
    envelope = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    clip = _clip(envelope, react_flash=1.0)
    quiet, hit = clip.frame(0).astype(float).mean(), clip.frame(1).astype(float).mean()
    assert hit > quiet * 1.2
    assert np.array_equal(clip.frame(0), clip.frame(2))


def test_shake_moves_the_camera_on_hits_deterministically_without_borders() -> None:
    envelope = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    clip = _clip(envelope, react_shake=1.0)
    still = cv2.cvtColor(clip.frame(0), cv2.COLOR_RGB2GRAY).astype(np.float32)
    shaken = cv2.cvtColor(clip.frame(1), cv2.COLOR_RGB2GRAY).astype(np.float32)
    (dx, dy), _ = cv2.phaseCorrelate(still, shaken)
    assert np.hypot(dx, dy) > 0.3
    assert np.array_equal(clip.frame(0), clip.frame(3))
    assert np.array_equal(clip.frame(1), _clip(envelope, react_shake=1.0).frame(1))
    assert not np.array_equal(clip.frame(1), clip.frame(2))  # every hit frame shakes its own way
    for index in (1, 2):
        border = np.concatenate([clip.frame(index)[0], clip.frame(index)[-1]])
        assert border.min() > 0  # the photo has no black: a black border would mean the frame's edge showed
