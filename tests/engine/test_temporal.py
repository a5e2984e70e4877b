"""Frame-rate conversion of clips with optical-flow in-betweens."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.temporal import RetimedClip

PHOTO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "01_astronaut.jpg"


class PanClip:
    """A camera panning right over a real photo at `step` pixels per source frame; the truth at any time."""

    def __init__(self, length: int, step: float) -> None:
        self._photo = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
        self.length = length
        self._step = step

    def at(self, position: float) -> np.ndarray:
        shift = np.float32([[1, 0, -position * self._step], [0, 1, 0]])
        return cv2.warpAffine(self._photo, shift, (256, 192), flags=cv2.INTER_LINEAR)

    def frame(self, index: int) -> np.ndarray:
        return self.at(float(min(max(index, 0), self.length - 1)))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    # The interior only: pixels near the borders have no source on one side.
    a, b = a[16:-16, 16:-16].astype(float), b[16:-16, 16:-16].astype(float)
    return float(10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-9)))


def test_doubling_the_rate_keeps_source_frames_and_interpolates_between() -> None:
    source = PanClip(length=6, step=6.0)
    retimed = RetimedClip(source, Fraction(12), Fraction(24))
    assert retimed.length == 12
    assert np.array_equal(retimed.frame(4), source.frame(2))
    middle = retimed.frame(5)  # half-way between source frames 2 and 3
    truth = source.at(2.5)
    flow_psnr = _psnr(middle, truth)
    blend = RetimedClip(source, Fraction(12), Fraction(24), method="blend").frame(5)
    assert flow_psnr > _psnr(blend, truth) + 2.0
    assert flow_psnr > _psnr(source.frame(2), truth)


def test_stretching_to_a_given_length_spans_the_whole_source() -> None:
    source = PanClip(length=5, step=4.0)
    retimed = RetimedClip(source, Fraction(8), Fraction(24), length=13)
    assert retimed.length == 13
    assert retimed.source_position(0) == 0.0
    assert retimed.source_position(12) == pytest.approx(4.0)
    assert np.array_equal(retimed.frame(12), source.frame(4))


def test_nearest_method_repeats_frames_and_bad_method_is_refused() -> None:
    source = PanClip(length=4, step=4.0)
    nearest = RetimedClip(source, Fraction(12), Fraction(24), method="nearest")
    assert np.array_equal(nearest.frame(1), source.frame(1))  # position 0.5 rounds up
    with pytest.raises(ValueError, match="unknown interpolation"):
        RetimedClip(source, Fraction(12), Fraction(24), method="magic")
