"""Regenerate the demo media and project: `python resources/demo/make_demo.py`.

The photographs are public-domain / CC0 images shipped with scikit-image (see README). The music is made
here, from code: a 120 BPM four-bar loop of kick, snare, hi-hats, bass and chords, so it can be
redistributed freely and its beats are known exactly (every 0.5 s from 0 s).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from app.engine.audio.beats import analyze_beats  # noqa: E402
from app.engine.builder import ActSource, build_project  # noqa: E402
from app.model import CameraMove, MotionSettings, TransitionKind, TransitionSpec  # noqa: E402
from app.model.project_file import save_project  # noqa: E402

RATE = 48000
BPM = 120.0
BARS = 9  # 4 acts x 8 beats = 32 beats, plus a bar to ring out
MUSIC = HERE / "music.m4a"
PROJECT = HERE / "demo.storybeat"


def _envelope(length: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(length) / RATE
    return np.minimum(t / attack, 1.0) * np.exp(-t / decay)


def _kick() -> np.ndarray:
    t = np.arange(int(0.35 * RATE)) / RATE
    sweep = 2 * np.pi * (45 * t + 90 * (1 - np.exp(-t * 30)) / 30)
    return np.sin(sweep) * _envelope(t.size, 0.002, 0.12)


def _snare(rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * RATE)
    t = np.arange(n) / RATE
    body = 0.4 * np.sin(2 * np.pi * 190 * t)
    return (0.6 * rng.standard_normal(n) + body) * _envelope(n, 0.001, 0.06)


def _hat(rng: np.random.Generator) -> np.ndarray:
    n = int(0.06 * RATE)
    noise = rng.standard_normal(n)
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    return 0.5 * noise * _envelope(n, 0.0005, 0.015)


def _tone(freq: float, seconds: float, decay: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)
    return wave * _envelope(t.size, 0.01, decay)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float) -> None:
    start = round(at_s * RATE)
    end = min(track.size, start + sound.size)
    track[start:end] += gain * sound[: end - start]


def make_music() -> np.ndarray:
    rng = np.random.default_rng(7)
    beat = 60.0 / BPM
    total = np.zeros(int((BARS * 4 + 2) * beat * RATE))
    kick, snare = _kick(), _snare(rng)
    chords = [(110.0, 130.8, 164.8), (87.3, 110.0, 130.8), (130.8, 164.8, 196.0), (98.0, 123.5, 146.8)]
    for bar in range(BARS):
        root = chords[bar % 4]
        for step in range(8):  # eighth notes
            at = (bar * 4 + step / 2) * beat
            _place(total, _hat(rng), at, 0.25 if step % 2 else 0.35)
        for quarter in range(4):
            at = (bar * 4 + quarter) * beat
            if quarter in (0, 2):
                _place(total, kick, at, 0.9 if quarter == 0 else 0.7)
            else:
                _place(total, snare, at, 0.55)
            _place(total, _tone(root[0] / 2, beat, 0.2), at, 0.35)
        for note in root:
            _place(total, _tone(note * 2, 4 * beat, 1.2), bar * 4 * beat, 0.08)
    return (0.8 * total / np.max(np.abs(total))).astype(np.float32)


def write_m4a(samples: np.ndarray, path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE, layout="stereo")
        stream.bit_rate = 160_000
        stereo = np.ascontiguousarray(np.stack([samples, samples]))
        for start in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                stereo[:, start : start + 1024], format="fltp", layout="stereo"
            )
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def main() -> None:
    write_m4a(make_music(), MUSIC)
    images = sorted(HERE.glob("0*.jpg"))
    prompts = [
        "an astronaut portrait, studio light",
        "a tabby cat, soft window light",
        "a cup of coffee on a table",
        "a rocket lifting off at dawn",
    ]
    sources = [ActSource(image, prompt) for image, prompt in zip(images, prompts, strict=True)]
    project = build_project(PROJECT, sources, MUSIC, analyze_beats(MUSIC), Fraction(24), (1280, 720), 8)
    looks = [
        (
            MotionSettings(camera=CameraMove.zoom_in, intensity=0.6),
            TransitionSpec(kind=TransitionKind.crossfade, frames=12),
        ),
        (
            MotionSettings(camera=CameraMove.pan_right, intensity=0.6, audio_reactivity=0.8, react_zoom=1.0),
            TransitionSpec(kind=TransitionKind.flow_morph, frames=12),
        ),
        (
            MotionSettings(camera=CameraMove.dolly_in, intensity=0.6),
            TransitionSpec(kind=TransitionKind.dip, frames=8),
        ),
        (
            MotionSettings(
                camera=CameraMove.pan_up,
                intensity=0.6,
                audio_reactivity=0.6,
                react_flash=0.5,
                react_shake=0.4,
            ),
            TransitionSpec(),
        ),
    ]
    for act, (motion, transition) in zip(project.acts, looks, strict=True):
        act.motion = motion
        act.transition = transition
    save_project(project, PROJECT)
    print(f"wrote {MUSIC.name} and {PROJECT.name}: {len(project.acts)} acts, {project.beats.tempo} BPM")


if __name__ == "__main__":
    main()
