"""Music swap with re-conform: replace an audio clip's media and the beat grid, keeping cuts on the music.

A temporary score can be swapped for the final one without re-cutting: each cut keeps its musical position
(beat index, downbeat index or fraction through a section) in the new grid. Grid times are seconds; cuts
are timeline frames at the project rate.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from app.model.beat_commands import bar_starts
from app.model.commands import Changes, Command, EditError
from app.model.media import MediaRef
from app.model.pacing import set_durations
from app.model.project import BeatGrid, Project
from app.model.timebase import frames_to_seconds, seconds_to_frames

CONFORM_MODES = ("beats", "downbeats", "sections", "none")

#: Seconds → a new time in seconds, or None when the position has no counterpart in the new grid.
TimeMap = Callable[[float], float | None]


def _half_beat(beats: list[float], tempo: float, t: float) -> float:
    """Half the beat interval around time `t` (seconds); at the ends, half the nearest interval."""
    if len(beats) < 2:
        return 30.0 / tempo if tempo > 0 else 0.0
    i = min(max(bisect.bisect_right(beats, t), 1), len(beats) - 1)
    return (beats[i] - beats[i - 1]) / 2


def _anchor_map(old: list[float], new: list[float], reach: Callable[[float], float]) -> TimeMap:
    """Map times through corresponding anchors (old[k] ↔ new[k]).

    A time within `reach(t)` of its nearest old anchor k goes to new[k]; a time between two old anchors goes
    to the same fraction between the matching new ones; anything else (outside the anchors, or an index the
    new grid lacks) maps to None.
    """

    def mapped(t: float) -> float | None:
        if not old:
            return None
        i = bisect.bisect_left(old, t)
        nearest = min((k for k in (i - 1, i) if 0 <= k < len(old)), key=lambda k: abs(old[k] - t))
        if abs(old[nearest] - t) <= reach(t):
            return new[nearest] if nearest < len(new) else None
        j = bisect.bisect_right(old, t) - 1
        if j >= 0 and j + 1 < len(old) and j + 1 < len(new) and old[j + 1] > old[j]:
            fraction = (t - old[j]) / (old[j + 1] - old[j])
            return new[j] + fraction * (new[j + 1] - new[j])
        return None

    return mapped


def _section_anchors(grid: BeatGrid) -> list[float]:
    sections = sorted(grid.sections, key=lambda s: s.start)
    return [s.start for s in sections] + [sections[-1].end] if sections else []


def conform_map(old: BeatGrid, new: BeatGrid, mode: str) -> TimeMap:
    """The time map (seconds → seconds or None) that re-conforms positions from `old` to `new`.

    beats: a time goes to the same effective-beat index (it is within half a beat of its nearest beat unless
    it lies outside the grid). downbeats: a time within half a beat of a downbeat goes to the same downbeat
    index, any other time to the same fraction through the same bar. sections: the same fraction through the
    same section index.
    """
    old_beats = old.effective_beats()
    if mode == "beats":
        return _anchor_map(old_beats, new.effective_beats(), lambda t: _half_beat(old_beats, old.tempo, t))
    if mode == "downbeats":
        return _anchor_map(bar_starts(old), bar_starts(new), lambda t: _half_beat(old_beats, old.tempo, t))
    if mode == "sections":
        return _anchor_map(_section_anchors(old), _section_anchors(new), lambda t: 0.0)
    raise EditError(f"conform must be one of {', '.join(CONFORM_MODES)}, got {mode!r}")


def conformed_durations(project: Project, new_grid: BeatGrid, mode: str) -> list[int]:
    """Act durations (frames) after re-conforming every cut, and the end of the timeline, to `new_grid`.

    Positions without a counterpart keep their frame. Acts keep their order and at least one frame each: a
    position pushed onto or before its predecessor moves to one frame after it.
    """
    fps = project.settings.fps
    time_map = conform_map(project.beats, new_grid, mode)
    positions = [*project.cut_frames(), project.duration_frames]
    moved: list[int] = []
    previous = 0
    for frame in positions:
        target = time_map(frames_to_seconds(frame, fps))
        new_frame = frame if target is None else seconds_to_frames(target, fps)
        previous = max(new_frame, previous + 1)
        moved.append(previous)
    return [b - a for a, b in zip([0, *moved], moved, strict=False)]


@dataclass
class ReplaceAudio(Command):
    """Swap the music: point audio clip `clip_id` at `new_media`, install `new_grid` (its analysis) as the
    project's beat grid, and re-conform the cuts (see conformed_durations) unless `conform` is "none".

    Reports the acts whose durations changed (only those need re-rendering) plus audio and beats.
    """

    clip_id: str
    new_media: MediaRef
    new_grid: BeatGrid
    conform: str = "beats"
    label: str = "Replace music"
    _old_media: MediaRef | None = field(default=None, repr=False)
    _old_grid: BeatGrid | None = field(default=None, repr=False)
    _old_durations: list[int] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        if self.conform not in CONFORM_MODES:
            raise EditError(f"conform must be one of {', '.join(CONFORM_MODES)}, got {self.conform!r}")
        try:
            clip = project.audio_clip(self.clip_id)
        except KeyError:
            raise EditError(f"no audio clip with id {self.clip_id!r}") from None
        grid = (
            self.new_grid
            if self.new_grid.source is not None
            else self.new_grid.model_copy(update={"source": self.new_media})
        )
        old_durations = [act.duration_frames for act in project.acts]
        durations = old_durations
        if self.conform != "none" and project.acts:
            durations = conformed_durations(project, grid, self.conform)
        self._old_media, self._old_grid, self._old_durations = clip.media, project.beats, old_durations
        clip.media = self.new_media
        project.beats = grid
        return set_durations(project, durations) | Changes(audio=True, beats=True)

    def revert(self, project: Project) -> Changes:
        assert self._old_media is not None and self._old_grid is not None
        project.audio_clip(self.clip_id).media = self._old_media
        project.beats = self._old_grid
        return set_durations(project, self._old_durations) | Changes(audio=True, beats=True)
