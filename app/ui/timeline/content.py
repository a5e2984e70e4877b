"""What the timeline draws and hit-tests, derived once per document change (plain Python, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from app.model import Project


def act_bounds(project: Project) -> list[int]:
    """Act start frames followed by the end of the last act (len = acts + 1)."""
    bounds = project.act_starts()
    bounds.append(project.duration_frames)
    return bounds


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
    BeatStyle values).
    """

    bounds: list[int]
    beat_times: list[float]
    beat_frames: list[float]
    audio_tracks: int
    index_by_id: dict[str, int] = field(repr=False)
    bounds_array: np.ndarray = field(repr=False)
    beat_frame_array: np.ndarray = field(repr=False)
    beat_style_array: np.ndarray = field(repr=False)

    @property
    def total_frames(self) -> int:
        return self.bounds[-1]

    @classmethod
    def from_project(cls, project: Project) -> TimelineContent:
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
            audio_tracks=max((clip.track for clip in project.audio), default=-1) + 1,
            index_by_id={act.id: i for i, act in enumerate(project.acts)},
            bounds_array=np.array(bounds, dtype=np.int64),
            beat_frame_array=np.array(beat_frames, dtype=np.float64),
            beat_style_array=np.array(styles, dtype=np.int8),
        )
