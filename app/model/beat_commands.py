"""Editing the beat grid: manual beat markers, nudging the whole grid, tap-tempo entry.

All times here are seconds (the grid comes from audio analysis); they become frames only where they turn
into cut positions. Every command replaces the frozen BeatGrid as a whole, so undo simply puts the old
grid object back and the document is byte-identical.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.errors import InputError
from app.model.commands import Changes, Command, EditError
from app.model.project import BeatGrid, Project, Section

#: Tap tempo outside this range is almost certainly mis-tapped (and BeatGrid accepts at most 400 BPM).
MIN_TAP_BPM = 20.0
MAX_TAP_BPM = 400.0

#: Grid times are rounded to the microsecond so shifted or fitted grids serialise compactly; rounding is
#: monotonic, so sorted lists stay sorted and equal times stay equal (downbeats remain beats).
_TIME_DECIMALS = 6


def round_time(seconds: float) -> float:
    """`seconds` to the microsecond, the precision grid times are stored with."""
    return round(seconds, _TIME_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def bar_starts(grid: BeatGrid) -> list[float]:
    """Downbeat times in seconds: the detected ones not removed by the user, sorted.

    A grid without detected downbeats (e.g. older projects) falls back to every `meter`-th effective beat,
    starting from the first one.
    """
    removed = set(grid.removed)
    downbeats = [t for t in grid.downbeats if t not in removed]
    if downbeats:
        return downbeats
    return grid.effective_beats()[:: grid.meter]


def grid_from_taps(taps: Sequence[float], duration_s: float, meter: int = 4) -> BeatGrid:
    """A constant-tempo grid fitted to tapped beat times.

    taps: tap times in seconds, increasing, at least 4 of them. The tempo comes from a least-squares line
    through (tap index, tap time), so jitter in single taps averages out; the line's intercept sets the phase.
    Beats extend over [0, duration_s] seconds in both directions from the taps; every `meter`-th beat counted
    from the first tap is a downbeat. Raises InputError naming what is wrong with the taps.
    """
    if len(taps) < 4:
        raise InputError(f"tap tempo: need at least 4 taps, got {len(taps)}")
    if not all(math.isfinite(t) and t >= 0 for t in taps):
        raise InputError("tap tempo: tap times must be finite and >= 0 seconds")
    if any(b <= a for a, b in itertools.pairwise(taps)):
        raise InputError("tap tempo: tap times must be strictly increasing")
    if not 1 <= meter <= 16:
        raise InputError(f"tap tempo: meter must be 1..16 beats per bar, got {meter}")
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise InputError(f"tap tempo: duration must be > 0 seconds, got {duration_s}")
    count = len(taps)
    mean_index = (count - 1) / 2
    mean_time = sum(taps) / count
    covariance = sum((i - mean_index) * (t - mean_time) for i, t in enumerate(taps))
    variance = sum((i - mean_index) ** 2 for i in range(count))
    period = covariance / variance  # seconds per beat
    first = mean_time - period * mean_index  # the fitted time of tap 0
    bpm = 60.0 / period
    if not MIN_TAP_BPM <= bpm <= MAX_TAP_BPM:
        raise InputError(f"tap tempo: {bpm:.1f} BPM is outside {MIN_TAP_BPM:g}..{MAX_TAP_BPM:g} BPM")
    # Beat k lies at first + k * period; k counts from the first tap and may be negative (beats before it).
    k_first = math.ceil(-first / period)
    k_last = math.floor((duration_s - first) / period)
    indexed = [(k, round_time(first + k * period)) for k in range(k_first, k_last + 1)]
    indexed = [(k, t) for k, t in indexed if t >= 0]
    beats = tuple(t for _, t in indexed)
    downbeats = tuple(t for k, t in indexed if k % meter == 0)
    return BeatGrid(tempo=round(bpm, 3), meter=meter, beats=beats, downbeats=downbeats)


@dataclass
class _ReplaceGrid(Command):
    """Base for grid edits: subclasses compute the new grid; apply/revert swap whole grids."""

    _old: BeatGrid | None = field(default=None, repr=False, kw_only=True)

    @abstractmethod
    def _new_grid(self, project: Project) -> BeatGrid: ...

    def apply(self, project: Project) -> Changes:
        new = self._new_grid(project)  # may raise EditError before anything changes
        self._old = project.beats
        project.beats = new
        return Changes(beats=True)

    def revert(self, project: Project) -> Changes:
        assert self._old is not None
        project.beats = self._old
        return Changes(beats=True)


@dataclass
class SetBeatGrid(_ReplaceGrid):
    """Replace the whole grid (e.g. with a new analysis of the same music)."""

    grid: BeatGrid
    label: str = "Set beats"

    def _new_grid(self, project: Project) -> BeatGrid:
        return self.grid


@dataclass
class AddBeatMarker(_ReplaceGrid):
    """Add a manual beat at `time_s` (seconds), or restore a detected beat that was removed there."""

    time_s: float
    label: str = "Add beat"

    def _new_grid(self, project: Project) -> BeatGrid:
        grid = project.beats
        if self.time_s < 0:
            raise EditError("a beat cannot be placed before 0 s")
        if self.time_s in grid.effective_beats():
            raise EditError(f"there is already a beat at {self.time_s:.3f} s")
        if self.time_s in grid.removed:
            return grid.model_copy(update={"removed": tuple(t for t in grid.removed if t != self.time_s)})
        return grid.model_copy(update={"added": tuple(sorted((*grid.added, self.time_s)))})


@dataclass
class RemoveBeatMarker(_ReplaceGrid):
    """Remove the beat at `time_s`: a manual one is deleted, a detected one is hidden (and can come back)."""

    time_s: float
    label: str = "Remove beat"

    def _new_grid(self, project: Project) -> BeatGrid:
        grid = project.beats
        if self.time_s not in grid.effective_beats():
            raise EditError(f"there is no beat at {self.time_s:.3f} s")
        if self.time_s in grid.added:
            return grid.model_copy(update={"added": tuple(t for t in grid.added if t != self.time_s)})
        return grid.model_copy(update={"removed": tuple(sorted((*grid.removed, self.time_s)))})


@dataclass
class NudgeBeatGrid(_ReplaceGrid):
    """Shift the whole grid by `delta_s` seconds: detected beats and downbeats, manual additions and removals,
    section boundaries and the half and double tempo alternatives. Refused when any time would fall before
    0 s."""

    delta_s: float
    label: str = "Nudge beats"

    def _new_grid(self, project: Project) -> BeatGrid:
        grid = project.beats
        if not math.isfinite(self.delta_s):
            raise EditError(f"beat nudge must be a finite number of seconds, got {self.delta_s}")
        times = [*grid.beats, *grid.downbeats, *grid.added, *grid.removed, *(s.start for s in grid.sections)]
        times += [t for alternative in grid.alternatives for t in alternative.beats]
        if times and min(times) + self.delta_s < 0:
            raise EditError(f"nudging by {self.delta_s:+.3f} s would move a beat before 0 s")

        def shift(values: tuple[float, ...]) -> tuple[float, ...]:
            return tuple(round_time(t + self.delta_s) for t in values)

        sections = tuple(
            Section(
                start=round_time(s.start + self.delta_s),
                end=round_time(s.end + self.delta_s),
                label=s.label,
                energy=s.energy,
            )
            for s in grid.sections
        )
        return grid.model_copy(
            update={
                "beats": shift(grid.beats),
                "downbeats": shift(grid.downbeats),
                "added": shift(grid.added),
                "removed": shift(grid.removed),
                "sections": sections,
                "alternatives": tuple(
                    alternative.model_copy(
                        update={"beats": shift(alternative.beats), "downbeats": shift(alternative.downbeats)}
                    )
                    for alternative in grid.alternatives
                ),
            }
        )


@dataclass
class SetTempoFromTaps(_ReplaceGrid):
    """Replace the grid with a constant-tempo grid fitted to tapped times (see grid_from_taps).

    The grid keeps its `source` and sections (they describe the audio, not the tempo); the detected beats,
    the manual corrections to them and the half and double tempo alternatives (they describe the old grid)
    are replaced. `duration_s` is how far the beats extend; None: the longest of the timeline, the last tap,
    and the old grid's last beat or section end.
    """

    tap_times_s: Sequence[float]
    meter: int = 4
    duration_s: float | None = None
    label: str = "Tap tempo"

    def _new_grid(self, project: Project) -> BeatGrid:
        grid = project.beats
        duration = self.duration_s
        if duration is None:
            timeline_s = float(project.duration_frames / project.settings.fps)
            ends = [timeline_s, *self.tap_times_s[-1:], *grid.beats[-1:], *(s.end for s in grid.sections)]
            duration = max(ends, default=0.0)
        try:
            fitted = grid_from_taps(self.tap_times_s, duration, self.meter)
        except InputError as error:
            raise EditError(str(error)) from None
        return fitted.model_copy(update={"source": grid.source, "sections": grid.sections})
