"""Decoding audio files with PyAV, and raw PCM copies on disk that the exporter reads range by range.

Every decoder path goes through `_decoded_blocks`, so probing, whole-file decoding and the streaming `PcmFile`
conversion agree on lengths, channel mapping and what happens to a damaged tail.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import av.audio.stream
import av.container
import numpy as np

from app.errors import MediaError

_log = logging.getLogger(__name__)

#: On-disk sample type of a PcmFile: little-endian float32, interleaved frames.
_PCM_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds: its native rate (Hz), channel count and decodable length (seconds)."""

    path: Path
    sample_rate: int
    channels: int
    duration_s: float


def probe_audio(path: Path) -> AudioInfo:
    """Describe the first audio stream of `path`.

    The duration counts the samples that actually decode (the whole file is decoded, streaming), because
    container headers lie for VBR MP3s and truncated files. Raises MediaError naming the file when it is
    missing, not audio, or holds no decodable samples.
    """
    with open_audio(path) as (container, stream):
        sample_rate = stream.codec_context.sample_rate
        channels = stream.codec_context.channels
        samples = sum(frame.samples for frame in _decoded_frames(path, container, stream))
    if samples == 0:
        raise MediaError(f"{path}: no decodable audio samples (empty or damaged file)")
    return AudioInfo(path=path, sample_rate=sample_rate, channels=channels, duration_s=samples / sample_rate)


def decode_audio(path: Path, sample_rate: int | None = None, mono: bool = False) -> tuple[np.ndarray, int]:
    """Decode the whole first audio stream of `path`.

    Returns (samples, rate): float32 samples shaped (channels, n) in [-1, 1] and their rate in Hz. With
    `sample_rate` the audio is resampled to it (n = round(source_samples * sample_rate / source_rate));
    `mono` averages the channels into shape (1, n). A damaged tail is dropped and what decoded before it is
    kept. Raises MediaError naming the file when it is missing, not audio, or holds no decodable samples.
    """
    _check_rate(sample_rate)
    with open_audio(path) as (container, stream):
        rate = sample_rate or stream.codec_context.sample_rate
        blocks = list(_decoded_blocks(path, container, stream, rate, 1 if mono else None))
    if not blocks:
        raise MediaError(f"{path}: no decodable audio samples (empty or damaged file)")
    return np.concatenate(blocks, axis=1), rate


class PcmFile:
    """Audio at a fixed rate and channel count, stored as raw interleaved little-endian float32 on disk.

    Reads seek and copy only the requested range (no mmap), so the exporter's memory stays flat however long
    the audio is. Positions and counts are in sample frames (one sample per channel).
    """

    def __init__(self, path: Path, sample_rate: int = 48000, channels: int = 2) -> None:
        _check_rate(sample_rate)
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if not path.is_file():
            raise MediaError(f"{path}: PCM audio file not found")
        frame_bytes = _PCM_DTYPE.itemsize * channels
        size = path.stat().st_size
        if size % frame_bytes:
            raise MediaError(f"{path}: not a {channels}-channel float32 PCM file (size {size} bytes)")
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self._frame_bytes = frame_bytes
        self._frames = size // frame_bytes

    @classmethod
    def create(cls, src: Path, dest: Path, sample_rate: int = 48000, channels: int = 2) -> PcmFile:
        """Decode `src` chunk by chunk into a PcmFile at `dest` (written to a temporary name, then renamed).

        Mono sources are copied to every channel, a mono target averages the source channels, and other
        channel-count changes use FFmpeg's standard downmix/upmix. Raises MediaError naming `src` when it is
        not decodable audio; `dest` is then left untouched.
        """
        _check_rate(sample_rate)
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, open_audio(src) as (container, stream):
                frames = 0
                for block in _decoded_blocks(src, container, stream, sample_rate, channels):
                    np.ascontiguousarray(block.T, dtype=_PCM_DTYPE).tofile(out)
                    frames += block.shape[1]
                if frames == 0:
                    raise MediaError(f"{src}: no decodable audio samples (empty or damaged file)")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, dest)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return cls(dest, sample_rate, channels)

    @property
    def frames(self) -> int:
        """Length in sample frames."""
        return self._frames

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self._frames / self.sample_rate

    def read(self, start: int, count: int) -> np.ndarray:
        """Sample frames [start, start + count) as float32 shaped (count, channels).

        Frames before 0 or past the end read as silence, so callers need not clamp (`start` may be negative).
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        out = np.zeros((count, self.channels), dtype=np.float32)
        first = max(start, 0)
        stop = min(start + count, self._frames)
        if stop <= first:
            return out
        with self.path.open("rb") as f:
            f.seek(first * self._frame_bytes)
            data = np.fromfile(f, dtype=_PCM_DTYPE, count=(stop - first) * self.channels)
        # A file shortened behind our back yields fewer values; the rest stays silent instead of raising.
        read_frames = data.size // self.channels
        out[first - start : first - start + read_frames] = data[: read_frames * self.channels].reshape(
            read_frames, self.channels
        )
        return out


def _check_rate(sample_rate: int | None) -> None:
    if sample_rate is not None and sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")


@contextmanager
def open_audio(path: Path) -> Iterator[tuple[av.container.InputContainer, av.audio.stream.AudioStream]]:
    """Open `path` and yield its first audio stream, turning every way it can fail into one MediaError."""
    if not path.exists():
        raise MediaError(f"{path}: audio file not found")
    if not path.is_file():
        raise MediaError(f"{path}: is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file, expected audio")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: not an audio file (it could not be opened as audio)") from exc
    try:
        if not container.streams.audio:
            raise MediaError(f"{path}: not an audio file (it holds no sound)")
        stream = container.streams.audio[0]
        if stream.codec_context.sample_rate <= 0 or stream.codec_context.channels <= 0:
            raise MediaError(f"{path}: audio stream has no sample rate or channels")
        yield container, stream
    finally:
        container.close()


def _decoded_frames(
    path: Path, container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> Iterator[av.AudioFrame]:
    """Yield the decoded frames of `stream`, stopping quietly at the first damaged packet."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        # A truncated download or a broken tail: what decoded so far is still useful audio.
        _log.warning("%s: decoding stopped early (%s); keeping the audio before it", path, exc)


def _decoded_blocks(
    path: Path,
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    sample_rate: int,
    channels: int | None,
) -> Iterator[np.ndarray]:
    """Yield float32 blocks shaped (channels, n) in [-1, 1] at `sample_rate`.

    `channels` None keeps the source channels. The blocks add up to exactly
    round(source_samples * sample_rate / source_rate) frames, so lengths do not depend on the resampler's
    internal buffering.
    """
    source_rate = stream.codec_context.sample_rate
    source_channels = stream.codec_context.channels
    # FFmpeg's own mono up/downmix scales by -3 dB; averaging and copying keep levels where users expect them.
    layout = None
    if channels is not None and channels not in (1, source_channels) and source_channels != 1:
        layout = av.AudioLayout({2: "stereo"}.get(channels, f"{channels} channels"))
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)

    source_samples = 0
    emitted = 0

    def finish(frame: av.AudioFrame) -> np.ndarray:
        nonlocal emitted
        block: np.ndarray = frame.to_ndarray()
        # Never emit more than the input so far covers, so the total cannot overshoot the exact length.
        block = block[:, : max(0, round(source_samples * sample_rate / source_rate) - emitted)]
        if channels == 1 and block.shape[0] > 1:
            block = block.mean(axis=0, keepdims=True)
        elif channels is not None and block.shape[0] == 1 < channels:
            block = np.repeat(block, channels, axis=0)
        emitted += block.shape[1]
        return np.clip(block, -1.0, 1.0).astype(np.float32, copy=False)

    for frame in _decoded_frames(path, container, stream):
        source_samples += frame.samples
        for out in resampler.resample(frame):
            if (block := finish(out)).shape[1]:
                yield block
    if source_samples == 0:
        return
    for out in resampler.resample(None):
        if (block := finish(out)).shape[1]:
            yield block
    missing = round(source_samples * sample_rate / source_rate) - emitted
    if missing > 0:
        yield np.zeros((channels or source_channels, missing), dtype=np.float32)
