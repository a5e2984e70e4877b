"""What a track sounds like beyond its beats: bars and meter, onsets, onset and loudness envelopes, sections.

All functions work on the spectral `Features` computed once per track by `compute_features`; frame `i` is
at `i * hop / rate` seconds.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import librosa
import numpy as np

N_FFT = 2048  # samples per spectrum (~93 ms at 22.05 kHz)
LEAD_PAD_FRAMES = 4  # frames of silence put before the audio
KICK_MAX_HZ = 150.0  # kick drums and bass notes live below this
HARMONY_MIN_BEATS = 10  # below this some phase of the bar has no measurable chord change
CHORD_WINDOW_BEATS = 2  # chord changes are judged between the half bars before and after a beat
METERS = (4, 3)  # candidates, the default first
TRIPLE_METER_MARGIN = 1.15  # 3/4 must explain the bar cues this much better than 4/4 to be chosen
ENERGY_FLOOR_DB = -40.0  # loudness below the track's loudest frame by this much maps to 0
SECTION_TARGET_S = 12.0  # about one section boundary per this many seconds
MAX_SECTIONS = 12
MIN_SECTION_BEATS = 8  # a section needs at least this many beats (two bars)
CHROMA_WEIGHT = 0.5  # harmony changes every bar or two; timbre and loudness mark sections more
SAME_LABEL_DISTANCE = 0.8  # RMS difference (in standard deviations) of two sections' means for one label


@dataclass(frozen=True)
class SectionInfo:
    """A part of the song from `start` to `end` seconds; parts that sound alike share a `label` ("A", "B",
    …); `energy` is its mean loudness on the BeatAnalysis.energy scale (0..1)."""

    start: float
    end: float
    label: str
    energy: float


@dataclass(frozen=True)
class Features:
    """Per-frame spectral features of one track (columns are frames)."""

    rate: int  # Hz
    hop: int  # samples per frame
    onset_envelope: np.ndarray  # (frames,) mel magnitude flux, unnormalised: the beat-carrying accents
    onset_detail: np.ndarray  # (frames,) mel log-power flux: every onset, hi-hats included
    kick_envelope: np.ndarray  # (frames,) spectral flux below KICK_MAX_HZ
    chroma: np.ndarray  # (12, frames)
    mfcc: np.ndarray  # (13, frames)
    energy: np.ndarray  # (frames,) RMS loudness mapped to 0..1


def compute_features(y: np.ndarray, rate: int, hop: int) -> Features:
    """Spectra, envelopes, chroma and timbre of mono samples `y` at `rate` Hz, `hop` samples per frame."""
    # Silence before the start turns an attack at t = 0 into a rise the flux can see; `cut` drops it from
    # every output again, so frame 0 still starts at t = 0.
    padded = np.concatenate([np.zeros(LEAD_PAD_FRAMES * hop, dtype=y.dtype), y])
    magnitude = np.abs(librosa.stft(padded, n_fft=N_FFT, hop_length=hop))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=rate)
    mel_db = librosa.power_to_db(mel)
    # The mel filterbank's band centres are the inner points of n_mels + 2 edges.
    band_centres = librosa.mel_frequencies(n_mels=mel_db.shape[0] + 2, fmax=rate / 2)[1:-1]
    rms = librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0]
    loudness_db = librosa.amplitude_to_db(rms, ref=float(max(rms.max(), 1e-10)))
    cut = slice(LEAD_PAD_FRAMES, None)
    return Features(
        rate=rate,
        hop=hop,
        # Flux of the magnitude (not dB) spectrum weighs events by loudness: kicks and snares stand far above
        # hi-hats and noise, which is what tells the beat level from the eighth notes.
        onset_envelope=librosa.onset.onset_strength(S=np.sqrt(mel), sr=rate)[cut],
        onset_detail=librosa.onset.onset_strength(S=mel_db, sr=rate)[cut],
        kick_envelope=librosa.onset.onset_strength(S=mel_db[band_centres <= KICK_MAX_HZ], sr=rate)[cut],
        # Only chord *changes* matter, so skip librosa's tuning estimate (half the analysis time otherwise).
        chroma=librosa.feature.chroma_stft(S=power, sr=rate, tuning=0.0)[:, cut],
        mfcc=librosa.feature.mfcc(S=mel_db, n_mfcc=13)[:, cut],
        energy=np.clip(1.0 - loudness_db / ENERGY_FLOOR_DB, 0.0, 1.0)[cut],
    )


def find_onsets(features: Features, lag_s: float) -> np.ndarray:
    """Onset times (seconds, sorted), shifted earlier by the envelope's lag `lag_s`."""
    frames = librosa.onset.onset_detect(
        onset_envelope=features.onset_detail, sr=features.rate, hop_length=features.hop
    )
    times = librosa.frames_to_time(frames, sr=features.rate, hop_length=features.hop) - lag_s
    return np.clip(times, 0.0, None)


def bar_structure(features: Features, beat_frames: np.ndarray) -> tuple[int, int]:
    """(meter, phase): beats per bar (3 or 4) and the index of the first beat that starts a bar.

    The bar cues per beat are low-frequency onsets (kick drums, bass notes) and chord changes. A meter
    explains them when one phase of the bar stands out from the others; each cue is scaled to unit spread so
    neither dominates, and a flat cue (a kick on every beat) adds nothing. 4/4 wins unless 3/4 is clearly
    better, since a 4/4 kick on beats 1 and 3 also repeats every two beats.
    """
    cues = [_z(_kick_per_beat(features, beat_frames))]
    if beat_frames.size >= HARMONY_MIN_BEATS:
        cues.append(_z(_chord_change_per_beat(features, beat_frames)))
    cue = np.nansum(cues, axis=0)
    best: dict[int, tuple[float, int]] = {}
    for meter in METERS:
        phases = min(meter, beat_frames.size)
        means = np.array([np.nanmean(cue[p::meter]) for p in range(phases)])
        best[meter] = (float(means.max() - np.nanmean(cue)), int(np.argmax(means)))
    chosen = 3 if best[3][0] > TRIPLE_METER_MARGIN * best[4][0] and beat_frames.size >= 6 else 4
    return chosen, best[chosen][1]


def _kick_per_beat(features: Features, beat_frames: np.ndarray) -> np.ndarray:
    """The low-band onset peak within two frames of each beat."""
    padded = np.pad(features.kick_envelope, 2)
    windows = beat_frames[:, None] + np.arange(5)[None, :]
    return padded[np.clip(windows, 0, padded.size - 1)].max(axis=1)


def _chord_change_per_beat(features: Features, beat_frames: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of the mean chroma over the CHORD_WINDOW_BEATS beats after each beat and the
    ones before it (NaN where a window would run off either end).

    Windows of a half bar, not of one beat: a picked bass or an arpeggio changes notes on every beat while
    the chord holds for the bar, and only the chord changing marks where the bar starts.
    """
    # Column j: mean chroma from beat j to beat j + 1.
    spans = librosa.util.sync(features.chroma, beat_frames.tolist(), aggregate=np.mean, pad=False)
    spans = spans / (np.linalg.norm(spans, axis=0, keepdims=True) + 1e-9)
    window = CHORD_WINDOW_BEATS
    running = np.cumsum(np.pad(spans, ((0, 0), (1, 0))), axis=1)  # running[:, j]: sum of columns < j
    change = np.full(beat_frames.size, np.nan)
    for j in range(window, beat_frames.size - window):
        before = running[:, j] - running[:, j - window]
        after = running[:, j + window] - running[:, j]
        cosine = float(before @ after) / (float(np.linalg.norm(before) * np.linalg.norm(after)) + 1e-9)
        change[j] = 1.0 - cosine
    return change


def _z(values: np.ndarray) -> np.ndarray:
    """`values` minus their mean over their spread (zeros when flat); NaNs stay NaN."""
    spread = float(np.nanstd(values))
    return (values - np.nanmean(values)) / spread if spread > 1e-9 else np.zeros_like(values)


def find_sections(features: Features, beat_frames: np.ndarray, duration_s: float) -> tuple[SectionInfo, ...]:
    """Song sections covering 0..duration_s, with boundaries on beats.

    Beat-synchronous chroma and MFCCs (each row standardised) are clustered into contiguous segments by
    librosa's agglomerative segmentation, about one per SECTION_TARGET_S; segments whose mean features are
    close share a label.
    """
    segment_count = int(np.clip(round(duration_s / SECTION_TARGET_S), 1, MAX_SECTIONS))
    segment_count = min(segment_count, max(1, beat_frames.size // MIN_SECTION_BEATS))
    boundaries_frames = [0]
    if segment_count > 1:
        stacked = np.vstack([CHROMA_WEIGHT * _standardise(features.chroma), _standardise(features.mfcc)])
        # Column j spans beat j to beat j + 1; the first section also takes in anything before beat 0.
        synced = librosa.util.sync(stacked, beat_frames.tolist(), aggregate=np.mean, pad=False)
        starts = librosa.segment.agglomerative(synced, segment_count)
        boundaries_frames = [0] + [int(beat_frames[j]) for j in starts[1:]]
        stacked_means = [stacked[:, a:b].mean(axis=1) for a, b in _spans(boundaries_frames, stacked.shape[1])]
    else:
        stacked_means = [np.ones(1)]
    total = features.energy.size
    labels = _labels(stacked_means)
    sections: list[SectionInfo] = []
    for (first, stop), label in zip(_spans(boundaries_frames, total), labels, strict=True):
        if sections and sections[-1].label == label:
            # Neighbours that sound alike are one section; recompute its energy over the whole span.
            first = round(sections.pop().start * features.rate / features.hop)
        start_s = first * features.hop / features.rate
        end_s = duration_s if stop >= total else stop * features.hop / features.rate
        sections.append(
            SectionInfo(start_s, end_s, label, round(float(features.energy[first:stop].mean()), 4))
        )
    return tuple(sections)


def _standardise(rows: np.ndarray) -> np.ndarray:
    return (rows - rows.mean(axis=1, keepdims=True)) / (rows.std(axis=1, keepdims=True) + 1e-9)


def _spans(starts: list[int], total: int) -> list[tuple[int, int]]:
    return list(zip(starts, [*starts[1:], total], strict=True))


def _labels(means: list[np.ndarray]) -> list[str]:
    """A letter per segment: the first earlier label whose mean features are close enough, else the next.

    Features are standardised, so the RMS difference of two means is in units of the track's spread.
    """
    prototypes: list[np.ndarray] = []
    labels = []
    for mean in means:
        distances = [float(np.sqrt(np.mean((mean - p) ** 2))) for p in prototypes]
        if distances and min(distances) <= SAME_LABEL_DISTANCE:
            labels.append(string.ascii_uppercase[int(np.argmin(distances))])
        elif len(prototypes) < len(string.ascii_uppercase):
            prototypes.append(mean)
            labels.append(string.ascii_uppercase[len(prototypes) - 1])
        else:
            labels.append(string.ascii_uppercase[-1])
    return labels
