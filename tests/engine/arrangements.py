"""Songs played by sampled instruments, with exact beat and downbeat truth.

Each style writes a General MIDI arrangement in code (a few bars of chords, bass, melody, drums where the
style has them, with human timing and velocity), `render` plays it through a GM soundfont with Debian's
`fluidsynth`, and the truth comes from the score: every tactus beat (the beat a listener taps) and every bar's
first beat, in seconds, from the same tempo map the MIDI file carries. The tactus beat is always a MIDI
quarter note, so compound meters (12/8) subdivide a beat in three.

Used by bench/bench_beats.py and the beat tests. Needs `fluidsynth` and `fluid-soundfont-gm` (scripts/setup
installs them).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TICKS_PER_BEAT = 480
DRUMS = 9  # the GM percussion channel
# GM drum notes
KICK, SNARE, RIM, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE = 36, 38, 37, 39, 42, 44, 46, 51

# Diatonic chord progressions as scale degrees (0 = I); one chord per bar unless a style says otherwise.
_PROGRESSIONS = ((0, 4, 5, 3), (5, 3, 0, 4), (1, 4, 0, 5), (0, 5, 3, 4), (0, 3, 4, 3), (5, 4, 3, 4))
_MAJOR = (0, 2, 4, 5, 7, 9, 11)


@dataclass
class Song:
    """A score: notes and controller moves in beats from the start, the tempo of every beat, the truth."""

    name: str
    meter: int  # beats per bar
    bpm: list[float]  # the tempo of each beat (one entry per beat of the song)
    programs: dict[int, int]  # channel -> GM program
    notes: list[tuple[float, float, int, int, int]] = field(
        default_factory=list
    )  # beat, length, pitch, vel, ch
    controls: list[tuple[float, int, int, int]] = field(
        default_factory=list
    )  # beat, channel, controller, value
    first_bar_beat: int = 0  # beat index of the first downbeat (a pickup makes it > 0)
    silent_beats: int = 0  # beats at the start with nothing playing (not part of the truth)

    def beat_seconds(self) -> np.ndarray:
        """Start time (s) of every beat, and of the end of the last one."""
        return np.concatenate([[0.0], np.cumsum(60.0 / np.asarray(self.bpm))])

    def seconds(self, beat: float) -> float:
        starts = self.beat_seconds()
        whole = min(int(beat), len(self.bpm) - 1)
        return float(starts[whole] + (beat - whole) * 60.0 / self.bpm[whole])

    @property
    def beats(self) -> np.ndarray:
        return self.beat_seconds()[self.silent_beats : len(self.bpm)]

    @property
    def downbeats(self) -> np.ndarray:
        starts = self.beat_seconds()
        bars = range(self.first_bar_beat, len(self.bpm), self.meter)
        return np.array([starts[b] for b in bars if b >= self.silent_beats])

    @property
    def tempo(self) -> float:
        """The mean tempo over the heard beats (BPM)."""
        return 60.0 / float(np.mean(np.diff(self.beats)))

    def note(self, beat: float, length: float, pitch: int, velocity: int, channel: int) -> None:
        if 0 <= beat < len(self.bpm) and 0 < pitch < 128:
            self.notes.append((beat, length, pitch, int(np.clip(velocity, 1, 127)), channel))


# -- MIDI file writing --------------------------------------------------------------------------------------


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_midi(song: Song, path: Path, jitter_ms: float = 8.0, seed: int = 0) -> Path:
    """Write `song` as a format-0 standard MIDI file; notes are moved by up to ±`jitter_ms` (human timing,
    not part of the truth)."""
    rng = np.random.default_rng(seed)
    events: list[tuple[int, int, bytes]] = []  # tick, order (offs before ons), bytes
    for beat, bpm in enumerate(song.bpm):
        micros = round(60_000_000 / bpm)
        events.append((beat * TICKS_PER_BEAT, 0, b"\xff\x51\x03" + micros.to_bytes(3, "big")))
    for channel, program in song.programs.items():
        events.append((0, 1, bytes([0xC0 | channel, program])))
        events.append((0, 1, bytes([0xB0 | channel, 91, 40])))  # a little reverb, as in a real mix
    for beat, channel, controller, value in song.controls:
        events.append((round(beat * TICKS_PER_BEAT), 2, bytes([0xB0 | channel, controller, value])))
    for beat, length, pitch, velocity, channel in song.notes:
        bpm = song.bpm[min(int(beat), len(song.bpm) - 1)]
        shift = rng.uniform(-jitter_ms, jitter_ms) / 1000.0 * bpm / 60.0 * TICKS_PER_BEAT
        on = max(0, round(beat * TICKS_PER_BEAT + shift))
        off = max(on + 1, round((beat + length) * TICKS_PER_BEAT + shift))
        events.append((on, 4, bytes([0x90 | channel, pitch, velocity])))
        events.append((off, 3, bytes([0x80 | channel, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    body, last = bytearray(), 0
    for tick, _, data in events:
        body += _varlen(tick - last) + data
        last = tick
    body += _varlen(TICKS_PER_BEAT) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body))
    return path


def can_render() -> bool:
    return shutil.which("fluidsynth") is not None and SOUNDFONT.is_file()


def render(song: Song, path: Path, sample_rate: int = 22050, seed: int = 0) -> Path:
    """Play `song` through the GM soundfont into a WAV file at `path` (mono-compatible stereo)."""
    midi = write_midi(song, path.with_suffix(".mid"), seed=seed)
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-g",
            "0.5",
            "-r",
            str(sample_rate),
            "-F",
            str(path),
            str(SOUNDFONT),
            str(midi),
        ],
        check=True,
        capture_output=True,
    )
    return path


# -- harmony helpers ----------------------------------------------------------------------------------------


class _Harmony:
    """Chords of a random major key: triads on scale degrees, voiced around a register."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.key = int(rng.integers(0, 12))
        self.progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]

    def degree(self, bar: int) -> int:
        return self.progression[bar % len(self.progression)]

    def chord(self, degree: int, low: int) -> list[int]:
        """The triad on `degree`, each tone the first at or above `low`."""
        tones = [(self.key + _MAJOR[(degree + step) % 7]) % 12 for step in (0, 2, 4)]
        return [low + (tone - low) % 12 for tone in tones]

    def root(self, degree: int, low: int) -> int:
        return self.chord(degree, low)[0]

    def scale_tone(self, index: int, low: int) -> int:
        octave, step = divmod(index, 7)
        return low + (self.key + _MAJOR[step] - low) % 12 + 12 * octave


def _song(name: str, meter: int, bpm: float, bars: int, programs: dict[int, int], lead_in: int = 1) -> Song:
    beats = lead_in + bars * meter
    return Song(name, meter, [bpm] * beats, programs, first_bar_beat=lead_in, silent_beats=lead_in)


def _bars(song: Song) -> range:
    return range((len(song.bpm) - song.first_bar_beat) // song.meter)


def _bar_start(song: Song, bar: int) -> int:
    return song.first_bar_beat + bar * song.meter


def _vel(rng: np.random.Generator, base: int, spread: int = 8) -> int:
    return int(base + rng.integers(-spread, spread + 1))


# -- styles -------------------------------------------------------------------------------------------------


def piano_ballad(bpm: float, bars: int, seed: int) -> Song:
    """Piano: 16th-note arpeggios in the right hand, a bass octave on 1 and a fifth on 3, sustain pedal."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("piano ballad", 4, bpm, bars, {0: 0}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        song.controls += [(start + 0.05, 0, 64, 127), (start + 3.95, 0, 64, 0)]
        root = harmony.root(degree, 36)
        song.note(start, 2.0, root, _vel(rng, 70), 0)
        song.note(start, 2.0, root + 12, _vel(rng, 60), 0)
        song.note(start + 2, 2.0, root + 7, _vel(rng, 58), 0)
        tones = harmony.chord(degree, 60)
        pattern = [
            tones[0],
            tones[1],
            tones[2],
            tones[0] + 12,
            tones[2] + 12,
            tones[0] + 12,
            tones[2],
            tones[1],
        ]
        for sixteenth in range(16):
            accent = 8 if sixteenth % 4 == 0 else 0
            song.note(start + sixteenth / 4, 0.5, pattern[sixteenth % 8], _vel(rng, 48 + accent, 6), 0)
    return song


def string_pad(bpm: float, bars: int, seed: int) -> Song:
    """Strings holding a chord a bar (swelling in), pizzicato bass on 1 and 3, a slow flute line."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("strings + pizzicato", 4, bpm, bars, {0: 48, 1: 45, 2: 73}), _Harmony(rng)
    every_beat = bool(rng.integers(0, 2))
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for tone in harmony.chord(degree, 55):
            song.note(start, 4.0, tone, _vel(rng, 62), 0)
        song.controls += [(start + step / 4, 0, 11, 70 + 14 * step) for step in range(4)]
        root = harmony.root(degree, 36)
        for beat in range(0, 4, 1 if every_beat else 2):
            song.note(
                start + beat, 0.5, root + (7 if beat == 2 else 0), _vel(rng, 88 if beat == 0 else 74), 1
            )
        melody = harmony.chord(degree, 72)
        song.note(start, 2.0, melody[int(rng.integers(0, 3))], _vel(rng, 60), 2)
        song.note(start + 2, 2.0, melody[int(rng.integers(0, 3))], _vel(rng, 56), 2)
    return song


def choir_pad(bpm: float, bars: int, seed: int) -> Song:
    """Choir and a warm pad changing chords every two beats, a fingered bass in half notes."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("choir pad", 4, bpm, bars, {0: 52, 1: 89, 2: 33}), _Harmony(rng)
    for bar in _bars(song):
        start = _bar_start(song, bar)
        for half in (0, 2):
            degree = harmony.progression[(2 * bar + half // 2) % len(harmony.progression)]
            for tone in harmony.chord(degree, 57):
                song.note(start + half, 2.0, tone, _vel(rng, 66), 0)
                song.note(start + half, 2.0, tone - 12, _vel(rng, 50), 1)
            song.note(start + half, 1.8, harmony.root(degree, 36), _vel(rng, 80 if half == 0 else 70), 2)
    return song


def waltz(bpm: float, bars: int, seed: int) -> Song:
    """3/4: bass on 1, chords on 2 and 3, a violin melody in quarters and halves."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("waltz", 3, bpm, bars, {0: 0, 1: 40}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        song.note(start, 1.0, harmony.root(degree, 40), _vel(rng, 80), 0)
        for beat in (1, 2):
            for tone in harmony.chord(degree, 60):
                song.note(start + beat, 0.6, tone, _vel(rng, 56), 0)
        melody = harmony.chord(degree, 72)
        if rng.random() < 0.5:
            song.note(start, 2.0, melody[0], _vel(rng, 70), 1)
            song.note(start + 2, 1.0, melody[1], _vel(rng, 62), 1)
        else:
            for beat in range(3):
                song.note(start + beat, 1.0, melody[beat], _vel(rng, 66), 1)
    return song


def shuffle_ballad(bpm: float, bars: int, seed: int) -> Song:
    """12/8: four beats a bar, each in three (piano triplet chords, ride); bass on 1 and 3, snare 2 and 4."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("12/8 ballad", 4, bpm, bars, {0: 0, 1: 33}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for beat in range(4):
            for third in range(3):
                at = start + beat + third / 3
                for tone in harmony.chord(degree, 60):
                    song.note(at, 0.3, tone, _vel(rng, 58 if third == 0 else 44), 0)
                song.note(at, 0.2, RIDE, _vel(rng, 50 if third == 0 else 38), DRUMS)
            song.note(start + beat, 0.3, KICK if beat in (0, 2) else SNARE, _vel(rng, 82), DRUMS)
        root = harmony.root(degree, 36)
        song.note(start, 1.9, root, _vel(rng, 84), 1)
        song.note(start + 2, 1.9, root + 7, _vel(rng, 76), 1)
    return song


def funk(bpm: float, bars: int, seed: int) -> Song:
    """Syncopated kick and slap bass that anticipates the bar, snare on 2 and 4 with ghost notes, 16th hats,
    muted guitar chords on the off-beat sixteenths."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("funk", 4, bpm, bars, {0: 36, 1: 28}), _Harmony(rng)
    kicks = [(0.0, 100), (0.75, 70), (1.5, 86), (2.5, 90), (3.25, 72)]
    bass = [(0.0, 0), (0.75, 12), (1.5, 0), (2.25, 7), (2.5, 10), (3.0, 12), (3.75, 0)]  # 3.75: anticipation
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for sixteenth in range(16):
            song.note(
                start + sixteenth / 4, 0.1, CLOSED_HAT, _vel(rng, 70 if sixteenth % 2 == 0 else 50), DRUMS
            )
        for at, velocity in kicks:
            song.note(start + at, 0.2, KICK, _vel(rng, velocity), DRUMS)
        for beat in (1, 3):
            song.note(start + beat, 0.2, SNARE, _vel(rng, 104), DRUMS)
        for ghost in (0.5, 1.75, 2.75):
            song.note(start + ghost, 0.1, SNARE, _vel(rng, 34), DRUMS)
        root = harmony.root(degree, 31)
        next_root = harmony.root(harmony.degree(bar + 1), 31)
        for at, interval in bass:
            pitch = next_root if at == 3.75 else root + interval
            song.note(start + at, 0.2, pitch, _vel(rng, 96 if at == 0 else 80), 0)
        for sixteenth in (1, 3, 6, 9, 11, 14):
            for tone in harmony.chord(degree, 64):
                song.note(start + sixteenth / 4, 0.12, tone, _vel(rng, 66), 1)
    return song


def reggae(bpm: float, bars: int, seed: int) -> Song:
    """One drop: kick and rim together on beat 3 only, hats on eighths, organ/guitar skank on the off-beats,
    a melodic bass that rests on beat 1."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("reggae one-drop", 4, bpm, bars, {0: 33, 1: 27, 2: 17}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for eighth in range(8):
            song.note(start + eighth / 2, 0.1, CLOSED_HAT, _vel(rng, 60 if eighth % 2 == 0 else 44), DRUMS)
        song.note(start + 2, 0.2, KICK, _vel(rng, 100), DRUMS)
        song.note(start + 2, 0.2, RIM, _vel(rng, 92), DRUMS)
        for beat in range(4):
            for tone in harmony.chord(degree, 60):
                song.note(start + beat + 0.5, 0.2, tone, _vel(rng, 74), 1)
                song.note(start + beat + 0.5, 0.25, tone + 12, _vel(rng, 50), 2)
        root = harmony.root(degree, 36)
        for at, interval in ((0.5, 0), (1.0, 7), (1.5, 12), (2.5, 7), (3.0, 4), (3.5, 2)):
            song.note(start + at, 0.4, root + interval, _vel(rng, 90), 0)
    return song


def hiphop(bpm: float, bars: int, seed: int) -> Song:
    """Boom bap with swung sixteenths: kick on 1 and the swung 'a' of 2, snare on 2 and 4, Rhodes chords."""
    rng = np.random.default_rng(seed)
    swing = float(rng.uniform(0.58, 0.66))
    song, harmony = _song("hip-hop swing", 4, bpm, bars, {0: 4, 1: 33}), _Harmony(rng)

    def swung(sixteenth: int) -> float:
        pair, second = divmod(sixteenth, 2)
        return pair * 0.5 + (swing * 0.5 if second else 0.0)

    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for sixteenth in range(16):
            song.note(
                start + swung(sixteenth), 0.1, CLOSED_HAT, _vel(rng, 62 if sixteenth % 2 == 0 else 40), DRUMS
            )
        for sixteenth, velocity in ((0, 104), (7, 80), (10, 92)):
            song.note(start + swung(sixteenth), 0.2, KICK, _vel(rng, velocity), DRUMS)
        for beat in (1, 3):
            song.note(start + beat, 0.2, SNARE, _vel(rng, 100), DRUMS)
        for tone in [*harmony.chord(degree, 57), harmony.scale_tone(degree + 6, 60)]:
            song.note(start, 3.5, tone, _vel(rng, 58), 0)
        root = harmony.root(degree, 33)
        song.note(start, 1.5, root, _vel(rng, 92), 1)
        song.note(start + swung(10), 1.0, root, _vel(rng, 82), 1)
    return song


def edm(bpm: float, bars: int, seed: int) -> Song:
    """Four on the floor, claps on 2 and 4, open hats on the off-beats, a saw pad ducked by the kick
    (sidechain, as volume moves every beat), an off-beat sub bass."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("EDM sidechain", 4, bpm, bars, {0: 90, 1: 38, 2: 81}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for tone in harmony.chord(degree, 60):
            song.note(start, 4.0, tone, _vel(rng, 84), 0)
        root = harmony.root(degree, 33)
        for beat in range(4):
            at = start + beat
            song.note(at, 0.2, KICK, _vel(rng, 110, 4), DRUMS)
            song.note(at + 0.5, 0.2, OPEN_HAT, _vel(rng, 70), DRUMS)
            if beat in (1, 3):
                song.note(at, 0.2, CLAP, _vel(rng, 96), DRUMS)
            song.controls += [(at, 0, 7, 30), (at + 0.25, 0, 7, 80), (at + 0.5, 0, 7, 110)]
            song.note(at + 0.5, 0.4, root, _vel(rng, 96), 1)
        if bar % 2:
            for eighth in range(0, 8, 3):
                song.note(start + eighth / 2, 0.4, harmony.chord(degree, 72)[eighth % 3], _vel(rng, 70), 2)
    return song


def solo_guitar(bpm: float, bars: int, seed: int) -> Song:
    """Fingerpicked nylon guitar: the thumb on every beat (root and fifth), treble notes between."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("solo guitar", 4, bpm, bars, {0: 24}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        root, tones = harmony.root(degree, 40), harmony.chord(degree, 59)
        for beat in range(4):
            thumb = root + (7 if beat % 2 else 0)
            song.note(start + beat, 1.0, thumb, _vel(rng, 78 if beat == 0 else 66), 0)
            song.note(start + beat + 0.5, 0.5, tones[(beat + 1) % 3], _vel(rng, 50), 0)
            if beat % 2 == 0:
                song.note(start + beat, 1.0, tones[2] + 12 if beat else tones[0] + 12, _vel(rng, 58), 0)
    return song


def rubato_piano(bpm: float, bars: int, seed: int) -> Song:
    """Piano with a breathing tempo (±8 %, slowing into every fourth bar): broken chords in eighths and a
    melody in quarters."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("rubato piano", 4, bpm, bars, {0: 0}), _Harmony(rng)
    phase = rng.uniform(0, 2 * np.pi)
    for index in range(len(song.bpm)):
        bar_position = (index - song.first_bar_beat) / (4 * song.meter)
        song.bpm[index] = bpm * (1.0 + 0.08 * np.sin(2 * np.pi * bar_position + phase))
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        tones = [harmony.root(degree, 36), *harmony.chord(degree, 48)]
        for eighth in range(8):
            song.note(start + eighth / 2, 0.6, tones[[0, 1, 2, 3, 2, 1, 2, 3][eighth]], _vel(rng, 52), 0)
        melody = harmony.chord(degree, 67)
        for beat in range(4):
            song.note(start + beat, 0.9, melody[int(rng.integers(0, 3))] + 12 * (beat == 0), _vel(rng, 72), 0)
    return song


def pop_band(bpm: float, bars: int, seed: int) -> Song:
    """Drums (kick 1 and 3, snare 2 and 4, eighth hats), picked bass in eighths, piano chords, strings."""
    rng = np.random.default_rng(seed)
    song, harmony = _song("pop band", 4, bpm, bars, {0: 0, 1: 34, 2: 48}), _Harmony(rng)
    for bar in _bars(song):
        start, degree = _bar_start(song, bar), harmony.degree(bar)
        for eighth in range(8):
            song.note(start + eighth / 2, 0.1, CLOSED_HAT, _vel(rng, 66), DRUMS)
            song.note(start + eighth / 2, 0.45, harmony.root(degree, 36), _vel(rng, 80), 1)
        for beat in range(4):
            song.note(start + beat, 0.2, KICK if beat % 2 == 0 else SNARE, _vel(rng, 96), DRUMS)
            for tone in harmony.chord(degree, 60):
                song.note(start + beat, 0.8, tone, _vel(rng, 60), 0)
        for tone in harmony.chord(degree, 72):
            song.note(start, 4.0, tone, _vel(rng, 50), 2)
    return song


#: Every style with the tempo range it is played at (BPM of the tactus beat).
STYLES: dict[str, tuple[Callable[[float, int, int], Song], tuple[float, float]]] = {
    "ballad": (piano_ballad, (62.0, 80.0)),
    "strings": (string_pad, (60.0, 76.0)),
    "choir": (choir_pad, (68.0, 92.0)),
    "waltz": (waltz, (84.0, 150.0)),
    "12/8": (shuffle_ballad, (54.0, 72.0)),
    "funk": (funk, (92.0, 112.0)),
    "reggae": (reggae, (66.0, 84.0)),
    "hip-hop": (hiphop, (82.0, 96.0)),
    "edm": (edm, (120.0, 128.0)),
    "guitar": (solo_guitar, (76.0, 110.0)),
    "rubato": (rubato_piano, (64.0, 92.0)),
    "pop": (pop_band, (96.0, 132.0)),
}


def song_for(style: str, seed: int, duration_s: float = 30.0) -> Song:
    """A song of `style` at a seeded tempo in the style's range, as many whole bars as fit `duration_s`."""
    make, (low, high) = STYLES[style]
    bpm = float(np.random.default_rng(seed).uniform(low, high))
    meter = make(bpm, 1, seed).meter
    bars = max(2, int(duration_s * bpm / 60.0 / meter))
    return make(round(bpm, 2), bars, seed)
