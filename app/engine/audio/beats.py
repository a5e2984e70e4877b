"""Beat, tempo and downbeat analysis of a music file, precise enough to place cuts on.

The pipeline: a mel spectral-flux onset envelope; a local tempo per frame (tempogram) that follows gradual
tempo changes; librosa's dynamic-programming beat tracker driven by that local tempo; a choice of metrical
level (half / same / double) from where the strong onsets fall; the grid extended over weak first and last
beats; and a constant shift that removes the envelope's lag. Bars, onsets, envelopes and sections come from
`app.engine.audio.analysis`.

librosa's first call in a process compiles its numba kernels (~15–20 s): call `warm_up()` off the GUI thread.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import scipy.ndimage

from app.engine.audio.analysis import (
    Features,
    SectionInfo,
    bar_structure,
    compute_features,
    find_onsets,
    find_sections,
)
from app.engine.audio.decode import decode_audio
from app.engine.cache import StageCache, cache_key
from app.errors import InputError

ANALYSIS_RATE = 22050  # Hz; plenty for onsets and 2x cheaper than 44.1 kHz
HOP = 512  # samples per onset-envelope frame (~23 ms)
MIN_DURATION_S = 2.0  # holds two beats at any tempo from 30 BPM up; shorter clips give no usable tempo
SILENCE_DBFS = -60.0  # RMS below this is treated as silence
INLIER_TOLERANCE = 0.1  # intervals within ±10 % of their local median count towards the tempo
TEMPO_MEDIAN_BEATS = 9  # beats in that local median
LOCAL_TEMPO_SMOOTHING_S = 6.0  # median filter on the per-frame tempo: follows ramps, ignores single bars
PEAK_RADIUS = 2  # onset frames either side of a time searched for its onset peak (~±46 ms)
PREFERRED_BPM = (90.0, 160.0)  # the metrical level listeners usually tap, all else being equal
WEAK_LEVEL_RATIO = 0.5  # beats (or mid-beats) below this share of the strong ones are not a metrical level
EDGE_PERIOD_BEATS = 8  # the grid is continued at the median period of this many edge beats
EDGE_BEAT_RATIO = 0.1  # an extrapolated edge beat's onset reaches this share of the median beat's
EDGE_PEAK_OVER_MEDIAN = 3.0  # ... and this multiple of the envelope's median over the beat around it
MIN_PULSE_CONTRAST = 1.3  # beats must carry at least this times the envelope's mean, else there is no pulse
# The tactus: tempo ratios (of the tempogram's tempo) tried as the beat, the range a beat may have, and how
# a level is scored (bench/bench_beats.py measures the choice on drum grooves and sampled arrangements).
TACTUS_RATIOS = (1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0)
TACTUS_BPM = (40.0, 240.0)
TACTUS_PREFERRED_BPM = 120.0  # the centre of the tempo preference …
TACTUS_SPREAD_OCTAVES = 0.8  # … and its width (one standard deviation, in octaves)
ONSET_WEIGHT = 2.0
HARMONY_WEIGHT = 1.0
BAR_WEIGHT = 4.0  # times the onset envelope's autocorrelation one bar (3 or 4 beats) later
METER_BEATS = (3, 4)
BAR_LAG_RADIUS = 2  # frames searched either side of a bar's lag
OWN_LEVEL_BONUS = 1.0  # in score units: the tracker's own level is kept unless another is clearly better
MIN_TACTUS_BEATS = 4
HARMONY_WINDOW_FRAMES = 8  # ~190 ms of chroma either side of a frame when looking for a chord change
#: Seconds the onset envelope's peaks trail the attacks, measured on the synthetic corpus (bench_beats.py).
ENVELOPE_LAG_S = 0.044
#: Bump when the analysis changes, so cached results computed the old way stop matching.
ANALYSIS_VERSION = 6
CACHE_FILE = "beats.json"
#: Half or double levels outside this range (BPM) are no tempo a listener taps; the document holds <= 400.
ALTERNATIVE_BPM = (20.0, 400.0)


@dataclass(frozen=True)
class MetricalLevel:
    """The beat grid at another metrical level than the chosen one, for a listener who taps that one.

    `name` is "half" (every other beat) or "double" (a beat between each two); times are seconds, `tempo`
    BPM, `meter` beats per bar, `downbeats` the beats that start a bar.
    """

    name: str
    tempo: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    meter: int


@dataclass(frozen=True)
class BeatAnalysis:
    """Beats, bars and the shape of a track. Times are seconds from the start of the audio.

    `tempo` is BPM to 0.1 from the inter-beat intervals; `tempo_curve` the local BPM of each beat's interval
    (aligned with `beats`). `meter` is beats per bar (3 or 4); `downbeats` are the beats that start a bar.
    `onset_envelope` (onset strength) and `energy` (RMS loudness, -40..0 dB of the track's loudest frame
    mapped to 0..1) are sampled at `envelope_rate` Hz from t = 0. `sections` are self-similar parts in
    order, covering the whole track. `alternatives` are the grids at half and double tempo (either may be
    missing), so the editor can switch when the chosen level is not the one a listener taps.
    """

    tempo: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    duration_s: float
    meter: int = 4
    onsets: tuple[float, ...] = ()
    envelope_rate: float = ANALYSIS_RATE / HOP
    onset_envelope: tuple[float, ...] = ()
    energy: tuple[float, ...] = ()
    sections: tuple[SectionInfo, ...] = ()
    tempo_curve: tuple[float, ...] = ()
    alternatives: tuple[MetricalLevel, ...] = ()

    def to_json(self) -> str:
        """The analysis as a JSON object string (times rounded to 0.1 ms, envelopes to 1e-4)."""
        data: dict[str, Any] = asdict(self)
        for key in ("beats", "downbeats", "onsets"):
            data[key] = [round(t, 4) for t in data[key]]
        for key in ("onset_envelope", "energy"):
            data[key] = [round(v, 4) for v in data[key]]
        for level in data["alternatives"]:
            for key in ("beats", "downbeats"):
                level[key] = [round(t, 4) for t in level[key]]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> BeatAnalysis:
        """Inverse of `to_json`. Raises ValueError (or KeyError/TypeError) on a malformed document."""
        data = json.loads(text)
        return cls(
            tempo=float(data["tempo"]),
            beats=tuple(float(t) for t in data["beats"]),
            downbeats=tuple(float(t) for t in data["downbeats"]),
            duration_s=float(data["duration_s"]),
            meter=int(data["meter"]),
            onsets=tuple(float(t) for t in data["onsets"]),
            envelope_rate=float(data["envelope_rate"]),
            onset_envelope=tuple(float(v) for v in data["onset_envelope"]),
            energy=tuple(float(v) for v in data["energy"]),
            sections=tuple(SectionInfo(**section) for section in data["sections"]),
            tempo_curve=tuple(float(v) for v in data["tempo_curve"]),
            alternatives=tuple(
                MetricalLevel(
                    name=str(level["name"]),
                    tempo=float(level["tempo"]),
                    beats=tuple(float(t) for t in level["beats"]),
                    downbeats=tuple(float(t) for t in level["downbeats"]),
                    meter=int(level["meter"]),
                )
                for level in data["alternatives"]
            ),
        )


def analyze_beats(path: Path) -> BeatAnalysis:
    """Find the beats, tempo, meter, downbeats, onsets, envelopes and sections of the audio file at `path`.

    Raises MediaError when the file is not decodable audio, and InputError naming the file when it is
    silent, shorter than MIN_DURATION_S, or has no steady pulse (fewer than two beats).
    """
    samples, _ = decode_audio(path, sample_rate=ANALYSIS_RATE, mono=True)
    return _analyze_samples(samples[0], str(path))


def analyze_cached(path: Path, sha256: str, cache: StageCache) -> BeatAnalysis:
    """`analyze_beats(path)`, computed once per audio content (`sha256` of the file) and kept in `cache`."""
    key = cache_key("beats", {"sha256": sha256, "version": ANALYSIS_VERSION})

    def write(folder: Path) -> None:
        (folder / CACHE_FILE).write_text(analyze_beats(path).to_json(), encoding="utf-8")

    folder = cache.get_or_create(key, write)
    return BeatAnalysis.from_json((folder / CACHE_FILE).read_text(encoding="utf-8"))


def warm_up() -> None:
    """Compile librosa's numba kernels by analysing 3 s of clicks (seconds on a cold numba cache).

    Call it on a background thread at startup so the first real analysis is fast.
    """
    clicks = librosa.clicks(times=np.arange(0.1, 3.0, 0.5), sr=ANALYSIS_RATE, length=3 * ANALYSIS_RATE)
    _analyze_samples(clicks.astype(np.float32), "warm-up clicks")


def _analyze_samples(y: np.ndarray, name: str) -> BeatAnalysis:
    """The analysis of mono samples `y` at ANALYSIS_RATE; `name` labels errors (usually the path)."""
    duration_s = y.size / ANALYSIS_RATE
    if duration_s < MIN_DURATION_S:
        raise InputError(
            f"{name}: audio is {duration_s:.2f} s long, beat analysis needs at least {MIN_DURATION_S:.0f} s"
        )
    rms_dbfs = 10.0 * np.log10(max(float(np.mean(np.square(y, dtype=np.float64))), 1e-20))
    if rms_dbfs < SILENCE_DBFS:
        raise InputError(f"{name}: audio is silent (RMS {rms_dbfs:.0f} dBFS), no beats to find")

    features = compute_features(y, ANALYSIS_RATE, HOP)
    beat_frames, tracked = _track_beats(features)
    if tracked.size < 2:
        raise InputError(f"{name}: found {tracked.size} beat(s), need at least 2 (no steady pulse?)")
    # Judged on the tracker's own grid: choosing among levels by their accents would find "beats" in noise.
    contrast = _strength_at(features.onset_envelope, tracked).mean() / features.onset_envelope.mean()
    if contrast < MIN_PULSE_CONTRAST:
        raise InputError(f"{name}: no steady pulse found (beats stand out {contrast:.2f}x from the rest)")
    beat_times = np.clip(
        librosa.frames_to_time(beat_frames, sr=ANALYSIS_RATE, hop_length=HOP) - ENVELOPE_LAG_S, 0, None
    )
    meter, phase = bar_structure(features, beat_frames)
    return BeatAnalysis(
        tempo=_tempo_from_beats(beat_times),
        beats=tuple(float(t) for t in beat_times),
        downbeats=tuple(float(t) for t in beat_times[phase::meter]),
        duration_s=duration_s,
        meter=meter,
        onsets=tuple(float(t) for t in find_onsets(features, ENVELOPE_LAG_S)),
        envelope_rate=ANALYSIS_RATE / HOP,
        onset_envelope=tuple(float(v) for v in _aligned_envelope(features.onset_envelope)),
        energy=tuple(float(v) for v in features.energy),
        sections=find_sections(features, beat_frames, duration_s),
        tempo_curve=_tempo_curve(beat_times),
        alternatives=_metrical_alternatives(features, beat_frames, meter, phase),
    )


def _aligned_envelope(envelope: np.ndarray) -> np.ndarray:
    """The envelope normalised to 0..1 and moved ENVELOPE_LAG_S earlier, so its peaks sit on the beats."""
    lag_frames = round(ENVELOPE_LAG_S * ANALYSIS_RATE / HOP)
    shifted = np.concatenate([envelope[lag_frames:], np.zeros(lag_frames)])
    return shifted / max(float(shifted.max()), 1e-9)


def _track_beats(features: Features) -> tuple[np.ndarray, np.ndarray]:
    """Beat positions (onset-envelope frames, sorted) at the metrical level a listener taps, and the
    tracker's own grid (which says whether there is a pulse at all).

    The tracker follows the local tempo at several ratios of the tempogram's tempo (it often locks to the
    sixteenths of an arpeggio, or to a syncopated 3:4 pattern); each grid is scored as a tactus
    (`_tactus_score`) and the best one is continued to the edges. The tracker's own level, after the
    half/double check that keeps drum grooves right, starts with a bonus: another level has to be clearly
    better to replace it.
    """
    envelope = features.onset_envelope
    global_bpm, local_bpm = _local_tempo(envelope)
    own = _dp_track(envelope, local_bpm)
    if own.size < 2:
        return own, own
    own = _extend_to_edges(features, _choose_metrical_level(envelope, own))
    candidates = [(own, OWN_LEVEL_BONUS)]
    low, high = TACTUS_BPM
    for ratio in TACTUS_RATIOS:
        if low <= global_bpm * ratio <= high:
            candidates.append((_dp_track(envelope, local_bpm * ratio), 0.0))
    accents = _Accents.of(features)
    scored = [
        (_tactus_score(accents, frames) + bonus, index)
        for index, (frames, bonus) in enumerate(candidates)
        if frames.size >= MIN_TACTUS_BEATS
    ]
    best = max(scored)[1] if scored else 0
    return _extend_to_edges(features, candidates[best][0]), own


def _local_tempo(envelope: np.ndarray) -> tuple[float, np.ndarray]:
    """The track's tempo (BPM) and a smoothed tempo per envelope frame, folded to its octave."""
    tempogram = librosa.feature.tempogram(onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP)
    global_bpm = float(librosa.feature.tempo(tg=tempogram, sr=ANALYSIS_RATE, hop_length=HOP)[0])
    local_bpm = librosa.feature.tempo(
        tg=tempogram, sr=ANALYSIS_RATE, hop_length=HOP, start_bpm=global_bpm, aggregate=None
    )
    # Octave errors of single frames are folded back next to the global tempo before smoothing.
    local_bpm = local_bpm / 2.0 ** np.round(np.log2(local_bpm / global_bpm))
    width = max(1, round(LOCAL_TEMPO_SMOOTHING_S * ANALYSIS_RATE / HOP)) | 1
    return global_bpm, scipy.ndimage.median_filter(local_bpm, size=width, mode="nearest")


def _dp_track(envelope: np.ndarray, local_bpm: np.ndarray) -> np.ndarray:
    """librosa's dynamic-programming beat tracker following the tempo curve `local_bpm` (frames)."""
    _, frames = librosa.beat.beat_track(
        onset_envelope=envelope, sr=ANALYSIS_RATE, hop_length=HOP, bpm=local_bpm, trim=True
    )
    return np.asarray(frames, dtype=np.int64)


@dataclass(frozen=True)
class _Accents:
    """What a tapped beat falls on, each envelope divided by its mean (loud onsets and chord changes), and
    how alike the onset envelope is to itself a lag later (its autocorrelation, 1 at lag 0)."""

    onsets: np.ndarray
    harmony: np.ndarray
    self_similarity: np.ndarray

    @classmethod
    def of(cls, features: Features) -> _Accents:
        onsets = features.onset_envelope
        harmony = harmonic_change(features.chroma)
        centred = onsets - onsets.mean()
        spectrum = np.fft.rfft(centred, 2 * centred.size)
        autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[: centred.size]
        return cls(
            onsets / max(float(onsets.mean()), 1e-9),
            harmony / max(float(harmony.mean()), 1e-9),
            autocorrelation / max(float(autocorrelation[0]), 1e-9),
        )

    def bar_repetition(self, beat_frames: float) -> float:
        """How well the music repeats after 3 or 4 beats of `beat_frames` frames: a bar repeats its pattern,
        a grid at 3:4 of the beat (a syncopation the tracker can lock to) does not."""
        best = 0.0
        for meter in METER_BEATS:
            lag = round(meter * beat_frames)
            if lag + BAR_LAG_RADIUS < self.self_similarity.size:
                window = self.self_similarity[max(0, lag - BAR_LAG_RADIUS) : lag + BAR_LAG_RADIUS + 1]
                best = max(best, float(window.max()))
        return best


def _tactus_score(accents: _Accents, frames: np.ndarray) -> float:
    """How much `frames` sounds like the beat a listener taps: strong onsets and chord changes on its
    beats (log of their mean strength there, weighted), bars of 3 or 4 of its beats that repeat, and a
    tempo listeners like to tap (a log-normal preference around TACTUS_PREFERRED_BPM). A slower level keeps
    only the strongest accents, so the preference is what stops the choice from sliding to whole bars."""
    period = float(np.median(np.diff(frames)))
    bpm = 60.0 * ANALYSIS_RATE / HOP / period
    onsets = float(_strength_at(accents.onsets, frames).mean())
    harmony = float(_strength_at(accents.harmony, frames).mean())
    on_beats = ONSET_WEIGHT * np.log(onsets + 1e-6) + HARMONY_WEIGHT * np.log(harmony + 1e-6)
    preference = 0.5 * (np.log2(bpm / TACTUS_PREFERRED_BPM) / TACTUS_SPREAD_OCTAVES) ** 2
    return float(on_beats + BAR_WEIGHT * accents.bar_repetition(period) - preference)


def harmonic_change(chroma: np.ndarray, half_window: int = HARMONY_WINDOW_FRAMES) -> np.ndarray:
    """Per frame, how different the chroma of the next `half_window` frames is from that of the previous
    ones (1 - cosine similarity, 0..1): peaks where chords change, which is on beats and bars."""
    unit = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    running = np.cumsum(np.pad(unit, ((0, 0), (1, 0))), axis=1)
    frames = np.arange(unit.shape[1])
    before = running[:, frames] - running[:, np.clip(frames - half_window, 0, None)]
    after = running[:, np.clip(frames + half_window, None, unit.shape[1])] - running[:, frames]
    before /= np.linalg.norm(before, axis=0, keepdims=True) + 1e-9
    after /= np.linalg.norm(after, axis=0, keepdims=True) + 1e-9
    return np.clip(1.0 - np.sum(before * after, axis=0), 0.0, 1.0)


def _strength_at(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The onset envelope's peak within ±PEAK_RADIUS frames of each of `frames`."""
    padded = np.pad(envelope, PEAK_RADIUS)
    windows = np.asarray(frames)[:, None] + np.arange(2 * PEAK_RADIUS + 1)[None, :]
    return padded[np.clip(windows, 0, padded.size - 1)].max(axis=1)


def _choose_metrical_level(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Halve or double the tracked beats so that every beat, and no mid-beat, carries a strong onset.

    A tracker locked to eighth-note hi-hats puts every other beat on a hat only: those beats are weak, so
    keep the strong parity. One locked to half time skips the snares: the mid-beats are strong, so add them.
    Halving to a tempo outside PREFERRED_BPM needs clearer evidence (a kit with a weak snare would otherwise
    drop to half time).
    """
    bpm = 60.0 * ANALYSIS_RATE / HOP / float(np.median(np.diff(frames)))
    on_beat = _strength_at(envelope, frames)
    if frames.size >= 4:
        even, odd = on_beat[0::2].mean(), on_beat[1::2].mean()
        if min(even, odd) < _level_ratio(bpm / 2) * max(even, odd):
            return frames[0::2] if even >= odd else frames[1::2]
    middles = (frames[:-1] + frames[1:]) // 2
    if _strength_at(envelope, middles).mean() >= WEAK_LEVEL_RATIO * on_beat.mean():
        refined = middles + _peak_offsets(envelope, middles)
        return np.sort(np.concatenate([frames, refined]))
    return frames


def _level_ratio(bpm: float) -> float:
    """Below this share of the strong beats, beats are too weak to belong to a metrical level at `bpm`."""
    low, high = PREFERRED_BPM
    return WEAK_LEVEL_RATIO if low <= bpm <= high else WEAK_LEVEL_RATIO / 2


def _peak_offsets(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """How far (frames, within ±PEAK_RADIUS) the envelope's local peak lies from each of `frames`."""
    padded = np.pad(envelope, PEAK_RADIUS)
    windows = frames[:, None] + np.arange(2 * PEAK_RADIUS + 1)[None, :]
    return np.argmax(padded[np.clip(windows, 0, padded.size - 1)], axis=1) - PEAK_RADIUS


def _extend_to_edges(features: Features, frames: np.ndarray) -> np.ndarray:
    """Continue the grid before the first and after the last beat while there are still onsets on it.

    The tracker trims weak edge beats, which drops a beat at t≈0 and the soft beats of quiet intros. The
    log-power envelope judges, because it hears soft hi-hats as well as drums; a grid position counts as a
    beat when its onset is EDGE_BEAT_RATIO of a typical beat's and stands out from the envelope around it.
    """
    detail = features.onset_detail
    floor = EDGE_BEAT_RATIO * float(np.median(_strength_at(detail, frames)))
    beats = [int(f) for f in frames]

    def is_beat(frame: int, period: int) -> bool:
        around = detail[max(0, frame - period // 2) : frame + period // 2 + 1]
        strength = float(_strength_at(detail, np.array([frame]))[0])
        return strength >= max(floor, EDGE_PEAK_OVER_MEDIAN * float(np.median(around)))

    period = int(np.median(np.diff(frames[:EDGE_PERIOD_BEATS])))
    while beats[0] - period >= -PEAK_RADIUS and is_beat(beats[0] - period, period):
        beats.insert(0, max(0, beats[0] - period))
    period = int(np.median(np.diff(frames[-EDGE_PERIOD_BEATS:])))
    while beats[-1] + period < detail.size and is_beat(beats[-1] + period, period):
        beats.append(beats[-1] + period)
    return np.unique(np.array(beats, dtype=np.int64))


def _tempo_from_beats(beat_times: np.ndarray) -> float:
    """BPM from the beat spacing, rounded to 0.1.

    Each interval is quantised to whole onset frames (~23 ms), so a single median interval can be off by
    several percent; the mean of the intervals near their local median averages that out while still
    ignoring dropped or doubled beats. For a changing tempo this is the average tempo.
    """
    intervals = np.diff(beat_times)
    # Against the *local* median, so a tempo ramp keeps all its intervals.
    local = scipy.ndimage.median_filter(
        intervals, size=min(TEMPO_MEDIAN_BEATS, intervals.size), mode="nearest"
    )
    inliers = intervals[np.abs(intervals - local) <= INLIER_TOLERANCE * local]
    return round(60.0 / float(np.mean(inliers if inliers.size else intervals)), 1)


def _tempo_curve(beat_times: np.ndarray) -> tuple[float, ...]:
    """Local BPM at each beat: 60 / the mean of the (up to) 4 intervals around it, to 0.1 BPM."""
    intervals = np.diff(beat_times)
    smoothed = scipy.ndimage.uniform_filter1d(intervals, size=min(4, intervals.size), mode="nearest")
    per_beat = np.append(smoothed, smoothed[-1])
    return tuple(round(60.0 / float(v), 1) for v in per_beat)


def _metrical_alternatives(
    features: Features, beat_frames: np.ndarray, meter: int, phase: int
) -> tuple[MetricalLevel, ...]:
    """The grid at half and at double the tempo of `beat_frames` (whose bars are `meter` beats from `phase`).

    Half keeps every other beat: in an even meter the parity holding the downbeats, else the one with the
    stronger onsets. Double adds the envelope's peak near each midpoint. Each level gets its own meter and
    downbeats from `bar_structure`; one with under two beats or a tempo outside ALTERNATIVE_BPM is left out.
    """

    def times_of(frames: np.ndarray) -> np.ndarray:
        return np.clip(
            librosa.frames_to_time(frames, sr=ANALYSIS_RATE, hop_length=HOP) - ENVELOPE_LAG_S, 0, None
        )

    envelope = features.onset_envelope
    if meter % 2 == 0:
        parity = phase % 2
    else:
        strength = _strength_at(envelope, beat_frames)
        parity = int(strength[1::2].mean() > strength[0::2].mean())
    half = beat_frames[parity::2]
    middles = (beat_frames[:-1] + beat_frames[1:]) // 2
    doubled = np.unique(np.concatenate([beat_frames, middles + _peak_offsets(envelope, middles)]))
    # Half a beat is under ten envelope frames at fast tempos, too coarse for a tempo of its own: the double
    # level's tempo is twice the chosen one's.
    tempos = {
        "half": _tempo_from_beats(times_of(half)) if half.size >= 2 else 0.0,
        "double": round(2 * _tempo_from_beats(times_of(beat_frames)), 1),
    }
    levels = []
    for name, frames in (("half", half), ("double", doubled)):
        if frames.size < 2 or not ALTERNATIVE_BPM[0] <= tempos[name] <= ALTERNATIVE_BPM[1]:
            continue
        level_meter, level_phase = bar_structure(features, frames)
        beats = tuple(float(t) for t in times_of(frames))
        levels.append(MetricalLevel(name, tempos[name], beats, beats[level_phase::level_meter], level_meter))
    return tuple(levels)
