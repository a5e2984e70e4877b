"""histogram: luma and RGB counts of a frame in equal bins."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.scopes import histogram


def test_half_black_half_white_frame_has_two_luma_peaks() -> None:
    frame = np.zeros((270, 480, 3), dtype=np.uint8)
    frame[:, 240:] = 255

    result = histogram(frame, bins=64)

    half = 270 * 240
    assert result.bins == 64
    for channel in (result.luma, result.red, result.green, result.blue):
        assert channel[0] == half and channel[-1] == half
        assert channel[1:-1].sum() == 0
    assert result.peak == half


def test_luma_weights_green_above_red_above_blue() -> None:
    frame = np.zeros((1, 3, 3), dtype=np.uint8)
    frame[0, 0] = (255, 0, 0)
    frame[0, 1] = (0, 255, 0)
    frame[0, 2] = (0, 0, 255)

    result = histogram(frame, bins=256)

    # Rec.709: red ≈ 0.2126, green ≈ 0.7152, blue ≈ 0.0722 of white.
    assert list(np.flatnonzero(result.luma)) == [18, 53, 182]
    assert result.red[255] == 1 and result.red[0] == 2
    assert result.luma.sum() == 3


def test_counts_sum_to_the_pixel_count_and_grey_sits_in_its_bin() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, size=(90, 160, 3), dtype=np.uint8)
    frame[:10] = 128

    result = histogram(frame, bins=16)

    assert all(channel.sum() == 90 * 160 for channel in (result.luma, result.red, result.green, result.blue))
    grey_only = histogram(np.full((4, 4, 3), 128, dtype=np.uint8), bins=16)
    assert list(np.flatnonzero(grey_only.luma)) == [8]  # 128 // (256 / 16)


@pytest.mark.parametrize("bins", [0, 3, 100, 512])
def test_bins_that_do_not_divide_256_are_refused(bins: int) -> None:
    with pytest.raises(ValueError, match="bins must divide 256"):
        histogram(np.zeros((2, 2, 3), dtype=np.uint8), bins=bins)


def test_a_frame_that_is_not_rgb_uint8_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        histogram(np.zeros((2, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="H, W, 3"):
        histogram(np.zeros((2, 2), dtype=np.uint8))
