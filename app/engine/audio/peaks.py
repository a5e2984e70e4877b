"""Waveform peaks for drawing audio tracks: min/max envelopes at several resolutions.

The base level holds the minimum and maximum sample (over all channels) of every block of `BASE_BLOCK`
sample frames; each further level halves the number of blocks by combining neighbours, so a view at any
zoom reduces at most about two blocks per screen column. The base level is built streaming from a PcmFile
(memory stays flat however long the audio is) and can be cached as `.npy` files in the stage cache.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from app.engine.audio.decode import PcmFile
from app.engine.cache import StageCache, cache_key

#: Sample frames per base-level block (5.3 ms at 48 kHz).
BASE_BLOCK = 256
#: Sample frames read from the PCM file at once while building (a whole number of blocks).
_READ_FRAMES = BASE_BLOCK * 4096
_MIN_FILE = "base_min.npy"
_MAX_FILE = "base_max.npy"
_INFO_FILE = "peaks.json"


class WaveformPeaks:
    """Min/max envelopes of one audio source, for drawing it at any zoom."""

    def __init__(self, base_min: np.ndarray, base_max: np.ndarray, sample_rate: int, frames: int) -> None:
        """`base_min`/`base_max`: per-block extremes of `frames` sample frames at `sample_rate` Hz."""
        if base_min.shape != base_max.shape or base_min.ndim != 1:
            raise ValueError("base_min and base_max must be 1-D arrays of the same length")
        if base_min.size != math.ceil(frames / BASE_BLOCK):
            raise ValueError(
                f"{frames} frames need {math.ceil(frames / BASE_BLOCK)} blocks, got {base_min.size}"
            )
        self.sample_rate = sample_rate
        self.frames = frames
        # levels[k] covers blocks of BASE_BLOCK * 2**k frames.
        self._levels: list[tuple[np.ndarray, np.ndarray]] = [
            (base_min.astype(np.float32, copy=False), base_max.astype(np.float32, copy=False))
        ]
        while self._levels[-1][0].size > 1:
            mins, maxs = self._levels[-1]
            if mins.size % 2:
                mins, maxs = np.append(mins, mins[-1]), np.append(maxs, maxs[-1])
            self._levels.append((np.minimum(mins[0::2], mins[1::2]), np.maximum(maxs[0::2], maxs[1::2])))

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    def base_level(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-block (min, max) arrays of the finest level (blocks of BASE_BLOCK frames)."""
        return self._levels[0]

    def columns(self, start_s: float, end_s: float, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-column (min, max) in -1..1 for `count` equal columns spanning [start_s, end_s) seconds.

        Each column reduces the blocks of the coarsest level whose block is no wider than the column, so a
        column shows every sample it covers, widened to that level's block boundaries (never more than one
        column width on each side). Columns outside the audio are 0. Raises ValueError for count < 0 or
        end_s <= start_s.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if not end_s > start_s:
            raise ValueError(f"end_s must be after start_s, got [{start_s}, {end_s})")
        if count == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        width = (end_s - start_s) * self.sample_rate / count  # sample frames per column
        level = min(max(0, math.floor(math.log2(width / BASE_BLOCK))), len(self._levels) - 1)
        block = BASE_BLOCK * 2**level
        mins, maxs = self._levels[level]
        edges = start_s * self.sample_rate + width * np.arange(count + 1)
        lo = np.floor(edges[:-1] / block).astype(np.int64)
        hi = np.maximum(np.ceil(edges[1:] / block).astype(np.int64), lo + 1)
        lo = np.clip(lo, 0, mins.size)
        hi = np.clip(hi, 0, mins.size)
        # reduceat over interleaved [lo0, hi0, lo1, hi1, ...] reduces each [lo, hi) at the even positions;
        # the appended element makes index == size valid.
        bounds = np.empty(2 * count, dtype=np.int64)
        bounds[0::2], bounds[1::2] = lo, hi
        col_min = np.minimum.reduceat(np.append(mins, np.float32(0)), bounds)[0::2]
        col_max = np.maximum.reduceat(np.append(maxs, np.float32(0)), bounds)[0::2]
        outside = hi <= lo
        col_min[outside] = 0.0
        col_max[outside] = 0.0
        return col_min, col_max


def build_peaks(pcm: PcmFile) -> WaveformPeaks:
    """Peaks of the whole PCM file, read a few megabytes at a time."""
    blocks = math.ceil(pcm.frames / BASE_BLOCK)
    base_min = np.empty(blocks, dtype=np.float32)
    base_max = np.empty(blocks, dtype=np.float32)
    for start in range(0, pcm.frames, _READ_FRAMES):
        count = min(_READ_FRAMES, pcm.frames - start)
        samples = pcm.read(start, count)
        first = start // BASE_BLOCK
        full = count // BASE_BLOCK
        if full:
            body = samples[: full * BASE_BLOCK].reshape(full, BASE_BLOCK * pcm.channels)
            body.min(axis=1, out=base_min[first : first + full])
            body.max(axis=1, out=base_max[first : first + full])
        if count % BASE_BLOCK:  # the file's last, shorter block
            tail = samples[full * BASE_BLOCK :]
            base_min[first + full] = tail.min()
            base_max[first + full] = tail.max()
    return WaveformPeaks(base_min, base_max, pcm.sample_rate, pcm.frames)


def cached_peaks(pcm: PcmFile, cache: StageCache, audio_sha256: str) -> WaveformPeaks:
    """`build_peaks(pcm)` through the stage cache, keyed by the source audio's content hash.

    Only plain arrays are stored (`.npy` read with allow_pickle=False, and a JSON sidecar).
    """
    key = cache_key(
        "peaks",
        {"sha256": audio_sha256, "rate": pcm.sample_rate, "channels": pcm.channels, "block": BASE_BLOCK},
    )

    def write(folder: Path) -> None:
        peaks = build_peaks(pcm)
        base_min, base_max = peaks.base_level()
        np.save(folder / _MIN_FILE, base_min, allow_pickle=False)
        np.save(folder / _MAX_FILE, base_max, allow_pickle=False)
        (folder / _INFO_FILE).write_text(json.dumps({"frames": peaks.frames, "rate": peaks.sample_rate}))

    folder = cache.get_or_create(key, write)
    info = json.loads((folder / _INFO_FILE).read_text())
    return WaveformPeaks(
        np.load(folder / _MIN_FILE, allow_pickle=False),
        np.load(folder / _MAX_FILE, allow_pickle=False),
        int(info["rate"]),
        int(info["frames"]),
    )
