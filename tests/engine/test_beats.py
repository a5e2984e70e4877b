"""Beat analysis: beats, tempo, meter and downbeats, envelopes, sections, caching, CLI output, bad input.

Analyses are shared through module-scoped fixtures: librosa's first call compiles numba kernels.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.engine.audio.beats import BeatAnalysis, analyze_beats, analyze_cached, warm_up
from app.engine.cache import StageCache
from app.errors import InputError, MediaError
from tests.engine.audio_fixtures import (
    DrumTrack,
    drum_track,
    groove,
    matched_fraction,
    ramp_beats,
    steady_beats,
    tone,
    verse_chorus_verse,
    write_wav,
)

TOLERANCE_S = 0.07

TRACKS: dict[str, tuple[DrumTrack, int]] = {
    "120 BPM": (drum_track(120.0, 16.0, sample_rate=44100), 4),
    # 60 BPM with eighth-note hi-hats: trackers lock onto the hats at 120.
    "64 BPM": (groove(steady_beats(64.0, 20.0), 20.0, 22050, seed=3), 4),
    "150 BPM 3/4": (groove(steady_beats(150.0, 16.0), 16.0, 22050, meter=3, seed=4), 3),
    "100-120 BPM ramp": (groove(ramp_beats(100.0, 120.0, 30.0), 30.0, 22050, seed=5), 4),
    "beat at t=0": (groove(steady_beats(110.0, 12.0, lead_in_s=0.0), 12.0, 22050, seed=6), 4),
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[BeatAnalysis, DrumTrack, int]]:
    folder = tmp_path_factory.mktemp("beats")
    results = {}
    for index, (name, (track, meter)) in enumerate(TRACKS.items()):
        path = write_wav(folder / f"{index}.wav", track.samples, track.sample_rate)
        results[name] = (analyze_beats(path), track, meter)
    return results


@pytest.mark.parametrize("name", list(TRACKS))
def test_beats_tempo_and_meter_match_the_pattern(
    analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]], name: str
) -> None:
    analysis, track, meter = analysed[name]
    beats = np.array(analysis.beats)
    true_tempo = 60.0 / float(np.mean(np.diff(track.beats)))

    assert analysis.tempo == pytest.approx(true_tempo, rel=0.01)
    assert analysis.tempo == round(analysis.tempo, 1)
    assert np.all(np.diff(beats) > 0)
    assert matched_fraction(track.beats, beats, TOLERANCE_S) >= 0.95
    assert matched_fraction(beats, track.beats, TOLERANCE_S) >= 0.95
    assert analysis.meter == meter
    assert len(analysis.tempo_curve) == len(analysis.beats)


def test_beats_are_not_late(analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]]) -> None:
    offsets = []
    for analysis, track, _ in analysed.values():
        beats = np.array(analysis.beats)
        nearest = beats[np.argmin(np.abs(track.beats[:, None] - beats[None, :]), axis=1)]
        offsets.append(nearest - track.beats)
    assert abs(float(np.mean(np.concatenate(offsets)))) < 0.012


def test_the_first_beat_at_zero_is_found(analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]]) -> None:
    analysis, _, _ = analysed["beat at t=0"]
    assert analysis.beats[0] == pytest.approx(0.0, abs=TOLERANCE_S)


def test_a_tempo_ramp_is_followed(analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]]) -> None:
    analysis, _, _ = analysed["100-120 BPM ramp"]
    curve = np.array(analysis.tempo_curve)
    assert curve[:4].mean() == pytest.approx(100.0, rel=0.04)
    assert curve[-4:].mean() == pytest.approx(120.0, rel=0.04)


@pytest.mark.parametrize("name", ["120 BPM", "150 BPM 3/4"])
def test_downbeats_fall_on_bar_starts(
    analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]], name: str
) -> None:
    analysis, track, meter = analysed[name]
    downbeats = np.array(analysis.downbeats)
    assert set(analysis.downbeats) <= set(analysis.beats)
    assert np.allclose(np.diff(downbeats), meter * 60 / analysis.tempo, rtol=0.05)
    # The grid may run on a bar past the last true beat, into the decay of the final chord.
    assert matched_fraction(downbeats, track.downbeats, TOLERANCE_S) >= 0.9
    assert matched_fraction(track.downbeats, downbeats, TOLERANCE_S) >= 0.8


def test_onsets_and_envelopes(analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]]) -> None:
    analysis, track, _ = analysed["120 BPM"]
    frames = round(analysis.duration_s * analysis.envelope_rate)
    assert abs(len(analysis.onset_envelope) - frames) <= 1
    assert len(analysis.energy) == len(analysis.onset_envelope)
    for curve in (analysis.onset_envelope, analysis.energy):
        assert min(curve) >= 0.0 and max(curve) == pytest.approx(1.0)
    # Every drum hit (beats and the hi-hats between them) is an onset.
    eighths = np.sort(np.concatenate([track.beats, track.beats + 0.25]))
    assert matched_fraction(track.beats, np.array(analysis.onsets), TOLERANCE_S) >= 0.95
    assert len(analysis.onsets) <= 1.5 * eighths.size
    # The envelope peaks on beats, not between them.
    envelope = np.array(analysis.onset_envelope)
    at = np.round(np.array(analysis.beats) * analysis.envelope_rate).astype(int)
    between = np.round((np.array(analysis.beats[:-1]) + 0.125) * analysis.envelope_rate).astype(int)
    assert envelope[at].mean() > 3 * envelope[between].mean()


def test_sections_find_the_verse_chorus_verse_form(tmp_path: Path) -> None:
    track = verse_chorus_verse(part_s=16.0)
    path = write_wav(tmp_path / "form.wav", track.samples, track.sample_rate)

    analysis = analyze_beats(path)

    assert [s.label for s in analysis.sections] == ["A", "B", "A"]
    assert analysis.sections[0].start == 0.0 and analysis.sections[-1].end == analysis.duration_s
    assert [s.start for s in analysis.sections[1:]] == pytest.approx([16.0, 32.0], abs=0.5)
    assert analysis.sections[1].energy < analysis.sections[0].energy


def test_json_round_trip_and_cache(
    tmp_path: Path, analysed: dict[str, tuple[BeatAnalysis, DrumTrack, int]]
) -> None:
    analysis, track, _ = analysed["beat at t=0"]
    restored = BeatAnalysis.from_json(analysis.to_json())
    assert restored.beats == pytest.approx(analysis.beats, abs=1e-4)
    assert restored.sections == analysis.sections
    assert (restored.meter, restored.tempo) == (analysis.meter, analysis.tempo)

    path = write_wav(tmp_path / "song.wav", track.samples, track.sample_rate)
    cache = StageCache(tmp_path / "cache")
    try:
        first = analyze_cached(path, "0" * 64, cache)
        path.write_bytes(b"not audio any more")  # a hit must not touch the file
        second = analyze_cached(path, "0" * 64, cache)
        assert (cache.hits, cache.misses) == (1, 1)
        assert second == first
        with pytest.raises(MediaError):
            analyze_cached(path, "1" * 64, cache)
    finally:
        cache.close()


def test_warm_up_runs() -> None:
    warm_up()


def test_cli_prints_beats_and_optional_sections_and_onsets(tmp_path: Path) -> None:
    track = drum_track(120.0, 6.0)
    path = write_wav(tmp_path / "clip.wav", track.samples, track.sample_rate)
    base = [sys.executable, "-m", "app", "beats", str(path), "--json"]

    plain = json.loads(subprocess.run(base, capture_output=True, check=True, text=True).stdout)
    full = json.loads(
        subprocess.run([*base, "--sections", "--onsets"], capture_output=True, check=True, text=True).stdout
    )

    assert set(plain) == {"tempo", "beats", "downbeats"}
    assert set(full) == {"tempo", "beats", "downbeats", "sections", "onsets"}
    assert set(full["sections"][0]) == {"start", "end", "label", "energy"}
    assert full["beats"] == plain["beats"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("level", [0.0, 10 ** (-70 / 20)], ids=["digital-silence", "minus-70-dBFS-hiss"])
def test_silence_is_rejected(tmp_path: Path, level: float) -> None:
    hiss = level * np.random.default_rng(0).standard_normal(5 * 22050)
    path = write_wav(tmp_path / "quiet.wav", hiss, 22050)
    with pytest.raises(InputError, match=re.escape(f"{path}: audio is silent")):
        analyze_beats(path)


def test_one_second_is_too_short(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "short.wav", drum_track(120.0, 1.0).samples, 22050)
    with pytest.raises(InputError, match=re.escape(f"{path}: audio is 1.00 s long")):
        analyze_beats(path)


def test_under_two_beats_gives_a_result_or_a_clear_error(tmp_path: Path) -> None:
    # 2.5 s at 40 BPM: one beat and a bit.
    track = groove(steady_beats(40.0, 2.5, lead_in_s=0.1), 2.5, 22050)
    path = write_wav(tmp_path / "slow.wav", track.samples, 22050)
    try:
        analysis = analyze_beats(path)
    except InputError as error:
        assert str(path) in str(error)
    else:
        assert len(analysis.beats) >= 2 and analysis.tempo > 0


@pytest.mark.parametrize("sound", ["noise", "tone"], ids=["white-noise", "steady-tone"])
def test_no_pulse_is_rejected(tmp_path: Path, sound: str) -> None:
    samples = (
        0.3 * np.random.default_rng(1).standard_normal(10 * 22050)
        if sound == "noise"
        else tone(440.0, 10.0, 22050)
    )
    path = write_wav(tmp_path / f"{sound}.wav", samples, 22050)
    with pytest.raises(InputError, match=re.escape(str(path))):
        analyze_beats(path)


def test_not_audio_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not a recording\n" * 50)
    with pytest.raises(MediaError, match=re.escape(str(path))):
        analyze_beats(path)


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (192000, 2), (44100, 6)], ids=str)
def test_any_rate_and_channel_count(tmp_path: Path, rate: int, channels: int) -> None:
    track = drum_track(120.0, 8.0, sample_rate=22050)
    # Made at 22.05 kHz and resampled, so every file holds the same music.
    source_times = np.arange(track.samples.size) / 22050
    resampled = np.interp(np.arange(round(8.0 * rate)) / rate, source_times, track.samples)
    levels = np.linspace(1.0, 0.4, channels)[:, None]
    path = write_wav(tmp_path / "in.wav", levels * resampled[None, :], rate)

    analysis = analyze_beats(path)

    assert analysis.tempo == pytest.approx(120.0, rel=0.02)
    assert matched_fraction(track.beats, np.array(analysis.beats), TOLERANCE_S) >= 0.9
