"""Beat-tracking accuracy and speed on two corpora with known beats, against plain librosa in the same run.

Run: `python bench/bench_beats.py [--seeds N]` (needs the bench-only dependency mir_eval; the arrangement
corpus needs Debian's `fluidsynth` and `fluid-soundfont-gm`, which scripts/setup installs).

- **Drum grooves** synthesised in code (tempos 60–200 BPM, swing, ramps, a quiet intro, noise, 3/4).
- **Arrangements** played by sampled instruments (tests/engine/arrangements.py): ballads, string and choir
  pads, waltz, 12/8, funk, reggae, hip-hop, EDM, solo guitar, rubato piano, pop; N songs per style at
  seeded tempos and keys.

Per style: mir_eval's beat F-measure (±70 ms) for Storybeat and for `librosa.beat.beat_track`, Storybeat's
downbeat F-measure and tempo error (against the true mean inter-beat interval), and the metrical level
each tracker chose ("same", "x2" for double tempo, "/2" for half, "4:3"…). Speed: the warm-up time, then a
3-minute track analysed warm.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import librosa
import mir_eval
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine.audio.beats import ANALYSIS_RATE, analyze_beats, warm_up
from tests.engine import arrangements
from tests.engine.audio_fixtures import groove, ramp_beats, steady_beats, write_wav

DURATION_S = 30.0
SAMPLE_RATE = 44100
TARGET_F = 0.95
TARGET_DRUM_F = 0.99
TARGET_DOWNBEAT_F = 0.8
TARGET_TEMPO_ERROR_PCT = 2.0
SPEED_TRACK_S = 180.0
TARGET_WARM_S = 2.0
#: Tempo ratios named as metrical levels (estimated / true); anything else is "other".
_LEVELS = {
    Fraction(1): "same",
    Fraction(2): "x2",
    Fraction(1, 2): "/2",
    Fraction(3): "x3",
    Fraction(1, 3): "/3",
}
_LEVELS |= {Fraction(4, 3): "4:3", Fraction(3, 4): "3:4", Fraction(3, 2): "3:2", Fraction(2, 3): "2:3"}


@dataclass(frozen=True)
class Item:
    style: str
    name: str
    path: Path
    beats: np.ndarray
    downbeats: np.ndarray


def drum_items(folder: Path) -> list[Item]:
    """Tempos 60–200 BPM, swing, a tempo ramp, a quiet intro, noise at 10–20 dB SNR, 3/4 and 4/4."""
    d = DURATION_S
    tracks = [
        (f"{bpm:.0f} BPM 4/4", groove(steady_beats(bpm, d), d, SAMPLE_RATE, seed=i))
        for i, bpm in enumerate((60.0, 68.0, 75.0, 87.0, 100.0, 120.0, 133.0, 150.0, 174.0, 200.0))
    ]
    tracks += [
        ("96 BPM swing", groove(steady_beats(96.0, d), d, SAMPLE_RATE, swing=2 / 3, seed=11)),
        ("140 BPM swing", groove(steady_beats(140.0, d), d, SAMPLE_RATE, swing=2 / 3, seed=12)),
        ("100→120 BPM ramp", groove(ramp_beats(100.0, 120.0, 60.0), 60.0, SAMPLE_RATE, seed=13)),
        ("128→90 BPM ramp", groove(ramp_beats(128.0, 90.0, 60.0), 60.0, SAMPLE_RATE, seed=14)),
        (
            "110 BPM quiet intro",
            groove(steady_beats(110.0, d, 0.0), d, SAMPLE_RATE, quiet_intro_beats=8, seed=15),
        ),
        ("128 BPM SNR 10 dB", groove(steady_beats(128.0, d), d, SAMPLE_RATE, snr_db=10.0, seed=16)),
        ("90 BPM SNR 20 dB", groove(steady_beats(90.0, d), d, SAMPLE_RATE, snr_db=20.0, seed=17)),
        ("90 BPM 3/4", groove(steady_beats(90.0, d), d, SAMPLE_RATE, meter=3, seed=18)),
        ("150 BPM 3/4", groove(steady_beats(150.0, d), d, SAMPLE_RATE, meter=3, seed=19)),
        ("72 BPM 3/4 swing", groove(steady_beats(72.0, d), d, SAMPLE_RATE, meter=3, swing=0.6, seed=20)),
    ]
    items = []
    for index, (name, track) in enumerate(tracks):
        path = write_wav(folder / f"drums-{index}.wav", track.samples, SAMPLE_RATE)
        items.append(Item("drums", name, path, track.beats, track.downbeats))
    return items


def arrangement_items(folder: Path, seeds: int) -> list[Item]:
    items = []
    for style in arrangements.STYLES:
        for seed in range(1, seeds + 1):
            song = arrangements.song_for(style, seed)
            path = arrangements.render(song, folder / f"{style.replace('/', '-')}-{seed}.wav")
            items.append(Item(style, f"{style} {song.tempo:.0f} BPM", path, song.beats, song.downbeats))
    return items


def level(estimated_bpm: float, true_bpm: float) -> str:
    """The metrical level of an estimated tempo: the named ratio within 4 %, else "other"."""
    ratio = estimated_bpm / true_bpm
    for fraction, name in _LEVELS.items():
        if abs(ratio / float(fraction) - 1.0) <= 0.04:
            return name
    return "other"


def plain_librosa(path: Path) -> tuple[np.ndarray, float]:
    y, rate = librosa.load(path, sr=ANALYSIS_RATE, mono=True)
    tempo, beats = librosa.beat.beat_track(y=y, sr=rate, units="time")
    return np.asarray(beats), float(np.atleast_1d(tempo)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="songs per arrangement style (default 3)")
    args = parser.parse_args()
    started = time.perf_counter()
    warm_up()
    warm_up_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        items = drum_items(folder)
        if arrangements.can_render():
            items += arrangement_items(folder, args.seeds)
        else:
            print("fluidsynth or the GM soundfont is missing: the arrangement corpus is left out")
        by_style: dict[str, list[tuple[float, float, float, float, str, str]]] = defaultdict(list)
        for item in items:
            analysis = analyze_beats(item.path)
            true_bpm = 60.0 / float(np.mean(np.diff(item.beats)))
            beat_f = mir_eval.beat.f_measure(item.beats, np.array(analysis.beats))
            down_f = mir_eval.beat.f_measure(item.downbeats, np.array(analysis.downbeats))
            error_pct = 100.0 * abs(analysis.tempo - true_bpm) / true_bpm
            plain_beats, plain_bpm = plain_librosa(item.path)
            plain_f = mir_eval.beat.f_measure(item.beats, plain_beats)
            row = (
                beat_f,
                plain_f,
                down_f,
                error_pct,
                level(analysis.tempo, true_bpm),
                level(plain_bpm, true_bpm),
            )
            by_style[item.style].append(row)

        print(
            f"{'style':<9} {'n':>2} {'beat F':>7} {'librosa':>8} {'down F':>7} {'tempo err %':>12} "
            f"{'tempo ok':>8}  {'levels (Storybeat | librosa)'}"
        )
        arrangement_fs, arrangement_plain, errors = [], [], []
        for style, rows in by_style.items():
            beat_f, plain_f, down_f, error, levels, plain_levels = zip(*rows, strict=True)
            ok = sum(e <= TARGET_TEMPO_ERROR_PCT for e in error)
            print(
                f"{style:<9} {len(rows):>2} {np.mean(beat_f):7.3f} {np.mean(plain_f):8.3f} "
                f"{np.mean(down_f):7.3f} {np.mean(error):12.1f} {ok:>5}/{len(rows):<2}  "
                f"{_counts(levels)} | {_counts(plain_levels)}"
            )
            if style != "drums":
                arrangement_fs += beat_f
                arrangement_plain += plain_f
                errors += error
        drums = np.mean([row[0] for row in by_style["drums"]])
        print(f"drum corpus beat F {drums:.3f} (target ≥ {TARGET_DRUM_F})")
        if arrangement_fs:
            mean_f, mean_plain = float(np.mean(arrangement_fs)), float(np.mean(arrangement_plain))
            print(
                f"arrangements: mean beat F {mean_f:.3f} (target ≥ {TARGET_F}), "
                f"plain librosa {mean_plain:.3f} (×{mean_f / mean_plain:.2f}); "
                f"tempo within {TARGET_TEMPO_ERROR_PCT} %: "
                f"{sum(e <= TARGET_TEMPO_ERROR_PCT for e in errors)}/{len(errors)}"
            )

        long_track = groove(steady_beats(118.0, SPEED_TRACK_S), SPEED_TRACK_S, SAMPLE_RATE, seed=30)
        path = write_wav(folder / "long.wav", long_track.samples, SAMPLE_RATE)
        started = time.perf_counter()
        analyze_beats(path)
        warm_s = time.perf_counter() - started
        started = time.perf_counter()
        plain_librosa(path)
        plain_s = time.perf_counter() - started
    print(f"warm-up (numba compile + tiny analysis): {warm_up_s:.2f} s")
    print(
        f"3-minute track analysed warm: {warm_s:.2f} s (target < {TARGET_WARM_S} s, "
        f"{TARGET_WARM_S / warm_s:.1f}x margin); plain librosa beat_track {plain_s:.2f} s "
        f"(×{warm_s / plain_s:.1f})"
    )


def _counts(levels: tuple[str, ...]) -> str:
    return " ".join(f"{name}:{count}" for name, count in Counter(levels).most_common())


if __name__ == "__main__":
    main()
