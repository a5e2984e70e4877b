"""Rendering a whole project to a file: validation, act clips, timeline, audio mix, export."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

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
from app.model import AudioClip, Project
from app.model.timebase import frames_to_seconds

EXPORT_SAMPLE_RATE = 48000
EXPORT_CHANNELS = 2
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
    """The project's audio clips decoded once into the cache and placed on the timeline."""
    if not project.audio:
        return None
    fps = project.settings.fps
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
    cache: StageCache | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Render `project` (whose media paths are relative to `project_dir`) to `out`; returns the path written.

    Draft renders use the preview size and the draft proxy cache; final renders use the project size.
    Raises InputError for anything wrong with the project or the output path before rendering starts.
    `warn` hears, after the export, of every act a generative model could not render (the built-in motion
    backend stood in).
    """
    export_format = format_for_path(out, fmt)
    pipeline = ActPipeline(project_dir, cache or StageCache())
    check_renderable(project, pipeline, backend, draft)
    pipeline.set_project(project)
    target = RenderTarget.preview(project) if draft else RenderTarget.final(project)
    settings = ExportSettings(
        fps=target.fps,
        width=target.width,
        height=target.height,
        format=export_format,
        preset="veryfast" if draft else "medium",
        crf=23 if draft else 18,
        audio_sample_rate=EXPORT_SAMPLE_RATE,
        audio_channels=EXPORT_CHANNELS,
    )
    clips = [
        LazyClip(partial(pipeline.clip, act, target, backend, cancel), act.duration_frames)
        for act in project.acts
    ]
    timeline = TimelineFrames(project.acts, clips)
    mixer = audio_mixer(project, pipeline)
    recipe = recipe_json(project_recipe(project, pipeline.media, draft, backend))
    written = export_video(
        out,
        iter(timeline),
        timeline.length,
        settings,
        audio=mixer.render if mixer else None,
        metadata={"storybeat_recipe": recipe, "title": Path(out).stem},
        progress=progress,
        cancel=cancel,
    )
    for act in project.acts:
        reason = pipeline.fallback_reason(pipeline.act_key(act, target, backend))
        if reason is not None and warn is not None:
            warn(f"act {act.name!r}: {reason}")
    return written


__all__ = ["ExportFormat", "check_renderable", "render_project"]
