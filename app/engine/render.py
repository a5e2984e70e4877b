"""Rendering a whole project to a file: validation, act clips, timeline, audio mix, export."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np

from app.engine.audio.decode import PcmFile
from app.engine.audio.mix import AudioMixer, MixClip
from app.engine.backends import get_backend
from app.engine.cache import StageCache, cache_key
from app.engine.cancel import CancelToken, ProgressFn, no_progress
from app.engine.clip import LazyClip
from app.engine.export import ExportFormat, ExportSettings, export_video, format_for_path
from app.engine.models.catalog import Task, tasks_of
from app.engine.pipeline import ActPipeline, RenderTarget
from app.engine.recipe import project_recipe, recipe_json
from app.engine.timeline import TimelineFrames
from app.errors import InputError
from app.model import AudioClip, FrameRange, Project
from app.model.timebase import frames_to_seconds

EXPORT_SAMPLE_RATE = 48000
EXPORT_CHANNELS = 2
#: Output heights an export may ask for (pixels, even: video encoders subsample chroma by two).
MIN_EXPORT_HEIGHT, MAX_EXPORT_HEIGHT = 16, 4320
#: File name of a decoded audio entry in the stage cache (raw PCM; the key is the source's content hash).
_PCM_FILE = "audio.f32"


def check_renderable(
    project: Project, pipeline: ActPipeline, backend_override: str | None = None, draft: bool = False
) -> None:
    """Refuse, before any work, a project that cannot render: no acts, missing media, unknown backends or
    models (only those this render uses: the draft backends for a draft, the final ones otherwise)."""
    if not project.acts:
        raise InputError("the project has no acts to render")
    missing = pipeline.media.missing(project)
    if missing:
        listed = "; ".join(f"{m.path} ({m.where})" for m in missing)
        raise InputError(
            f"{len(missing)} media file{'s are' if len(missing) > 1 else ' is'} missing: {listed}"
        )
    names = (
        {backend_override}
        if backend_override
        else {a.draft_backend if draft else a.final_backend for a in project.acts}
    )
    for name in sorted(names):
        get_backend(name, pipeline.registry)
    for act in project.acts:
        models = (
            ("keyframe", act.generation.keyframe_model if not act.references else None, Task.text_to_image),
            ("refine", None if draft else act.generation.refine_model, Task.image_to_image),
        )
        for role, model, task in models:
            if model is not None and task not in tasks_of(pipeline.model(model).spec()):
                raise InputError(f"act {act.name!r}: {role} model {model!r} cannot make {task.value} images")


def decoded_pcm(clip: AudioClip, pipeline: ActPipeline) -> PcmFile:
    """The clip's source file decoded once into the cache at the export rate (keyed by its content hash)."""
    source = pipeline.media.path(clip.media)
    digest = pipeline.media.sha256(clip.media)
    key = cache_key("pcm", {"sha256": digest, "rate": EXPORT_SAMPLE_RATE, "channels": EXPORT_CHANNELS})

    def write(folder: Path) -> None:
        PcmFile.create(source, folder / _PCM_FILE, EXPORT_SAMPLE_RATE, EXPORT_CHANNELS)

    folder = pipeline.cache.get_or_create(key, write)
    return PcmFile(folder / _PCM_FILE, EXPORT_SAMPLE_RATE, EXPORT_CHANNELS)


def audio_mixer(project: Project, pipeline: ActPipeline) -> AudioMixer | None:
    """The project's audio clips decoded once into the cache and placed on the timeline.

    None when the project has no audio clips (the export has no audio stream). Clips on muted tracks are
    left out; when every clip is muted the mixer plays silence, so the export keeps its audio stream, as
    Resolve's does.
    """
    if not project.audio:
        return None
    fps = project.settings.fps
    muted = {index for index, track in enumerate(project.audio_tracks) if track.muted}
    clips = [
        MixClip(
            pcm=decoded_pcm(clip, pipeline),
            start_s=frames_to_seconds(clip.offset_frames, fps),
            in_s=frames_to_seconds(clip.in_frames, fps),
            duration_s=None if clip.length_frames is None else frames_to_seconds(clip.length_frames, fps),
            gain_db=clip.gain_db,
            fade_in_s=frames_to_seconds(clip.fade_in_frames, fps),
            fade_out_s=frames_to_seconds(clip.fade_out_frames, fps),
        )
        for clip in project.audio
        if clip.track not in muted
    ]
    return AudioMixer(clips, EXPORT_SAMPLE_RATE, EXPORT_CHANNELS)


def render_project(
    project: Project,
    project_dir: Path,
    out: Path,
    *,
    draft: bool = False,
    backend: str | None = None,
    fmt: str | None = None,
    frames: FrameRange | None = None,
    height: int | None = None,
    crf: int | None = None,
    cache: StageCache | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Render `project` (whose media paths are relative to `project_dir`) to `out`; returns the path written.

    `frames`: only timeline frames start..end-1 (with the audio of exactly that stretch), None: the whole
    film. `height`: the output height in pixels (even, 16..4320; the width follows the project's aspect),
    None: the project size for a final render, the preview size for a draft. `crf`: the H.264/H.265
    quality (0..51, lower is better), None: 18 for a final render, 23 for a draft.
    Draft renders use the draft proxy cache. Raises InputError for anything wrong with the project, the
    options or the output path before rendering starts. `warn` hears, after the export, of every act a
    generative model could not render (the built-in motion backend stood in).
    """
    export_format = format_for_path(out, fmt)
    pipeline = ActPipeline(project_dir, cache or StageCache())
    check_renderable(project, pipeline, backend, draft)
    span = _checked_span(frames, project.duration_frames)
    pipeline.set_project(project)
    target = export_target(project, draft, height)
    settings = ExportSettings(
        fps=target.fps,
        width=target.width,
        height=target.height,
        format=export_format,
        preset="veryfast" if draft else "medium",
        crf=crf if crf is not None else 23 if draft else 18,
        audio_sample_rate=EXPORT_SAMPLE_RATE,
        audio_channels=EXPORT_CHANNELS,
    )
    # Lazy: an act is rendered only when a frame of the span asks for it (a range leaves the others alone).
    clips = [
        LazyClip(partial(pipeline.clip, act, target, backend, cancel), act.duration_frames)
        for act in project.acts
    ]
    timeline = TimelineFrames(project.acts, clips)
    mixer = audio_mixer(project, pipeline)
    # The export's audio sample n is the timeline's sample at the span's first frame + n.
    first_sample = round(span.start * Fraction(EXPORT_SAMPLE_RATE) / target.fps)
    metadata = {
        "storybeat_recipe": recipe_json(project_recipe(project, pipeline.media, draft, backend)),
        "title": Path(out).stem,
    }
    if frames is not None:
        metadata["storybeat_frames"] = f"{span.start}-{span.end - 1}"
    written = export_video(
        out,
        (timeline.frame(index) for index in range(span.start, span.end)),
        span.length,
        settings,
        audio=partial(_shifted_mix, mixer, first_sample) if mixer else None,
        metadata=metadata,
        progress=progress,
        cancel=cancel,
    )
    for act, start in zip(project.acts, timeline.starts, strict=True):
        if start >= span.end or start + act.duration_frames <= span.start:
            continue  # not in the export
        reason = pipeline.fallback_reason(pipeline.act_key(act, target, backend))
        if reason is not None and warn is not None:
            warn(f"act {act.name!r}: {reason}")
    return written


def export_target(project: Project, draft: bool, height: int | None) -> RenderTarget:
    """The size and rate an export renders at: `height` pixels high (InputError unless even and within
    MIN_EXPORT_HEIGHT..MAX_EXPORT_HEIGHT) with the project's aspect and an even width; None: the project
    size (final) or the preview size (draft)."""
    if height is None:
        return RenderTarget.preview(project) if draft else RenderTarget.final(project)
    if height % 2 or not MIN_EXPORT_HEIGHT <= height <= MAX_EXPORT_HEIGHT:
        raise InputError(
            f"export height {height} must be an even number of pixels "
            f"in {MIN_EXPORT_HEIGHT}..{MAX_EXPORT_HEIGHT}"
        )
    s = project.settings
    width = max(2, round(height * s.width / s.height / 2) * 2)
    return RenderTarget(width, height, s.fps, draft=draft)


def _checked_span(frames: FrameRange | None, duration: int) -> FrameRange:
    """The timeline frames to export: `frames`, or the whole film; InputError when they leave the film."""
    if frames is None:
        return FrameRange(start=0, end=duration)
    if frames.end > duration:
        raise InputError(
            f"export range {frames.start}..{frames.end - 1} is outside the film (0..{duration - 1})"
        )
    return frames


def _shifted_mix(mixer: AudioMixer, first_sample: int, start: int, count: int) -> np.ndarray:
    return mixer.render(first_sample + start, count)


__all__ = ["ExportFormat", "check_renderable", "export_target", "render_project"]
