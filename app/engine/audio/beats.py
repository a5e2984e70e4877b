"""Beat, tempo and downbeat analysis of a music file, precise enough to place cuts on.

librosa's first call in a process compiles its numba kernels (~15–20 s); run it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np

from app.engine.audio.decode import decode_audio
from app.errors import InputError

ANALYSIS_RATE = 22050  # Hz; plenty for onsets and 2x cheaper than 44.1 kHz
N_FFT = 2048  # samples per spectrum (~93 ms)
HOP = 512  # samples per onset-envelope frame (~23 ms)
MIN_DURATION_S = 2.0  # holds two beats at any tempo from 30 BPM up; shorter clips give no usable tempo
SILENCE_DBFS = -60.0  # RMS below this is treated as silence
BEATS_PER_BAR = 4  # downbeats assume 4/4
KICK_MAX_HZ = 150.0  # kick drums and bass notes live below this
KICK_WINDOW = 2  # onset frames either side of a beat searched for its kick (beats may sit a frame early/late)
HARMONY_MIN_BEATS = 10  # below this some phase of the bar has no measurable chord change
INLIER_TOLERANCE = 0.1  # intervals within ±10 % of the median count towards the tempo


@dataclass(frozen=True)
class BeatAnalysis:
    """Beats of a track: `tempo` in BPM; `beats`, `downbeats` (sorted) and `duration_s` in seconds."""

    tempo: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    duration_s: float


def analyze_beats(path: Path) -> BeatAnalysis:
    """Find the beats, tempo and (4/4) downbeats of the audio file at `path`.

    Raises MediaError when the file is not decodable audio, and InputError naming the file when it is silent,
    shorter than MIN_DURATION_S or has fewer than two beats.
    """
    samples, rate = decode_audio(path, sample_rate=ANALYSIS_RATE, mono=True)
    y = samples[0]
    duration_s = y.size / rate
    if duration_s < MIN_DURATION_S:
        raise InputError(
            f"{path}: audio is {duration_s:.2f} s long, beat analysis needs at least {MIN_DURATION_S:.0f} s"
        )
    rms_dbfs = 10.0 * np.log10(max(float(np.mean(np.square(y, dtype=np.float64))), 1e-20))
    if rms_dbfs < SILENCE_DBFS:
        raise InputError(f"{path}: audio is silent (RMS {rms_dbfs:.0f} dBFS), no beats to find")

    power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=rate))
    onset_envelope = librosa.onset.onset_strength(S=mel_db, sr=rate)
    _, beat_frames = librosa.beat.beat_track(onset_envelope=onset_envelope, sr=rate, hop_length=HOP)
    beat_frames = np.asarray(beat_frames, dtype=np.int64)
    if beat_frames.size < 2:
        raise InputError(f"{path}: found {beat_frames.size} beat(s), need at least 2 (no steady pulse?)")
    beat_times = librosa.frames_to_time(beat_frames, sr=rate, hop_length=HOP)

    # The mel filterbank's band centres are the inner points of n_mels + 2 edges.
    band_centres = librosa.mel_frequencies(n_mels=mel_db.shape[0] + 2, fmax=rate / 2)[1:-1]
    low_bands = band_centres <= KICK_MAX_HZ
    kick_envelope = librosa.onset.onset_strength(S=mel_db[low_bands], sr=rate)
    # Only chord *changes* matter, so skip librosa's tuning estimate (half the analysis time otherwise).
    chroma = librosa.feature.chroma_stft(S=power, sr=rate, tuning=0.0)
    phase = _downbeat_phase(kick_envelope, chroma, beat_frames)
    return BeatAnalysis(
        tempo=_tempo_from_beats(beat_times),
        beats=tuple(float(t) for t in beat_times),
        downbeats=tuple(float(t) for t in beat_times[phase::BEATS_PER_BAR]),
        duration_s=duration_s,
    )


def _tempo_from_beats(beat_times: np.ndarray) -> float:
    """BPM from the beat spacing, rounded to 0.1.

    Each interval is quantised to whole onset frames (~23 ms), so a single median interval can be off by
    several percent; the mean of the intervals near the median averages that out while still ignoring
    dropped or doubled beats.
    """
    intervals = np.diff(beat_times)
    median = float(np.median(intervals))
    inliers = intervals[np.abs(intervals - median) <= INLIER_TOLERANCE * median]
    return round(60.0 / float(np.mean(inliers)), 1)


def _downbeat_phase(kick_envelope: np.ndarray, chroma: np.ndarray, beat_frames: np.ndarray) -> int:
    """Which beat of the bar (0..3) starts the bars.

    The main cue is low-frequency onset energy (kick drums), but a kick on beats 1 and 3 — the commonest
    pattern — leaves 1 and 3 within a few percent of each other, so chord changes (beat-to-beat chroma
    change) break the tie. Each cue votes with its share per phase, so a cue that is flat across the bar
    (drums only, or a kick on every beat) does not sway the other.
    """
    phases = min(BEATS_PER_BAR, beat_frames.size)
    padded = np.pad(kick_envelope, KICK_WINDOW)
    # Indices into `padded`: beat frame f covers original frames f-KICK_WINDOW .. f+KICK_WINDOW.
    windows = beat_frames[:, None] + np.arange(2 * KICK_WINDOW + 1)[None, :]
    kick_per_beat = padded[np.clip(windows, 0, padded.size - 1)].max(axis=1)
    score = _shares(np.array([kick_per_beat[p::BEATS_PER_BAR].mean() for p in range(phases)]))
    if beat_frames.size >= HARMONY_MIN_BEATS:
        # Column j: mean chroma from beat j to beat j + 1, as a unit vector.
        spans = librosa.util.sync(chroma, beat_frames.tolist(), aggregate=np.mean, pad=False)
        spans /= np.linalg.norm(spans, axis=0, keepdims=True) + 1e-9
        change = np.full(beat_frames.size, np.nan)  # undefined for the first and last beat
        change[1:-1] = 1.0 - np.sum(spans[:, 1:] * spans[:, :-1], axis=0)
        score += _shares(np.array([np.nanmean(change[p::BEATS_PER_BAR]) for p in range(phases)]))
    return int(np.argmax(score))


def _shares(values: np.ndarray) -> np.ndarray:
    """`values` as fractions of their sum (all zero when the sum is not positive)."""
    total = float(values.sum())
    return values / total if total > 0 else np.zeros_like(values)
