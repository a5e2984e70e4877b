"""Half and double tempo: make the beat grid the metrical level a listener taps, keeping the cuts on it.

Beat detection sometimes locks at twice or half the tempo people feel. The analysis keeps the grids at both
other levels (`BeatGrid.alternatives`), so one undoable command switches. The music does not change, so a
cut stays at its time where the new grid has a beat; a cut on a beat the new grid lacks (half tempo drops
every other beat) moves to the nearest beat of the new grid; then an act shorter than one beat of the new
grid ends on the next beat that gives it one, pushing the cuts after it only as far as needed. Grid times
are seconds, cuts timeline frames at the project rate.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field

from app.model.beat_commands import round_time
from app.model.commands import Changes, Command, EditError, _nearest
from app.model.pacing import set_durations
from app.model.project import MAX_BPM, BeatGrid, MetricalAlternative, Project
from app.model.timebase import frames_to_seconds

#: Level → (undo label, the level the old grid becomes after switching to it).
LEVELS = {"half": ("Half tempo", "double"), "double": ("Double tempo", "half")}


def unavailable(grid: BeatGrid, name: str) -> str | None:
    """Why the grid cannot switch to level `name` ("half" or "double"), or None when it can."""
    if name not in LEVELS:
        return f"tempo level must be 'half' or 'double', got {name!r}"
    if not grid.beats:
        return f"No {name}-tempo grid to switch to: the project has no analysed music"
    if grid.alternative(name) is None:
        return (
            f"No {name}-tempo grid to switch to: tapped beats and older analyses have none "
            "(Replace Music with the same track analyses it again)"
        )
    return None


def half_level(level: BeatGrid | MetricalAlternative) -> MetricalAlternative | None:
    """Every other detected beat of `level`, those its first downbeat is among; None below two beats."""
    beats = list(level.beats)
    first_bar = bisect.bisect_left(beats, level.downbeats[0]) if level.downbeats else 0
    kept = beats[first_bar % 2 :: 2]
    return _level("half", level.tempo / 2, level, kept) if len(kept) >= 2 else None


def double_level(level: BeatGrid | MetricalAlternative) -> MetricalAlternative | None:
    """The detected beats of `level` and one halfway between each two; None above MAX_BPM or below 2 beats."""
    beats = list(level.beats)
    doubled = sorted({*beats, *(round_time((a + b) / 2) for a, b in itertools.pairwise(beats))})
    if len(doubled) < 2 or level.tempo * 2 > MAX_BPM:
        return None
    return _level("double", level.tempo * 2, level, doubled)


def _level(
    name: str, tempo: float, source: BeatGrid | MetricalAlternative, beats: list[float]
) -> MetricalAlternative:
    """`beats` in bars of `source.meter`, counted so that the first downbeat of `source` starts one."""
    first_bar = bisect.bisect_left(beats, source.downbeats[0]) if source.downbeats else 0
    return MetricalAlternative(
        name=name,
        tempo=round(tempo, 3),
        meter=source.meter,
        beats=tuple(beats),
        downbeats=tuple(beats[first_bar % source.meter :: source.meter]),
    )


def switched_grid(grid: BeatGrid, name: str) -> BeatGrid:
    """`grid` at the level of its alternative `name`: that level's tempo, meter, beats and downbeats, with the
    old level as the opposite alternative and a new `name` alternative derived from the new beats.

    The source and sections describe the audio and stay. Manual corrections stay where they still mean
    something: an added beat the new grid does not detect, a removed beat it does. The others would be
    doubles of detected beats, or hide nothing (and block adding a beat there). Raises EditError when the
    grid has no such alternative.
    """
    problem = unavailable(grid, name)
    if problem is not None:
        raise EditError(problem)
    alternative = grid.alternative(name)
    assert alternative is not None
    opposite = LEVELS[name][1]
    levels = {
        opposite: MetricalAlternative(
            name=opposite, tempo=grid.tempo, meter=grid.meter, beats=grid.beats, downbeats=grid.downbeats
        ),
        name: half_level(alternative) if name == "half" else double_level(alternative),
    }
    detected = set(alternative.beats)
    return BeatGrid(
        source=grid.source,
        tempo=alternative.tempo,
        meter=alternative.meter,
        beats=alternative.beats,
        downbeats=alternative.downbeats,
        added=tuple(t for t in grid.added if t not in detected),
        removed=tuple(t for t in grid.removed if t in detected),
        sections=grid.sections,
        alternatives=tuple(level for key in ("half", "double") if (level := levels[key]) is not None),
    )


@dataclass(frozen=True)
class Retiming:
    """Act lengths after a switch (frames, in track order) and why cuts moved: `to_nearest` cuts were on a
    beat the new grid lacks and are on its nearest beat now; `for_room` cuts moved later so that no act is
    shorter than a beat."""

    durations: list[int]
    to_nearest: int
    for_room: int


def retimed(project: Project, new: BeatGrid) -> Retiming:
    """The acts re-timed from the project's grid to `new`, a grid of the same music (see the module doc).

    The end of the last act stays unless that act would be shorter than a beat; past the new grid's last
    beat, its beats continue at its tempo.
    """
    fps = project.settings.fps
    beats = new.beat_frames(fps)
    durations = [act.duration_frames for act in project.acts]
    if not beats or not project.acts:
        return Retiming(durations, 0, 0)
    dropped = set(project.beats.beat_frames(fps)) - set(beats)
    if new.tempo > 0:
        period = 60.0 / new.tempo * float(fps)
    else:
        period = float(beats[-1] - beats[-2]) if len(beats) > 1 else 1.0

    def one_beat(frame: int) -> float:
        """Frames in the beat `frame` lies in: the first beat's before the grid, the tempo's after it."""
        i = max(0, bisect.bisect_right(beats, frame) - 1)
        return beats[i + 1] - beats[i] if i + 1 < len(beats) else period

    def beat_from(frame: float) -> int:
        """The first beat at or after `frame`, the grid continued at its tempo past its last beat."""
        i = bisect.bisect_left(beats, frame)
        if i < len(beats):
            return beats[i]
        step = max(1, math.floor((frame - beats[-1]) / period))
        while beats[-1] + round(step * period) < frame:
            step += 1
        return beats[-1] + round(step * period)

    def a_beat_long(start: int, end: int) -> int:
        """`end`, or when start..end is shorter than a beat, the first beat that makes it one."""
        earliest = start + one_beat(start)
        return end if end >= earliest else beat_from(earliest)

    positions: list[int] = []
    previous = to_nearest = for_room = 0
    for cut in project.cut_frames():
        nearest = _nearest(beats, cut) if cut in dropped else None
        target = a_beat_long(previous, cut if nearest is None else nearest)
        if nearest is not None and abs(target - cut) == abs(nearest - cut):
            to_nearest += 1
        elif target != cut:
            for_room += 1
        positions.append(target)
        previous = target
    end = a_beat_long(previous, project.duration_frames)
    return Retiming([b - a for a, b in itertools.pairwise([0, *positions, end])], to_nearest, for_room)


@dataclass(frozen=True)
class TempoSwitch:
    """What a switch did: the tempo before and after (BPM), the cuts moved (see Retiming), and how many
    seconds longer the film got (its last act grown to a beat)."""

    old_tempo: float
    new_tempo: float
    to_nearest: int
    for_room: int
    longer_s: float

    @property
    def summary(self) -> str:
        """One line for the status bar: "Tempo 142 → 71 BPM; 3 cuts moved to the nearest beat"."""
        moved = []
        if self.to_nearest:
            moved.append(f"{_cuts(self.to_nearest)} moved to the nearest beat")
        if self.for_room:
            moved.append(f"{_cuts(self.for_room)} moved later so that every act lasts a beat")
        if self.longer_s > 0:
            moved.append(f"the film is {self.longer_s:.1f} s longer")
        return f"Tempo {self.old_tempo:.0f} → {self.new_tempo:.0f} BPM; {', '.join(moved) or 'no cuts moved'}"


def _cuts(count: int) -> str:
    return "1 cut" if count == 1 else f"{count} cuts"


@dataclass
class SwitchMetricalLevel(Command):
    """Switch the beat grid to its `name` alternative ("half" or "double") and re-time the cuts to it (see
    `switched_grid` and `retimed`), in one undoable edit. `result` says what the last apply did."""

    name: str
    label: str = field(default="", init=False)
    result: TempoSwitch | None = field(default=None, init=False)
    _old_grid: BeatGrid | None = field(default=None, init=False, repr=False)
    _old_durations: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.label = LEVELS[self.name][0] if self.name in LEVELS else "Switch tempo"

    def apply(self, project: Project) -> Changes:
        old = project.beats
        new = switched_grid(old, self.name)  # raises EditError before anything changes
        retiming = retimed(project, new)
        fps = project.settings.fps
        longer = sum(retiming.durations) - project.duration_frames
        self.result = TempoSwitch(
            old.tempo, new.tempo, retiming.to_nearest, retiming.for_room, frames_to_seconds(longer, fps)
        )
        self._old_grid, self._old_durations = old, [act.duration_frames for act in project.acts]
        project.beats = new
        return set_durations(project, retiming.durations) | Changes(beats=True)

    def revert(self, project: Project) -> Changes:
        assert self._old_grid is not None
        project.beats = self._old_grid
        return set_durations(project, self._old_durations) | Changes(beats=True)
