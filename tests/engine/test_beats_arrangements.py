"""Beats of songs played by sampled instruments (tests/engine/arrangements.py), not only drum grooves."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from app.engine.audio.beats import ANALYSIS_RATE, analyze_beats
from app.engine.audio.decode import decode_audio
from tests.engine import arrangements
from tests.engine.audio_fixtures import matched_fraction

TOLERANCE_S = 0.07  # mir_eval's beat F-measure window


def _f_measure(reference: np.ndarray, estimated: np.ndarray) -> float:
    recall = matched_fraction(reference, estimated, TOLERANCE_S)
    precision = matched_fraction(estimated, reference, TOLERANCE_S)
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def test_a_song_s_truth_follows_its_score() -> None:
    song = arrangements.song_for("waltz", seed=3, duration_s=20.0)
    assert song.meter == 3
    assert np.allclose(np.diff(song.beats), 60.0 / song.bpm[0])
    assert np.allclose(song.downbeats, song.beats[:: song.meter])
    assert song.beats[0] == pytest.approx(60.0 / song.bpm[0])  # a silent lead-in beat is not a beat
    rubato = arrangements.song_for("rubato", seed=3, duration_s=20.0)
    assert np.ptp(np.diff(rubato.beats)) > 0.05  # the tempo breathes


def test_a_rendered_song_sounds_for_as_long_as_its_score(tmp_path: Path) -> None:
    song = arrangements.song_for("ballad", seed=2, duration_s=10.0)
    path = arrangements.render(song, tmp_path / "ballad.wav")
    decoded, rate = decode_audio(path, mono=True)
    samples = decoded[0]
    assert rate == 22050
    assert samples.size / rate >= song.beats[-1]
    first_note = np.argmax(np.abs(samples) > 0.01) / rate
    assert first_note == pytest.approx(song.beats[0], abs=0.03)


def test_analysis_beats_plain_librosa_across_the_arrangement_styles(tmp_path: Path) -> None:
    """One song per style: Storybeat's beats are better than librosa's own tracker on the same audio, its
    tempo lands at the tapped level (not twice or half of it) on most of them, and so do its bars."""
    ours, plain, bars, right_level = [], [], [], 0
    for style in arrangements.STYLES:
        song = arrangements.song_for(style, seed=1, duration_s=24.0)
        path = arrangements.render(song, tmp_path / f"{style.replace('/', '-')}.wav")
        analysis = analyze_beats(path)
        ours.append(_f_measure(song.beats, np.array(analysis.beats)))
        bars.append(_f_measure(song.downbeats, np.array(analysis.downbeats)))
        decoded, _ = decode_audio(path, sample_rate=ANALYSIS_RATE, mono=True)
        _, plain_beats = librosa.beat.beat_track(y=decoded[0], sr=ANALYSIS_RATE, units="time")
        plain.append(_f_measure(song.beats, np.asarray(plain_beats)))
        right_level += abs(analysis.tempo / song.tempo - 1.0) <= 0.04
    assert np.mean(ours) >= 0.75
    assert np.mean(ours) >= np.mean(plain) + 0.1
    assert right_level >= 8
    assert np.mean(bars) >= 0.65


@pytest.mark.parametrize("seed", [2, 3])
def test_bars_start_where_the_chord_changes_under_an_alternating_bass(tmp_path: Path, seed: int) -> None:
    """Fingerpicked guitar: the thumb plays root and fifth on every beat and the treble rings on 1 and 3, so
    only the chord changing tells beat 1 from beat 3."""
    song = arrangements.song_for("guitar", seed=seed, duration_s=24.0)
    analysis = analyze_beats(arrangements.render(song, tmp_path / "guitar.wav"))
    assert analysis.meter == 4
    assert _f_measure(song.downbeats, np.array(analysis.downbeats)) >= 0.9
