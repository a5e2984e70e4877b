"""What the timeline draws and hit-tests, derived once per document change (plain Python, no Qt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from fractions import Fraction

import numpy as np

from app.model import AudioClip, Project


def act_bounds(project: Project) -> list[int]:
    """Act start frames followed by the end of the last act (len = acts + 1)."""
    bounds = project.act_starts()
    bounds.append(project.duration_frames)
    return bounds


def clip_length(clip: AudioClip, fps: Fraction, total_frames: int, source_s: float | None) -> int:
    """Frames an audio clip covers: its own length, else to the end of its source (when decoded), else to
    the end of the acts (`total_frames`)."""
    if clip.length_frames is not None:
        return clip.length_frames
    if source_s is not None:
        return max(1, round(source_s * float(fps)) - clip.in_frames)
    return max(1, total_frames - clip.offset_frames)


@dataclass(frozen=True)
class AudioSpan:
    """An audio clip as the timeline draws it: timeline frames [start, end) on audio track `track`.

    `length_known` is False for a clip that plays to the end of a source not decoded yet: its end is drawn
    at the end of the acts, a guess, so it offers no fade-out handle.
    """

    clip_id: str
    track: int
    start: int
    end: int
    gain_db: float
    fade_in: int
    fade_out: int
    length_known: bool
    muted: bool  # its track is muted

    @property
    def length(self) -> int:
        return self.end - self.start


def audio_span(clip: AudioClip, project: Project, total_frames: int, source_s: float | None) -> AudioSpan:
    """Where `clip` of `project` is drawn; `source_s`: its source's length in seconds, None until decoded."""
    tracks = project.audio_tracks
    return AudioSpan(
        clip_id=clip.id,
        track=clip.track,
        start=clip.offset_frames,
        end=clip.offset_frames + clip_length(clip, project.settings.fps, total_frames, source_s),
        gain_db=clip.gain_db,
        fade_in=clip.fade_in_frames,
        fade_out=clip.fade_out_frames,
        length_known=clip.length_frames is not None or source_s is not None,
        muted=clip.track < len(tracks) and tracks[clip.track].muted,
    )


class BeatStyle(IntEnum):
    beat = 0
    downbeat = 1
    manual = 2  # added by the user (BeatGrid.added)


@dataclass(frozen=True)
class TimelineContent:
    """Positions derived from a Project.

    bounds: act start frames followed by the end of the last act (len = acts + 1).
    beat_times: effective beats in seconds (sorted); beat_frames: the same in fractional frames, where they
    are drawn. The arrays hold the same numbers for vectorised drawing (bounds as int64, beat styles as
    BeatStyle values). audio_tracks: how many audio rows; audio_spans: the audio clips as drawn.
    """

    bounds: list[int]
    beat_times: list[float]
    beat_frames: list[float]
    audio_tracks: int
    audio_spans: list[AudioSpan]
    index_by_id: dict[str, int] = field(repr=False)
    bounds_array: np.ndarray = field(repr=False)
    beat_frame_array: np.ndarray = field(repr=False)
    beat_style_array: np.ndarray = field(repr=False)

    @property
    def total_frames(self) -> int:
        return self.bounds[-1]

    @classmethod
    def from_project(
        cls, project: Project, source_seconds: Mapping[str, float] | None = None
    ) -> TimelineContent:
        """`source_seconds`: the length of each decoded audio clip's source (by clip id)."""
        bounds = act_bounds(project)
        grid = project.beats
        fps = float(project.settings.fps)
        downbeats, added = set(grid.downbeats), set(grid.added)
        times = grid.effective_beats()
        styles = [
            BeatStyle.downbeat if t in downbeats else BeatStyle.manual if t in added else BeatStyle.beat
            for t in times
        ]
        beat_frames = [t * fps for t in times]
        return cls(
            bounds=bounds,
            beat_times=times,
            beat_frames=beat_frames,
            audio_tracks=len(project.audio_tracks),
            audio_spans=[
                audio_span(clip, project, bounds[-1], (source_seconds or {}).get(clip.id))
                for clip in project.audio
            ],
            index_by_id={act.id: i for i, act in enumerate(project.acts)},
            bounds_array=np.array(bounds, dtype=np.int64),
            beat_frame_array=np.array(beat_frames, dtype=np.float64),
            beat_style_array=np.array(styles, dtype=np.int8),
        )
