"""Quality checks (QC): the five failure modes of AI video, measured on a project's drafts or any video file.

`qc_input_from_project` and `qc_input_from_video` turn a film into a `QCInput` (frames at analysis size, cuts,
beats); `run_checks` runs every check on it and gathers a `QCReport`. One module per check documents its
formula and thresholds: flicker, texture, lighting, beat_sync, overfit; consistency adds per-act metrics.

When a project asks for beat sync: when it has a beat grid (the beats it was cut to, tapped or analysed —
pacing presets and snapping use it), or, without one, when its cuts mostly sit on the beats of its music
(`beat_sync.cuts_on_beats`). A video asks for it when its cuts mostly sit on the beats of its audio.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np

from app.engine.cancel import CancelToken, ProgressFn, no_progress
from app.engine.qc import beat_sync, consistency, cuts, flicker, flow_stats, lighting, overfit, texture
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput, Severity
from app.errors import InputError, MediaError

if TYPE_CHECKING:
    from app.engine.audio.beats import BeatAnalysis
    from app.engine.cache import StageCache
    from app.engine.clip import Clip
    from app.model import Project

ANALYSIS_WIDTH = 320  # px: what the checks are calibrated at
#: Demuxers that read still images: a picture is not a film.
_IMAGE_FORMATS = ("image2", "_pipe")


@dataclass
class QCReport:
    """Every check's findings, sorted by start (then end, kind), and their metrics and measures merged
    (`measures`: what each check judged, at any level, by subject key; not part of the JSON report)."""

    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No finding failed (warnings are things worth a look, not failures)."""
        return not any(finding.severity == Severity.fail for finding in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The `check --json` document: {"ok", "findings": [...], "metrics": {...}} (plain JSON types)."""
        return {
            "ok": self.ok,
            "findings": [finding.to_json() for finding in self.findings],
            "metrics": _plain(self.metrics),
        }


def run_checks(
    qc: QCInput, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
) -> QCReport:
    """Run every check on `qc`. `progress` hears (frame pairs measured, pairs) while the flow statistics,
    most of the cost, are computed; the checks themselves take a fraction of that."""
    stats = flow_stats.compute(qc, progress=progress, cancel=cancel)
    checks: list[Callable[[], CheckResult]] = [
        partial(flicker.check, qc, stats),
        partial(texture.check, qc, stats),
        partial(lighting.check, qc),
        partial(beat_sync.check, qc, stats.motion_energy),
        partial(overfit.check, qc),
    ]
    metrics: dict[str, Any] = {
        "frames": len(qc.frames),
        "fps": float(qc.fps),
        "duration_s": round(qc.seconds(len(qc.frames)), 3),
        "cuts_s": [round(qc.seconds(cut), 3) for cut in qc.cuts],
        "beat_sync": qc.beat_sync,
        **consistency.metrics(qc, stats),
    }
    findings: list[Finding] = []
    measures: dict[str, float] = {}
    for check in checks:
        if cancel is not None:
            cancel.raise_if_cancelled()
        result = check()
        findings.extend(result.findings)
        metrics.update(result.metrics)
        measures.update(result.measures)
    findings.sort(key=lambda finding: (finding.start, finding.end, str(finding.kind)))
    metrics["counts"] = {
        str(kind): sum(1 for finding in findings if finding.kind == kind) for kind in CheckKind
    }
    return QCReport(findings=findings, metrics=metrics, measures=measures)


# -- a video file --------------------------------------------------------------------------------------------


def qc_input_from_video(
    path: Path,
    audio: Path | None = None,
    width: int = ANALYSIS_WIDTH,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> QCInput:
    """Decode the video at `path` down to `width` px wide (never up), find its cuts, and take beats and
    onsets from `audio` (else the video's own audio track; neither: no beats).

    Spans are the detected shots, without act ids or names (reports call them "shot 1", "shot 2"…).
    Raises MediaError naming the file when it is missing, not a video or has no decodable frames, and the
    beat analysis' InputError when `audio` has no usable beats (the video's own track is then simply left
    unused).
    """
    report = progress or no_progress
    frames, fps, has_audio = _decode_video(path, width, report, cancel)
    count = len(frames)
    cut_frames = cuts.detect(
        frames, fps, progress=lambda done, total: report(count + done, 2 * count), cancel=cancel
    )
    bounds = [0, *cut_frames, count]
    spans = [ActSpan(start=start, end=end) for start, end in itertools.pairwise(bounds)]
    analysis = _analysis(audio) if audio is not None else (_own_track(path) if has_audio else None)
    beats = analysis.beats if analysis else ()
    onsets = analysis.onsets if analysis else ()
    sync = beat_sync.cuts_on_beats([float(cut / fps) for cut in cut_frames], beats)
    report(2 * count, 2 * count)
    return QCInput(frames=frames, fps=fps, spans=spans, beats=beats, onsets=onsets, beat_sync=sync)


def _decode_video(
    path: Path, width: int, progress: ProgressFn, cancel: CancelToken | None
) -> tuple[list[np.ndarray], Fraction, bool]:
    """(frames RGB uint8 at analysis size, frame rate, whether the file has an audio track)."""
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise MediaError(f"{path}: not a video (could not open it)") from None
    with container:
        format_name = container.format.name or ""
        if not container.streams.video or any(name in format_name for name in _IMAGE_FORMATS):
            raise MediaError(f"{path}: not a video (no video stream)")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate or rate <= 0:
            raise MediaError(f"{path}: not a video (no frame rate)")
        fps = Fraction(rate.numerator, rate.denominator)
        expected, duration, time_base = stream.frames, stream.duration, stream.time_base
        if not expected and duration and time_base:
            expected = round(float(duration * time_base * fps))
        frames: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                frames.append(_decoded_frame(frame, width))
                progress(len(frames), 2 * max(expected, len(frames)))
        except av.FFmpegError:
            if not frames:
                raise MediaError(f"{path}: not a video (no decodable frames)") from None
            # A damaged tail: keep what decoded before it, as players do.
        has_audio = bool(container.streams.audio)
    if not frames:
        raise MediaError(f"{path}: not a video (no decodable frames)")
    return frames, fps, has_audio


def _decoded_frame(frame: av.VideoFrame, width: int) -> np.ndarray:
    """A decoded frame as RGB at most `width` wide; FFmpeg scales it while converting (cheaper than after)."""
    if frame.width <= width:
        return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
    height = max(2, round(frame.height * width / frame.width))
    return np.ascontiguousarray(
        frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    )


def _downscaled(frame: np.ndarray, width: int) -> np.ndarray:
    height, source_width = frame.shape[:2]
    if source_width <= width:
        return np.ascontiguousarray(frame)
    size = (width, max(2, round(height * width / source_width)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _analysis(audio: Path) -> BeatAnalysis:
    from app.engine.audio.beats import analyze_beats

    return analyze_beats(audio)


def _own_track(path: Path) -> BeatAnalysis | None:
    """The beats of a video's own soundtrack, or None when it has none to find (speech, silence, short)."""
    try:
        return _analysis(path)
    except InputError:
        return None


# -- a project -----------------------------------------------------------------------------------------------


def qc_input_from_project(
    project: Project,
    project_dir: Path,
    cache: StageCache | None = None,
    width: int = ANALYSIS_WIDTH,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> QCInput:
    """The project's film as its draft proxies show it (rendered into `cache` first where missing), at
    `width` px wide (never up), with its acts as spans (ids, names, references, template ids), its beat grid
    and the onsets of its music. Raises InputError when the project cannot render (no acts, missing media)."""
    from app.engine.cache import StageCache
    from app.engine.clip import LazyClip
    from app.engine.pipeline import ActPipeline, RenderTarget
    from app.engine.render import check_renderable

    cache = cache or StageCache()
    pipeline = ActPipeline(project_dir, cache)
    check_renderable(project, pipeline, draft=True)
    pipeline.set_project(project)
    target = RenderTarget.preview(project)
    clips = [
        LazyClip(partial(pipeline.draft_clip, act, target, None, cancel), act.duration_frames)
        for act in project.acts
    ]
    return qc_input_from_clips(project, project_dir, clips, cache, width, progress, cancel)


def qc_input_from_clips(
    project: Project,
    project_dir: Path,
    clips: Sequence[Clip],
    cache: StageCache,
    width: int = ANALYSIS_WIDTH,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> QCInput:
    """The film as `clips` (one per act of `project`, e.g. the editor's current draft proxies) show it, built
    as `storybeat check` builds it: `width` px wide, acts as spans with their references, the beat grid
    (else the music's beats) and the music's onsets. Raises MediaError for a reference that cannot be read."""
    from app.engine.keyframe import load_image
    from app.engine.pipeline import ActPipeline
    from app.engine.timeline import TimelineFrames

    report = progress or no_progress
    timeline = TimelineFrames(project.acts, clips)
    frames = []
    for index in range(timeline.length):
        if cancel is not None:
            cancel.raise_if_cancelled()
        frames.append(_downscaled(timeline.frame(index), width))
        report(index + 1, timeline.length)
    pipeline = ActPipeline(project_dir, cache)
    spans = [
        ActSpan(
            start=start,
            end=start + act.duration_frames,
            act_id=act.id,
            name=act.name,
            references=tuple(
                _downscaled(load_image(pipeline.media.path(ref)), 2 * width) for ref in act.references
            ),
            template=act.template.id if act.template else None,
        )
        for act, start in zip(project.acts, project.act_starts(), strict=True)
    ]
    fps = project.settings.fps
    grid = project.beats.effective_beats()
    music = _music_analysis(project, pipeline)
    beats: Sequence[float] = grid or (music[0] if music else ())
    onsets: Sequence[float] = music[1] if music else ()
    cut_seconds = [float(cut / fps) for cut in project.cut_frames()]
    sync = bool(grid) or beat_sync.cuts_on_beats(cut_seconds, beats)
    return QCInput(frames=frames, fps=fps, spans=spans, beats=beats, onsets=onsets, beat_sync=sync)


def _music_analysis(project: Project, pipeline: Any) -> tuple[list[float], list[float]] | None:
    """(beats, onsets) of the project's music in timeline seconds, or None without usable music.

    The music is the beat grid's source clip, else the first audio clip (as for audio-reactive motion).
    """
    from app.engine.audio.beats import analyze_cached

    source = project.beats.source
    matching = [clip for clip in project.audio if source is not None and clip.media.path == source.path]
    candidates = matching or project.audio
    if not candidates:
        return None
    music = candidates[0]
    try:
        analysis = analyze_cached(
            pipeline.media.path(music.media), pipeline.media.sha256(music.media), pipeline.cache
        )
    except InputError:  # silent, too short or without a pulse: nothing to sync to
        return None
    fps = project.settings.fps
    shift = float((music.offset_frames - music.in_frames) / fps)
    duration = float(project.duration_frames / fps)

    def on_timeline(times: Sequence[float]) -> list[float]:
        return [t + shift for t in times if 0.0 <= t + shift <= duration]

    return on_timeline(analysis.beats), on_timeline(analysis.onsets)


def _plain(value: Any) -> Any:
    """Metrics with numpy scalars and tuples turned into plain JSON types."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


__all__ = [
    "QCInput",
    "QCReport",
    "qc_input_from_project",
    "qc_input_from_video",
    "run_checks",
]
