"""The export mixer: audio clips placed on the timeline, summed chunk by chunk with gain and fades."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.engine.audio.decode import PcmFile


@dataclass(frozen=True)
class MixClip:
    """One audio clip on the export timeline; every time is in seconds.

    `start_s` is the timeline position of the clip's first sample (may be negative: the head is cut off),
    `in_s` the offset into the source, `duration_s` how much of the source plays (None: to its end; never
    past it). Fades are linear, over the clip's first `fade_in_s` and last `fade_out_s`.
    """

    pcm: PcmFile
    start_s: float
    in_s: float = 0.0
    duration_s: float | None = None
    gain_db: float = 0.0
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("start_s", "in_s", "gain_db", "fade_in_s", "fade_out_s"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"MixClip.{name} must be a finite number, got {getattr(self, name)}")
        for name in ("in_s", "fade_in_s", "fade_out_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"MixClip.{name} must be >= 0 seconds, got {getattr(self, name)}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise ValueError(f"MixClip.duration_s must be None or >= 0 seconds, got {self.duration_s}")


@dataclass(frozen=True)
class _PlacedClip:
    """A MixClip converted to sample frames at the mixer's rate."""

    pcm: PcmFile
    start: int  # timeline frame of the clip's first sample
    source_start: int  # source frame played at `start`
    length: int  # frames that play
    gain: float  # linear amplitude factor
    fade_in: int  # frames
    fade_out: int  # frames

    @classmethod
    def from_clip(cls, clip: MixClip, sample_rate: int) -> _PlacedClip:
        source_start = round(clip.in_s * sample_rate)
        available = max(0, clip.pcm.frames - source_start)
        length = (
            available if clip.duration_s is None else min(round(clip.duration_s * sample_rate), available)
        )
        return cls(
            pcm=clip.pcm,
            start=round(clip.start_s * sample_rate),
            source_start=source_start,
            length=length,
            gain=10.0 ** (clip.gain_db / 20.0),
            fade_in=round(clip.fade_in_s * sample_rate),
            fade_out=round(clip.fade_out_s * sample_rate),
        )

    def envelope(self, first: int, count: int) -> np.ndarray:
        """Gain for clip-relative frames [first, first + count) as float32, fades included.

        The fade-in rises from 0 at the clip's first frame (k / fade_in); the fade-out mirrors it, reaching
        0 at the last frame. Where the two overlap the lower one wins.
        """
        k = np.arange(first, first + count, dtype=np.float64)
        env = np.ones(count, dtype=np.float64)
        if self.fade_in:
            np.minimum(env, k / self.fade_in, out=env)
        if self.fade_out:
            np.minimum(env, (self.length - 1 - k) / self.fade_out, out=env)
        return (env * self.gain).astype(np.float32)


class AudioMixer:
    """Sums MixClips into the export's audio, one range of timeline frames at a time.

    All clips must share the mixer's sample rate and channel count; memory per call is proportional to the
    requested range, not to the length of the timeline.
    """

    def __init__(self, clips: Sequence[MixClip], sample_rate: int = 48000, channels: int = 2) -> None:
        for clip in clips:
            if clip.pcm.sample_rate != sample_rate or clip.pcm.channels != channels:
                raise ValueError(
                    f"{clip.pcm.path}: audio is {clip.pcm.sample_rate} Hz / {clip.pcm.channels} channels, "
                    f"the mixer needs {sample_rate} Hz / {channels} channels"
                )
        self.sample_rate = sample_rate
        self.channels = channels
        self._clips = tuple(_PlacedClip.from_clip(clip, sample_rate) for clip in clips)

    def render(self, start: int, count: int) -> np.ndarray:
        """Timeline frames [start, start + count) mixed, as float32 shaped (count, channels).

        The sum is clipped to [-1, 1]; frames where no clip plays are silent; `start` may be negative.
        """
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        out = np.zeros((count, self.channels), dtype=np.float32)
        for clip in self._clips:
            first = max(start, clip.start)
            stop = min(start + count, clip.start + clip.length)
            if stop <= first:
                continue
            offset = first - clip.start
            samples = clip.pcm.read(clip.source_start + offset, stop - first)
            out[first - start : stop - start] += samples * clip.envelope(offset, stop - first)[:, None]
        np.clip(out, -1.0, 1.0, out=out)
        return out
