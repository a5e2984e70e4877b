"""Beat-tracking accuracy and speed on a synthetic corpus with known beat times.

Run: `python bench/bench_beats.py` (needs the bench-only dependency mir_eval). Each item is drums, bass and
chords generated in code; the table gives mir_eval's beat F-measure (±70 ms), the tempo error against the
true mean inter-beat interval, the downbeat F-measure, the mean signed beat offset (ms; the lag the
analysis leaves) and the detected meter. Speed: the warm-up time, then a 3-minute track analysed warm.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mir_eval
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.audio.beats import analyze_beats, warm_up
from tests.engine.audio_fixtures import DrumTrack, groove, ramp_beats, steady_beats, write_wav

DURATION_S = 30.0
SAMPLE_RATE = 44100
TARGET_F = 0.95
TARGET_TEMPO_ERROR_PCT = 1.0
SPEED_TRACK_S = 180.0
TARGET_WARM_S = 2.0


@dataclass(frozen=True)
class Item:
    name: str
    track: DrumTrack
    meter: int


def corpus() -> list[Item]:
    """Tempos 60–200 BPM, swing, a tempo ramp, a quiet intro, noise at 10–20 dB SNR, 3/4 and 4/4."""
    d = DURATION_S
    items = [
        Item(f"{bpm:.0f} BPM 4/4", groove(steady_beats(bpm, d), d, SAMPLE_RATE, seed=i), 4)
        for i, bpm in enumerate((60.0, 68.0, 75.0, 87.0, 100.0, 120.0, 133.0, 150.0, 174.0, 200.0))
    ]
    items += [
        Item("96 BPM swing", groove(steady_beats(96.0, d), d, SAMPLE_RATE, swing=2 / 3, seed=11), 4),
        Item("140 BPM swing", groove(steady_beats(140.0, d), d, SAMPLE_RATE, swing=2 / 3, seed=12), 4),
        Item("100→120 BPM ramp", groove(ramp_beats(100.0, 120.0, 60.0), 60.0, SAMPLE_RATE, seed=13), 4),
        Item("128→90 BPM ramp", groove(ramp_beats(128.0, 90.0, 60.0), 60.0, SAMPLE_RATE, seed=14), 4),
        Item(
            "110 BPM quiet intro",
            groove(steady_beats(110.0, d, 0.0), d, SAMPLE_RATE, quiet_intro_beats=8, seed=15),
            4,
        ),
        Item("128 BPM SNR 10 dB", groove(steady_beats(128.0, d), d, SAMPLE_RATE, snr_db=10.0, seed=16), 4),
        Item("90 BPM SNR 20 dB", groove(steady_beats(90.0, d), d, SAMPLE_RATE, snr_db=20.0, seed=17), 4),
        Item("90 BPM 3/4", groove(steady_beats(90.0, d), d, SAMPLE_RATE, meter=3, seed=18), 3),
        Item("150 BPM 3/4", groove(steady_beats(150.0, d), d, SAMPLE_RATE, meter=3, seed=19), 3),
        Item(
            "72 BPM 3/4 swing", groove(steady_beats(72.0, d), d, SAMPLE_RATE, meter=3, swing=0.6, seed=20), 3
        ),
    ]
    return items


def signed_offset_ms(reference: np.ndarray, estimated: np.ndarray, tolerance_s: float = 0.07) -> float:
    """Mean (estimated - reference) over beats matched within the tolerance, in ms."""
    if estimated.size == 0:
        return float("nan")
    nearest = estimated[np.argmin(np.abs(reference[:, None] - estimated[None, :]), axis=1)]
    offsets = nearest - reference
    offsets = offsets[np.abs(offsets) <= tolerance_s]
    return float(np.mean(offsets) * 1000) if offsets.size else float("nan")


def main() -> None:
    started = time.perf_counter()
    warm_up()
    warm_up_s = time.perf_counter() - started
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        print(
            f"{'item':<22} {'beat F':>7} {'tempo':>7} {'true':>7} {'err %':>6} {'down F':>7} "
            f"{'lag ms':>7} {'meter':>5}"
        )
        for item in corpus():
            path = write_wav(Path(folder) / "item.wav", item.track.samples, SAMPLE_RATE)
            analysis = analyze_beats(path)
            beats = np.array(analysis.beats)
            beat_f = mir_eval.beat.f_measure(item.track.beats, beats)
            down_f = mir_eval.beat.f_measure(item.track.downbeats, np.array(analysis.downbeats))
            true_tempo = 60.0 / float(np.mean(np.diff(item.track.beats)))
            error_pct = 100.0 * abs(analysis.tempo - true_tempo) / true_tempo
            lag = signed_offset_ms(item.track.beats, beats)
            rows.append((beat_f, error_pct, down_f, lag, analysis.meter == item.meter))
            print(
                f"{item.name:<22} {beat_f:7.3f} {analysis.tempo:7.1f} {true_tempo:7.1f} {error_pct:6.2f} "
                f"{down_f:7.3f} {lag:7.1f} {analysis.meter:5d}"
            )
        beat_fs, errors, down_fs, lags, meters_ok = (np.array(column) for column in zip(*rows, strict=True))
        print(
            f"{'mean':<22} {beat_fs.mean():7.3f} {'':>7} {'':>7} {errors.mean():6.2f} {down_fs.mean():7.3f} "
            f"{np.nanmean(lags):7.1f} {meters_ok.mean():5.0%}"
        )
        print(
            f"items with tempo error <= {TARGET_TEMPO_ERROR_PCT} %: "
            f"{(errors <= TARGET_TEMPO_ERROR_PCT).sum()}/{errors.size}; "
            f"mean beat F target {TARGET_F}: {'met' if beat_fs.mean() >= TARGET_F else 'MISSED'}"
        )

        long_track = groove(steady_beats(118.0, SPEED_TRACK_S), SPEED_TRACK_S, SAMPLE_RATE, seed=30)
        path = write_wav(Path(folder) / "long.wav", long_track.samples, SAMPLE_RATE)
        started = time.perf_counter()
        analyze_beats(path)
        warm_s = time.perf_counter() - started
    print(f"warm-up (numba compile + tiny analysis): {warm_up_s:.2f} s")
    print(
        f"3-minute track analysed warm: {warm_s:.2f} s (target < {TARGET_WARM_S} s, "
        f"{TARGET_WARM_S / warm_s:.1f}x margin)"
    )


if __name__ == "__main__":
    main()
