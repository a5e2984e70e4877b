"""Measures of rendered frames shared by the motion tests: how far content moved, how alike two frames are."""

from __future__ import annotations

import math

import cv2
import numpy as np


def content_shift(earlier: np.ndarray, later: np.ndarray) -> tuple[float, float]:
    """How far the content moved from `earlier` to `later`, in pixels (phase correlation)."""
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) for frame in (earlier, later)]
    window = cv2.createHanningWindow(grey[0].shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(grey[0], grey[1], window)
    return dx, dy


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit frames in dB (infinite when they are equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
