"""Snapping for timeline edits: where a dragged edge or cut may land, and which target is in reach.

Everything is in integer timeline frames. Beats arrive in seconds and are snapped to frames here, the same
way `BeatGrid.beat_frames` does, so a trim that snaps to a beat lands exactly on the frame a cut on that
beat would use.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from app.model.project import Project
from app.model.timebase import seconds_to_frames


class SnapKind(IntEnum):
    """What a snap target is; when two targets share a frame the higher kind names it."""

    beat = 1
    cut = 2
    downbeat = 3
    playhead = 4


@dataclass(frozen=True)
class SnapCandidate:
    frame: int
    kind: SnapKind


@dataclass(frozen=True)
class SnapResult:
    """The frame a drag snapped to, what is there, and how far (frames) the pointer was from it."""

    frame: int
    kind: SnapKind
    distance: float


def snap_candidates(
    project: Project, playhead: int | None = None, cuts: Iterable[int] | None = None
) -> list[SnapCandidate]:
    """Snap targets sorted by frame: effective beats and downbeats (snapped to frames), cuts, the playhead.

    `cuts` are the cut frames to offer (default: every cut of the project). A ripple trim moves every cut
    after the trimmed act, so it passes only the cuts that stay put. One candidate per frame: where a beat,
    a downbeat, a cut and the playhead coincide, the strongest kind (see SnapKind) is kept.
    """
    fps = project.settings.fps
    grid = project.beats
    effective = set(grid.effective_beats())
    strongest: dict[int, SnapKind] = {}

    def offer(frame: int, kind: SnapKind) -> None:
        if frame >= 0 and kind > strongest.get(frame, 0):
            strongest[frame] = kind

    for frame in grid.beat_frames(fps):
        offer(frame, SnapKind.beat)
    for frame in project.cut_frames() if cuts is None else cuts:
        offer(frame, SnapKind.cut)
    for time_s in grid.downbeats:
        if time_s in effective:  # a removed beat is no downbeat any more
            offer(seconds_to_frames(time_s, fps), SnapKind.downbeat)
    if playhead is not None:
        offer(playhead, SnapKind.playhead)
    return [SnapCandidate(frame, kind) for frame, kind in sorted(strongest.items())]


def snap(frame: float, candidates: Sequence[SnapCandidate], tolerance_frames: float) -> SnapResult | None:
    """The candidate nearest to `frame` (a pointer position in frames, fractional at high zoom).

    Returns None when no candidate lies within `tolerance_frames`. `candidates` must be sorted by frame
    (as `snap_candidates` returns them). Ties in distance go to the stronger kind, then the earlier frame.
    """
    if tolerance_frames < 0:
        raise ValueError(f"snap tolerance must be >= 0 frames, got {tolerance_frames}")
    low = bisect.bisect_left(candidates, frame - tolerance_frames, key=lambda c: c.frame)
    high = bisect.bisect_right(candidates, frame + tolerance_frames, key=lambda c: c.frame)
    best: SnapResult | None = None
    for candidate in candidates[low:high]:
        distance = abs(candidate.frame - frame)
        if best is None or (distance, -candidate.kind) < (best.distance, -best.kind):
            best = SnapResult(candidate.frame, candidate.kind, distance)
    return best
