"""Scopes of a frame for the editor: the luminance and RGB histograms of an (H, W, 3) uint8 RGB frame.

Cheap enough for the GUI thread on a draft-size frame (480 px wide: about a millisecond): integer luma and
one `bincount` per channel, no float image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rec.709 luma weights in 1/256ths (0.2126, 0.7152, 0.0722), summing to 256 so white stays 255.
_LUMA_WEIGHTS = (54, 183, 19)
_LEVELS = 256


@dataclass(frozen=True)
class Histogram:
    """Pixel counts per bin of 8-bit code values; bin i covers values [i·256/bins, (i+1)·256/bins).

    Each array has `bins` int64 entries summing to the frame's pixel count. Luma is Rec.709 over the
    sRGB-encoded values, as video scopes show it.
    """

    luma: np.ndarray
    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray

    @property
    def bins(self) -> int:
        return int(self.luma.shape[0])

    @property
    def peak(self) -> int:
        """The largest count in any bin of any channel (0 for an empty frame): the scale to draw at."""
        return int(max(channel.max(initial=0) for channel in (self.luma, self.red, self.green, self.blue)))


def histogram(frame: np.ndarray, bins: int = 64) -> Histogram:
    """The luma and per-channel histograms of an (H, W, 3) uint8 RGB frame in `bins` equal bins.

    `bins` must divide 256 (1, 2, 4, … 256). Raises ValueError for anything else or another frame layout.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"histogram: expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    if not 1 <= bins <= _LEVELS or _LEVELS % bins:
        raise ValueError(f"histogram: bins must divide 256, got {bins}")
    pixels = frame.reshape(-1, 3)
    red, green, blue = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    # In uint16 the weighted sum of white is 255 · 256 = 65280: no overflow.
    weighted = np.zeros(red.shape, dtype=np.uint16)
    for channel, weight in zip((red, green, blue), _LUMA_WEIGHTS, strict=True):
        weighted += channel.astype(np.uint16) * np.uint16(weight)
    luma = weighted >> 8

    def counts(values: np.ndarray) -> np.ndarray:
        levels = np.bincount(values, minlength=_LEVELS).astype(np.int64)
        return levels.reshape(bins, _LEVELS // bins).sum(axis=1)

    return Histogram(luma=counts(luma), red=counts(red), green=counts(green), blue=counts(blue))
