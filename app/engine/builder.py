"""Building a new project from images, prompts and a music file: one act per picture, cuts on beats."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from app.engine.audio.beats import BeatAnalysis
from app.engine.audio.grid import beat_grid
from app.engine.keyframe import load_image
from app.errors import InputError
from app.model import Act, AudioClip, MediaRef, Project, ProjectSettings
from app.model.pacing import ApplyPacing, PacingResult, parse_pacing
from app.model.timebase import seconds_to_frames


@dataclass(frozen=True)
class ActSource:
    image: Path | None
    prompt: str


def act_sources(images: list[Path], prompts: list[str]) -> list[ActSource]:
    """Pair images with prompts in order; extra prompts become acts without an image (placeholder slates)."""
    count = max(len(images), len(prompts))
    if count == 0:
        raise InputError("give at least one --image or --prompt: each becomes an act")
    return [
        ActSource(images[i] if i < len(images) else None, prompts[i] if i < len(prompts) else "")
        for i in range(count)
    ]


def cut_times(beats: BeatAnalysis, acts: int, beats_per_act: int) -> list[float]:
    """End time (seconds) of every act: cuts every `beats_per_act` beats, counted from the first downbeat.

    The first act starts at 0 s and also holds any pickup before the first downbeat, so the cuts fall on bar
    starts when `beats_per_act` is a multiple of the bar. Past the last detected beat the grid is extended at
    the detected tempo, so a short track still yields full-length acts (the music then ends before the film).
    """
    anchor = beats.beats.index(beats.downbeats[0]) if beats.downbeats else 0
    period = 60.0 / beats.tempo
    last = len(beats.beats) - 1
    ends = []
    for i in range(acts):
        index = anchor + (i + 1) * beats_per_act
        ends.append(beats.beats[index] if index <= last else beats.beats[last] + (index - last) * period)
    return ends


def build_project(
    project_path: Path,
    sources: list[ActSource],
    audio: Path,
    beats: BeatAnalysis,
    fps: Fraction,
    size: tuple[int, int],
    beats_per_act: int,
) -> Project:
    """A project whose acts cut on every `beats_per_act`-th beat of `audio`, media referenced relatively.

    Every image is decoded first, so a bad one is reported before anything is written.
    """
    project_dir = project_path.parent
    for source in sources:
        if source.image is not None:
            load_image(source.image)
    ends = [seconds_to_frames(t, fps) for t in cut_times(beats, len(sources), beats_per_act)]
    starts = [0, *ends[:-1]]
    acts = []
    for i, (source, start, end) in enumerate(zip(sources, starts, ends, strict=True)):
        if end <= start:
            raise InputError(f"--beats-per-act {beats_per_act}: act {i + 1} would be empty at {fps} fps")
        name = source.image.stem if source.image else (source.prompt[:32] or f"Act {i + 1}")
        acts.append(
            Act(
                name=name,
                duration_frames=end - start,
                prompt=source.prompt,
                references=[MediaRef.for_file(source.image, project_dir)] if source.image else [],
                seed=i,
            )
        )
    music = MediaRef.for_file(audio, project_dir)
    return Project(
        settings=ProjectSettings(fps=fps, width=size[0], height=size[1]),
        acts=acts,
        audio=[AudioClip(media=music)],
        beats=beat_grid(beats, music),
    )


def apply_pacing(project: Project, spec: str) -> PacingResult:
    """Re-cut a freshly built project with a pacing preset ("structure", "downbeats:bars=2", "every-8-beats").

    The film then spans the whole song (see app.model.pacing), so the song-structure preset can follow every
    section; the result's `summary` says what changed and how many more acts would cover the song.
    Raises InputError naming the preset when it is unknown or cannot cut these acts.
    """
    preset, params = parse_pacing(spec)
    command = ApplyPacing(preset, **params)
    command.apply(project)
    assert command.result is not None  # apply sets it or raises
    return command.result
