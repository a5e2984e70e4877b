"""Waveform peaks: built streaming from a PCM file, checked against brute-force min/max at several zooms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.engine.audio import peaks as peaks_module
from app.engine.audio.decode import PcmFile
from app.engine.audio.peaks import BASE_BLOCK, build_peaks, cached_peaks
from app.engine.cache import StageCache

RATE = 48000


@pytest.fixture
def signal() -> np.ndarray:
    """3 s of stereo (not a whole number of blocks): a swelling tone, noise, and spikes on one channel."""
    rng = np.random.default_rng(7)
    frames = 3 * RATE + 123
    t = np.arange(frames) / RATE
    left = 0.6 * np.sin(2 * np.pi * 110 * t) * np.minimum(1.0, t) + 0.05 * rng.standard_normal(frames)
    right = 0.3 * np.sin(2 * np.pi * 3 * t)
    right[[1000, 50_000, frames - 1]] = [0.97, -0.99, 0.9]
    return np.clip(np.stack([left, right], axis=1), -1, 1).astype(np.float32)


@pytest.fixture
def pcm(tmp_path: Path, signal: np.ndarray) -> PcmFile:
    path = tmp_path / "audio.f32"
    signal.astype("<f4").tofile(path)
    return PcmFile(path, RATE, 2)


def _brute(signal: np.ndarray, first: int, stop: int) -> tuple[float, float]:
    part = signal[max(first, 0) : max(stop, 0)]
    return float(part.min()), float(part.max())


def test_base_level_is_the_min_and_max_of_every_block(pcm: PcmFile, signal: np.ndarray) -> None:
    peaks = build_peaks(pcm)
    base_min, base_max = peaks.base_level()
    assert base_min.size == math.ceil(len(signal) / BASE_BLOCK)
    for block in (0, 1, 300, base_min.size - 1):  # the last block is shorter
        expected = _brute(signal, block * BASE_BLOCK, (block + 1) * BASE_BLOCK)
        assert (base_min[block], base_max[block]) == pytest.approx(expected)
    assert peaks.duration_s == pytest.approx(len(signal) / RATE)


def test_reading_in_small_chunks_gives_the_same_peaks(pcm: PcmFile, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = build_peaks(pcm).base_level()
    monkeypatch.setattr(peaks_module, "_READ_FRAMES", BASE_BLOCK * 3)
    chunked = build_peaks(pcm).base_level()
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])


@pytest.mark.parametrize("width", [BASE_BLOCK, 2 * BASE_BLOCK, 16 * BASE_BLOCK, 256 * BASE_BLOCK])
def test_block_aligned_columns_match_brute_force_exactly(
    pcm: PcmFile, signal: np.ndarray, width: int
) -> None:
    count = len(signal) // width
    mins, maxs = build_peaks(pcm).columns(0.0, count * width / RATE, count)
    for column in range(count):
        expected = _brute(signal, column * width, (column + 1) * width)
        assert (mins[column], maxs[column]) == pytest.approx(expected), column


@pytest.mark.parametrize(
    ("start_s", "end_s", "count"),
    [(0.0, 3.0, 1920), (0.123, 2.9, 700), (1.0001, 1.0301, 1920), (0.5, 2.5, 37), (0.0, 3.1, 1)],
)
def test_any_zoom_covers_every_sample_and_at_most_a_column_more(
    pcm: PcmFile, signal: np.ndarray, start_s: float, end_s: float, count: int
) -> None:
    mins, maxs = build_peaks(pcm).columns(start_s, end_s, count)
    assert mins.shape == maxs.shape == (count,)
    width = (end_s - start_s) * RATE / count
    for column in range(count):
        a = start_s * RATE + column * width
        b = a + width
        if math.ceil(a) >= min(math.ceil(b), len(signal)):
            continue  # no whole sample starts in this column
        true_min, true_max = _brute(signal, math.ceil(a), math.ceil(b))
        # Below one base block per column the base level is used: it may widen by a block instead.
        margin = max(width, BASE_BLOCK)
        wide_min, wide_max = _brute(signal, math.floor(a - margin), math.ceil(b + margin))
        assert wide_min <= mins[column] <= true_min, column
        assert true_max <= maxs[column] <= wide_max, column


def test_spikes_show_in_their_column_at_full_width(pcm: PcmFile) -> None:
    mins, maxs = build_peaks(pcm).columns(0.0, 3.0, 1920)
    per_column = 3.0 * RATE / 1920
    assert maxs[int(1000 / per_column)] == pytest.approx(0.97)
    assert mins[int(50_000 / per_column)] == pytest.approx(-0.99)


def test_columns_outside_the_audio_are_silent(pcm: PcmFile) -> None:
    mins, maxs = build_peaks(pcm).columns(-1.0, 5.0, 60)
    assert not mins[:9].any() and not maxs[:9].any()  # columns wholly before 0 s
    assert not mins[-19:].any() and not maxs[-19:].any()  # columns wholly after the end (3.003 s)
    assert maxs[20] > 0.5


def test_bad_column_requests_raise(pcm: PcmFile) -> None:
    peaks = build_peaks(pcm)
    with pytest.raises(ValueError, match="count"):
        peaks.columns(0.0, 1.0, -1)
    with pytest.raises(ValueError, match="after"):
        peaks.columns(1.0, 1.0, 10)
    mins, maxs = peaks.columns(0.0, 1.0, 0)
    assert mins.size == maxs.size == 0


def test_cached_peaks_are_stored_as_plain_arrays_and_reused(
    pcm: PcmFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StageCache(tmp_path / "cache")
    first = cached_peaks(pcm, cache, "a" * 64)
    stored = {path.suffix for path in (tmp_path / "cache").rglob("*") if path.is_file()} - {".sqlite"}
    assert stored == {".npy", ".json"}

    def no_rebuild(pcm: PcmFile) -> None:
        raise AssertionError("peaks were rebuilt instead of read from the cache")

    monkeypatch.setattr(peaks_module, "build_peaks", no_rebuild)
    second = cached_peaks(pcm, cache, "a" * 64)
    assert second.frames == first.frames and second.sample_rate == RATE
    assert np.array_equal(second.columns(0.1, 2.0, 500)[1], first.columns(0.1, 2.0, 500)[1])
