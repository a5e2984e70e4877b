"""A labelled set of films for calibrating and testing the quality checks, built in code from the demo photos.

Clean clips are 2–4 acts of 1–3 s at 24 fps, each act one demo photo (or a crop of it) under a camera move of
the built-in motion backend, with every cut on a beat of a 120 BPM grid (`beat_sync=True`). Some cuts join
two shots of one scene (two crops of the same photo, spans sharing a template id): those are the cuts where
a lighting step can be told from a change of scene, so that is where lighting steps are injected. No clean
clip reuses a reference image or has a near-still act.

Defect clips are clean clips with one kind of defect injected at a known place and strength (`Defect`
start/end in seconds): brightness oscillation, a lighting step at a cut, cuts off the beat, noise shimmer on
textured regions, near-still acts and a reused reference. Frames that a defect leaves alone are shared,
read-only, with the clean clip they came from, which keeps the whole set small in memory. `excerpt` cuts a
clip down to some of its acts, for tests that need a short film.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from app.engine.backends.motion import MotionClip
from app.engine.keyframe import load_image
from app.engine.qc.types import ActSpan, CheckKind, QCInput
from app.model.act import CameraMove, FitMode, MotionSettings

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
FPS = Fraction(24)
BEAT_SECONDS = 0.5  # 120 BPM
FRAMES_PER_BEAT = 12  # BEAT_SECONDS at FPS: whole frames, so a cut can sit exactly on a beat
STRENGTHS = ("mild", "moderate", "strong")

# Injected defect strengths, indexed like STRENGTHS.
FLICKER_GAIN = (0.02, 0.05, 0.12)  # per-frame brightness gain ±a, alternating sign frame by frame
EXPOSURE_STEP = (1.06, 1.15, 1.35)  # the next shot's brightness gain (about 0.08, 0.2 and 0.43 stops)
WHITE_BALANCE_STEP = (0.03, 0.07, 0.15)  # the next shot's red gained and blue lost by this share
BEAT_OFFSET_SECONDS = (0.06, 0.12, 0.2)
SHIMMER_NOISE_LEVELS = (3.0, 6.0, 12.0)  # standard deviation of the noise, 8-bit levels
NEAR_STILL_INTENSITY = (0.06, 0.02, 0.0)  # camera intensity of the near-still act (clean acts: ≥ 0.5)

FLICKER_SECONDS = 1.0
SHIMMER_SECONDS = 1.0
# Textured pixels for the shimmer: local standard deviation of grey over a 5x5 box above this (8-bit levels).
_TEXTURE_STD_LEVELS = 10.0


@dataclass(frozen=True)
class Defect:
    kind: CheckKind
    strength: str  # "mild", "moderate" or "strong"
    start: float  # seconds into the film
    end: float  # seconds (> start)


@dataclass(frozen=True)
class LabelledClip:
    name: str
    qc_input: QCInput
    defects: tuple[Defect, ...]  # empty: the clip is clean


@dataclass(frozen=True)
class _Shot:
    photo: str  # file name in resources/demo
    camera: CameraMove
    intensity: float
    beats: int  # act length in beats (FRAMES_PER_BEAT frames each)
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # left, top, right, bottom (fractions)


_ASTRONAUT, _CAT, _COFFEE, _ROCKET = "01_astronaut.jpg", "02_chelsea.jpg", "03_coffee.jpg", "04_rocket.jpg"
# Two shots of one scene: overlapping left and right crops of one photo.
_LEFT, _RIGHT = (0.0, 0.0, 0.65, 1.0), (0.35, 0.0, 1.0, 1.0)

# The clean clips. Consecutive shots of one photo (different crops) are one scene meant to share a look.
_CLEAN_PLANS: dict[str, tuple[_Shot, ...]] = {
    "three-photos": (
        _Shot(_ASTRONAUT, CameraMove.zoom_in, 0.8, 4),
        _Shot(_CAT, CameraMove.pan_right, 0.7, 3),
        _Shot(_ROCKET, CameraMove.zoom_out, 0.6, 4),
    ),
    "cat-scene": (
        _Shot(_CAT, CameraMove.pan_left, 0.6, 5, _LEFT),
        _Shot(_CAT, CameraMove.zoom_in, 0.7, 4, _RIGHT),
        _Shot(_COFFEE, CameraMove.drift, 0.8, 3),
    ),
    "coffee-scene": (
        _Shot(_COFFEE, CameraMove.rotate_cw, 0.6, 4, _LEFT),
        _Shot(_COFFEE, CameraMove.dolly_in, 0.7, 4, _RIGHT),
        _Shot(_ASTRONAUT, CameraMove.pan_up, 0.6, 2),
    ),
    "rocket-scene": (
        _Shot(_ROCKET, CameraMove.pan_up, 0.8, 6, _LEFT),
        _Shot(_ROCKET, CameraMove.zoom_in, 0.5, 3, _RIGHT),
    ),
    "four-photos": (
        _Shot(_ASTRONAUT, CameraMove.dolly_out, 0.7, 3),
        _Shot(_COFFEE, CameraMove.pan_down, 0.9, 2),
        _Shot(_CAT, CameraMove.rotate_ccw, 0.6, 3),
        _Shot(_ROCKET, CameraMove.drift, 0.9, 4),
    ),
    "astronaut-scene": (
        _Shot(_ASTRONAUT, CameraMove.zoom_in, 0.9, 4, _LEFT),
        _Shot(_ASTRONAUT, CameraMove.pan_right, 0.8, 4, _RIGHT),
        _Shot(_CAT, CameraMove.dolly_out, 0.6, 2),
    ),
    "pans": (
        _Shot(_CAT, CameraMove.pan_down, 1.0, 4),
        _Shot(_ROCKET, CameraMove.pan_left, 1.0, 2),
        _Shot(_COFFEE, CameraMove.zoom_in, 1.0, 4),
    ),
    "drifts": (
        _Shot(_COFFEE, CameraMove.drift, 1.0, 4),
        _Shot(_ASTRONAUT, CameraMove.drift, 0.5, 3),
        _Shot(_CAT, CameraMove.drift, 0.7, 4),
        _Shot(_ROCKET, CameraMove.rotate_cw, 0.9, 2),
    ),
}


@functools.cache
def _photo(name: str) -> np.ndarray:
    photo = load_image(DEMO / name)
    photo.setflags(write=False)
    return photo


def _reference(shot: _Shot) -> np.ndarray:
    photo = _photo(shot.photo)
    height, width = photo.shape[:2]
    left, top, right, bottom = shot.crop
    crop = photo[round(top * height) : round(bottom * height), round(left * width) : round(right * width)]
    return np.ascontiguousarray(crop)


def _frozen(frame: np.ndarray) -> np.ndarray:
    frame = np.ascontiguousarray(frame)
    frame.setflags(write=False)
    return frame


def _render(shots: tuple[_Shot, ...], width: int) -> tuple[tuple[np.ndarray, ...], tuple[ActSpan, ...]]:
    """Frames (read-only, RGB uint8, width x 9/16 width) and spans of consecutive acts, one per shot."""
    height = 2 * round(width * 9 / 32)
    photo_uses = [shot.photo for shot in shots]
    frames: list[np.ndarray] = []
    spans: list[ActSpan] = []
    for number, shot in enumerate(shots, start=1):
        reference = _reference(shot)
        length = shot.beats * FRAMES_PER_BEAT
        settings = MotionSettings(camera=shot.camera, intensity=shot.intensity)
        clip = MotionClip([reference], FitMode.cover, settings, length, width, height, seed=number)
        start = len(frames)
        frames.extend(_frozen(clip.frame(index)) for index in range(length))
        shared_look = photo_uses.count(shot.photo) > 1
        spans.append(
            ActSpan(
                start=start,
                end=len(frames),
                act_id=f"act-{number}",
                name=f"{Path(shot.photo).stem} {shot.camera}",
                references=(reference,),
                template=f"look-{Path(shot.photo).stem}" if shared_look else None,
            )
        )
    return tuple(frames), tuple(spans)


def _beat_grid(frame_count: int, offset: float = 0.0) -> tuple[float, ...]:
    """Beats every BEAT_SECONDS over the film (seconds), shifted by `offset`; none before 0."""
    duration = frame_count / FPS
    count = int(duration / BEAT_SECONDS) + 2
    return tuple(t for t in (k * BEAT_SECONDS + offset for k in range(count)) if 0.0 <= t <= duration)


def _clip(name: str, shots: tuple[_Shot, ...], width: int) -> LabelledClip:
    frames, spans = _render(shots, width)
    beats = _beat_grid(len(frames))
    qc = QCInput(frames=frames, fps=FPS, spans=spans, beats=beats, onsets=beats, beat_sync=True)
    return LabelledClip(name=name, qc_input=qc, defects=())


def clean_clips(width: int = 320) -> list[LabelledClip]:
    """The clean clips (no defect), frames `width` pixels wide (16:9) at 24 fps."""
    return [_clip(f"clean/{name}", shots, width) for name, shots in _CLEAN_PLANS.items()]


def _base_name(clean: LabelledClip) -> str:
    return clean.name.removeprefix("clean/")


def _seconds(frame: int) -> float:
    return float(frame / FPS)


def _with_frames(
    clean: LabelledClip, name: str, replaced: dict[int, np.ndarray], defects: list[Defect]
) -> LabelledClip:
    frames = list(clean.qc_input.frames)
    for index, frame in replaced.items():
        frames[index] = _frozen(frame)
    qc = replace(clean.qc_input, frames=tuple(frames))
    return LabelledClip(name=name, qc_input=qc, defects=tuple(defects))


def _gain(frame: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    scaled = frame.astype(np.float32) * np.array(gains, dtype=np.float32)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _flicker(clean: LabelledClip, level: int, act: int) -> LabelledClip:
    """A brightness gain of 1 ± a, alternating frame by frame, over FLICKER_SECONDS mid-way through act
    number `act` (1-based)."""
    span = clean.qc_input.spans[act - 1]
    window = round(FLICKER_SECONDS * FPS)
    first = span.start + (span.end - span.start - window) // 2
    amplitude = FLICKER_GAIN[level]
    replaced = {}
    for step, index in enumerate(range(first, first + window)):
        gain = 1.0 + amplitude * (1 if step % 2 == 0 else -1)
        replaced[index] = _gain(clean.qc_input.frames[index], (gain, gain, gain))
    defect = Defect(CheckKind.flicker, STRENGTHS[level], _seconds(first), _seconds(first + window))
    return _with_frames(clean, f"flicker/{STRENGTHS[level]}/{_base_name(clean)}", replaced, [defect])


def _same_scene_cut(clean: LabelledClip) -> int:
    """Index of the first span that continues the previous span's scene (same template id)."""
    spans = clean.qc_input.spans
    return next(
        n for n in range(1, len(spans)) if spans[n].template and spans[n].template == spans[n - 1].template
    )


def _lighting_step(clean: LabelledClip, level: int, variant: str) -> LabelledClip:
    """The second shot of a one-scene cut made brighter ("exposure") or warmer ("white_balance") or both."""
    span = clean.qc_input.spans[_same_scene_cut(clean)]
    exposure = EXPOSURE_STEP[level] if "exposure" in variant else 1.0
    warmth = WHITE_BALANCE_STEP[level] if "white_balance" in variant else 0.0
    gains = (exposure * (1.0 + warmth), exposure, exposure * (1.0 - warmth))
    replaced = {index: _gain(clean.qc_input.frames[index], gains) for index in range(span.start, span.end)}
    defect = Defect(CheckKind.lighting_jump, STRENGTHS[level], _seconds(span.start), _seconds(span.end))
    return _with_frames(
        clean, f"lighting_jump/{STRENGTHS[level]}/{variant}/{_base_name(clean)}", replaced, [defect]
    )


def _off_beat(clean: LabelledClip, level: int, sign: float) -> LabelledClip:
    """The beat grid moved by ±offset: every cut then sits exactly that far from its beat.

    Moving the cuts themselves could not give these offsets: at 24 fps a cut moves in steps of 41.7 ms.
    """
    offset = sign * BEAT_OFFSET_SECONDS[level]
    qc = clean.qc_input
    beats = _beat_grid(len(qc.frames), offset)
    defects = []
    for cut in qc.cuts:
        cut_seconds = _seconds(cut)
        defects.append(
            Defect(
                CheckKind.off_beat_motion,
                STRENGTHS[level],
                min(cut_seconds, cut_seconds + offset),
                max(cut_seconds, cut_seconds + offset),
            )
        )
    shifted = replace(qc, beats=beats, onsets=beats)
    return LabelledClip(f"off_beat_motion/{STRENGTHS[level]}/{_base_name(clean)}", shifted, tuple(defects))


def _texture_mask(frame: np.ndarray) -> np.ndarray:
    """Weight 0–1 of each pixel's texture: local grey standard deviation over a 5x5 box past
    _TEXTURE_STD_LEVELS, feathered so the noise has no hard edge."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (5, 5))
    variance = np.maximum(cv2.blur(grey * grey, (5, 5)) - mean * mean, 0.0)
    textured = (np.sqrt(variance) > _TEXTURE_STD_LEVELS).astype(np.float32)
    return cv2.GaussianBlur(textured, (0, 0), 1.5)


def _shimmer(clean: LabelledClip, level: int, act: int, seed: int) -> LabelledClip:
    """Fine grey noise, drawn afresh every frame, on the textured pixels over SHIMMER_SECONDS mid-way
    through act number `act` (1-based)."""
    span = clean.qc_input.spans[act - 1]
    window = round(SHIMMER_SECONDS * FPS)
    first = span.start + (span.end - span.start - window) // 2
    rng = np.random.default_rng(seed)
    replaced = {}
    for index in range(first, first + window):
        frame = clean.qc_input.frames[index]
        # A little blur makes the noise grain-sized (a pixel or two) like boiling detail, not pixel noise.
        noise = cv2.GaussianBlur(rng.standard_normal(frame.shape[:2]).astype(np.float32), (0, 0), 0.7)
        noise = noise * np.float32(SHIMMER_NOISE_LEVELS[level] / max(float(noise.std()), 1e-6))
        shimmer = (noise * _texture_mask(frame))[..., np.newaxis]
        replaced[index] = np.clip(np.rint(frame.astype(np.float32) + shimmer), 0, 255).astype(np.uint8)
    defect = Defect(CheckKind.texture_artifacts, STRENGTHS[level], _seconds(first), _seconds(first + window))
    return _with_frames(
        clean, f"texture_artifacts/{STRENGTHS[level]}/{_base_name(clean)}", replaced, [defect]
    )


def _near_still(base: str, level: int, act: int, width: int) -> LabelledClip:
    """Act number `act` (1-based) of a clean plan with its camera almost or entirely still."""
    shots = list(_CLEAN_PLANS[base])
    shots[act - 1] = replace(shots[act - 1], intensity=NEAR_STILL_INTENSITY[level])
    clip = _clip(f"reference_overfit/{STRENGTHS[level]}/near-still/{base}", tuple(shots), width)
    span = clip.qc_input.spans[act - 1]
    defect = Defect(CheckKind.reference_overfit, STRENGTHS[level], _seconds(span.start), _seconds(span.end))
    return replace(clip, defects=(defect,))


def _reused_reference(base: str, level: int, width: int) -> LabelledClip:
    """The last act shows the first act's photo again: with another move (mild), the same move at
    another intensity (moderate) or the very same shot (strong). The defect is the repeat: the last act."""
    shots = list(_CLEAN_PLANS[base])
    first = shots[0]
    reuse = (
        replace(first, camera=shots[-1].camera, intensity=shots[-1].intensity),
        replace(first, intensity=max(0.5, first.intensity - 0.3)),
        first,
    )[level]
    shots[-1] = replace(reuse, beats=shots[-1].beats)
    clip = _clip(f"reference_overfit/{STRENGTHS[level]}/reused/{base}", tuple(shots), width)
    repeat = clip.qc_input.spans[-1]
    defect = Defect(
        CheckKind.reference_overfit, STRENGTHS[level], _seconds(repeat.start), _seconds(repeat.end)
    )
    return replace(clip, defects=(defect,))


def defect_clips(width: int = 320, kinds: Collection[CheckKind] | None = None) -> list[LabelledClip]:
    """Every defect kind (or only `kinds`) at every strength on a few clean clips, frames `width` pixels
    wide at 24 fps. Each clip carries the defects it was given (kind, strength, where in seconds) and
    nothing else.
    """
    wanted = set(CheckKind) if kinds is None else set(kinds)
    clean = {_base_name(clip): clip for clip in clean_clips(width)}
    clips: list[LabelledClip] = []
    for level in range(len(STRENGTHS)):
        if CheckKind.flicker in wanted:
            clips += [
                _flicker(clean[name], level, act)
                for name, act in (("three-photos", 3), ("coffee-scene", 2), ("drifts", 3))
            ]
        if CheckKind.lighting_jump in wanted:
            clips += [
                _lighting_step(clean[name], level, variant)
                for name, variant in (
                    ("cat-scene", "exposure"),
                    ("rocket-scene", "white_balance"),
                    ("astronaut-scene", "exposure+white_balance"),
                )
            ]
        if CheckKind.off_beat_motion in wanted:
            clips += [
                _off_beat(clean[name], level, sign)
                for name, sign in (("three-photos", 1.0), ("four-photos", -1.0), ("pans", 1.0))
            ]
        if CheckKind.texture_artifacts in wanted:
            clips += [
                _shimmer(clean[name], level, act, seed=level)
                for name, act in (("cat-scene", 1), ("coffee-scene", 1), ("four-photos", 4))
            ]
        if CheckKind.reference_overfit in wanted:
            clips += [
                _near_still(name, level, act, width) for name, act in (("three-photos", 2), ("drifts", 1))
            ]
            clips += [_reused_reference(name, level, width) for name in ("four-photos", "drifts")]
    return clips


def excerpt(clip: LabelledClip, first_act: int, last_act: int) -> LabelledClip:
    """Acts `first_act` … `last_act` (from 1, inclusive) of `clip` as a film of their own: frames, spans,
    beats, onsets and the defects that fall in them, all moved to start at 0 (for tests that need a
    short film)."""
    qc = clip.qc_input
    spans = qc.spans[first_act - 1 : last_act]
    first, end = spans[0].start, spans[-1].end
    offset, duration = _seconds(first), _seconds(end - first)

    def moved(times: Sequence[float]) -> tuple[float, ...]:
        return tuple(t - offset for t in times if 0.0 <= t - offset <= duration)

    defects = tuple(
        replace(defect, start=defect.start - offset, end=defect.end - offset)
        for defect in clip.defects
        if defect.end > offset and defect.start < offset + duration
    )
    short = replace(
        qc,
        frames=tuple(qc.frames[first:end]),
        spans=tuple(replace(span, start=span.start - first, end=span.end - first) for span in spans),
        beats=moved(qc.beats),
        onsets=moved(qc.onsets),
    )
    return LabelledClip(f"{clip.name}[acts {first_act}-{last_act}]", short, defects)
