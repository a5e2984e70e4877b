"""Synthetic audio for the audio engine tests: WAV writing and a drum pattern with known beats."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Bass roots (Hz) cycled one per bar: A1, F1, C2, G1.
_BASS_ROOTS_HZ = (55.0, 43.65, 65.41, 49.0)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples shaped (channels, n) or (n,) in [-1, 1] as 16-bit PCM WAV; returns `path`."""
    block = np.atleast_2d(samples)
    pcm = np.round(np.clip(block, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(block.shape[0])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.T.tobytes())
    return path


def as_int16_levels(samples: np.ndarray) -> np.ndarray:
    """What `write_wav` stores, read back as floats: the reference for decode tests."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767) / 32768


def tone(freq_hz: float, duration_s: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A sine of `duration_s` seconds, shape (n,), float64."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


@dataclass(frozen=True)
class DrumTrack:
    """A mono synthetic song and where its beats really are (seconds)."""

    samples: np.ndarray  # (n,) float64 in [-1, 1]
    sample_rate: int
    beats: np.ndarray
    downbeats: np.ndarray


def drum_track(
    bpm: float, duration_s: float, sample_rate: int = 22050, lead_in_s: float = 0.3, seed: int = 0
) -> DrumTrack:
    """A 4/4 groove: kick on 1 and 3, snare on 2 and 4, hi-hats on eighths, a bass note and chord per bar.

    The bass note starting each bar is what tells beat 1 from beat 3 (both have a kick), as in real music.
    """
    return groove(steady_beats(bpm, duration_s, lead_in_s), duration_s, sample_rate=sample_rate, seed=seed)


def steady_beats(bpm: float, duration_s: float, lead_in_s: float = 0.3) -> np.ndarray:
    """Beat times (seconds) at a constant tempo from `lead_in_s` until half a beat before the end."""
    beat_s = 60.0 / bpm
    return np.arange(lead_in_s, duration_s - beat_s / 2, beat_s)


def ramp_beats(start_bpm: float, end_bpm: float, duration_s: float, lead_in_s: float = 0.3) -> np.ndarray:
    """Beat times (seconds) whose tempo changes linearly in time from `start_bpm` to `end_bpm`."""
    times = [lead_in_s]
    while True:
        bpm = start_bpm + (end_bpm - start_bpm) * times[-1] / duration_s
        following = times[-1] + 60.0 / bpm
        if following > duration_s - 30.0 / bpm:
            return np.array(times)
        times.append(following)


def groove(
    beats: np.ndarray,
    duration_s: float,
    sample_rate: int = 22050,
    meter: int = 4,
    swing: float = 0.5,
    quiet_intro_beats: int = 0,
    snr_db: float | None = None,
    transpose: float = 1.0,
    seed: int = 0,
) -> DrumTrack:
    """Drums, bass and chords on the given beat times (seconds).

    Kick on beat 1 (and 3 in 4/4), snare on the others, hi-hats on the beats and on the off-beat eighth at
    `swing` of the way to the next beat (0.5 straight, ~0.67 shuffled). A bass note and a chord start every
    bar; the bass is what tells beat 1 from the other kicks, as in real music. The first `quiet_intro_beats`
    beats hold only soft hi-hats and chords. `transpose` scales every pitch. `snr_db` adds white noise at
    that signal-to-noise ratio.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate)
    song = np.zeros(n)

    def add(at_s: float, sound: np.ndarray) -> None:
        first = round(at_s * sample_rate)
        stop = min(n, first + sound.size)
        if stop > first:
            song[first:stop] += sound[: stop - first]

    def decay(length_s: float, tau_s: float) -> np.ndarray:
        return np.exp(-np.arange(round(length_s * sample_rate)) / (tau_s * sample_rate))

    t_kick = np.arange(round(0.2 * sample_rate)) / sample_rate
    kick_phase = 2 * np.pi * (45 * t_kick + (120 - 45) * 0.03 * (1 - np.exp(-t_kick / 0.03)))
    kick = 0.8 * np.sin(kick_phase) * decay(0.2, 0.06)
    snare_noise = np.diff(rng.standard_normal(round(0.18 * sample_rate) + 1))
    snare_body = 0.3 * np.sin(2 * np.pi * 190 * t_kick[: snare_noise.size])
    snare = (0.25 * snare_noise + snare_body) * decay(0.18, 0.05)
    hat = 0.08 * np.diff(np.diff(rng.standard_normal(round(0.05 * sample_rate) + 2))) * decay(0.05, 0.01)

    intervals = np.diff(beats)
    for index, at_s in enumerate(beats):
        beat_s = float(intervals[min(index, intervals.size - 1)]) if intervals.size else duration_s
        quiet = index < quiet_intro_beats
        in_bar = index % meter
        if not quiet:
            add(at_s, kick if in_bar == 0 or (meter == 4 and in_bar == 2) else snare)
        add(at_s, hat * (0.3 if quiet else 1.0))
        add(at_s + swing * beat_s, hat * (0.3 if quiet else 1.0))
        if in_bar == 0:
            bar = index // meter
            root = transpose * _BASS_ROOTS_HZ[bar % len(_BASS_ROOTS_HZ)]
            bar_s = min(meter * beat_s, duration_s - at_s)
            attack = np.minimum(1.0, np.arange(round(bar_s * sample_rate)) / (0.005 * sample_rate))
            body = attack * (0.4 + 0.6 * decay(bar_s, 0.3))
            if not quiet:
                add(at_s, tone(root, bar_s, sample_rate, 0.3) * body)
            swell = np.minimum(1.0, np.arange(body.size) / (0.03 * sample_rate))
            for ratio in (4.0, 5.0, 6.0):  # a major triad two octaves above the root
                add(at_s, tone(root * ratio, bar_s, sample_rate, 0.05) * swell)
    if snr_db is not None:
        noise = rng.standard_normal(n)
        song += noise * np.sqrt(np.mean(song**2) / 10 ** (snr_db / 10))
    return DrumTrack(
        samples=np.clip(song, -1.0, 1.0), sample_rate=sample_rate, beats=beats, downbeats=beats[::meter]
    )


def verse_chorus_verse(part_s: float = 16.0, bpm: float = 120.0, sample_rate: int = 22050) -> DrumTrack:
    """Three parts of `part_s` seconds: a full groove, a quiet drumless part a fifth higher, the groove again.

    Beats run on one grid through all three parts; the true section boundaries are at part_s and 2 * part_s.
    """
    beats = steady_beats(bpm, 3 * part_s)
    per_part = round(part_s * bpm / 60)
    verse = groove(beats[:per_part], part_s, sample_rate, seed=1)
    chorus = groove(beats[:per_part], part_s, sample_rate, quiet_intro_beats=per_part, transpose=1.5, seed=2)
    samples = np.concatenate([verse.samples, chorus.samples, verse.samples])
    return DrumTrack(samples=samples, sample_rate=sample_rate, beats=beats, downbeats=beats[::4])


def matched_fraction(reference: np.ndarray, estimated: np.ndarray, tolerance_s: float) -> float:
    """Fraction of `reference` times matched one-to-one by an `estimated` time within ±tolerance_s.

    mir_eval's F-measure matching, greedily by distance: with beats far apart relative to the tolerance the
    greedy matching is the maximum one.
    """
    if reference.size == 0:
        return 1.0
    distances = np.abs(reference[:, None] - estimated[None, :])
    pairs = sorted(zip(*np.nonzero(distances <= tolerance_s), strict=True), key=lambda rc: distances[rc])
    used_ref: set[int] = set()
    used_est: set[int] = set()
    for ref_index, est_index in pairs:
        if ref_index not in used_ref and est_index not in used_est:
            used_ref.add(int(ref_index))
            used_est.add(int(est_index))
    return len(used_ref) / reference.size
