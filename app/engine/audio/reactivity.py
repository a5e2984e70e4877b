"""The per-frame envelope that drives audio-reactive motion: onset strength under each frame of an act."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def act_envelope(
    onset_envelope: np.ndarray,
    envelope_rate: float,
    audio_start_s: float,
    act_start_frame: int,
    length: int,
    fps: Fraction,
    release_frames: int,
) -> np.ndarray:
    """Onset strength (0..1) for each of an act's `length` frames.

    `onset_envelope` is sampled at `envelope_rate` Hz from the start of the audio file, which plays from
    timeline second `audio_start_s` (its offset minus its in-point). Each frame takes the strongest onset
    since the previous frame (so a hit between frames is never lost), then hits decay linearly over
    `release_frames` frames instead of stopping dead: the motion breathes with the music.
    """
    frame_s = 1.0 / float(fps)
    times = (act_start_frame + np.arange(length + 1)) * frame_s - audio_start_s
    bounds = np.clip(np.round(times * envelope_rate).astype(np.int64), 0, len(onset_envelope))
    envelope = np.zeros(length, dtype=np.float32)
    for i in range(length):
        low, high = bounds[i], max(bounds[i + 1], bounds[i] + 1)
        window = onset_envelope[low:high]
        envelope[i] = float(window.max()) if window.size else 0.0
    if release_frames > 0:
        decay = 1.0 / (release_frames + 1)
        for i in range(1, length):
            envelope[i] = max(envelope[i], envelope[i - 1] - decay)
    return np.clip(envelope, 0.0, 1.0)
