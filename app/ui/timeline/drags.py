"""What a timeline drag would do (plain Python, no Qt): live preview positions and the one command to commit.

The view feeds pointer positions in (fractional) timeline frames; a drag answers with the act starts to
draw while dragging, the snap target to show as a guide, a line for the status bar, and on release the
command to execute (None when nothing would change). The model still has the last word: the view executes
the command through the DocumentController, which refuses anything invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.model import Project
from app.model.commands import Command, MoveAct, MoveCut, TrimAct
from app.model.snapping import SnapCandidate, SnapResult, snap, snap_candidates
from app.model.timebase import frames_to_seconds
from app.ui.timeline.content import act_bounds
from app.ui.timeline.geometry import insertion_boundary


@dataclass
class _Snapping:
    candidates: list[SnapCandidate]
    result: SnapResult | None = None

    def target(self, frame: float, tolerance_frames: float | None, low: int, high: int | None) -> int:
        """`frame` rounded, or the snap target in reach, kept inside [low, high] (high None: no limit)."""
        self.result = None
        if tolerance_frames is not None:
            found = snap(frame, self.candidates, tolerance_frames)
            if found is not None and low <= found.frame and (high is None or found.frame <= high):
                self.result = found
                return found.frame
        position = max(round(frame), low)
        return position if high is None else min(position, high)

    def describe(self) -> str:
        return f" — snapped to {self.result.kind.name}" if self.result else ""


class TrimDrag:
    """Ripple trim: the right end of act `index` follows the pointer; the acts after it move with it."""

    def __init__(self, project: Project, index: int, pointer_frame: float, playhead: int) -> None:
        self._fps = project.settings.fps
        self._bounds = act_bounds(project)
        self.index = index
        self.act_id = project.acts[index].id
        self.act_name = project.acts[index].name
        self.start = self._bounds[index]
        self.original_end = self._bounds[index + 1]
        self.end = self.original_end
        # Grabbing a few pixels inside the edge must not make the edge jump to the pointer.
        self._grab = pointer_frame - self.original_end
        # Every cut after this act moves with the trim, so only the ones before it are targets.
        self._snapping = _Snapping(snap_candidates(project, playhead, cuts=self._bounds[1 : index + 1]))

    @property
    def snapped(self) -> SnapResult | None:
        return self._snapping.result

    def update(self, pointer_frame: float, tolerance_frames: float | None) -> None:
        """Move the end under the pointer (never below one frame); `tolerance_frames` None: no snapping."""
        self.end = self._snapping.target(pointer_frame - self._grab, tolerance_frames, self.start + 1, None)

    def preview_bounds(self) -> list[int]:
        delta = self.end - self.original_end
        return self._bounds[: self.index + 1] + [b + delta for b in self._bounds[self.index + 1 :]]

    def command(self) -> Command | None:
        if self.end == self.original_end:
            return None
        return TrimAct(self.act_id, self.end - self.start)

    def describe(self) -> str:
        frames = self.end - self.start
        seconds = frames_to_seconds(frames, self._fps)
        return f"Trim '{self.act_name}' to {frames} frames ({seconds:.2f} s){self._snapping.describe()}"


class RollDrag:
    """Roll edit: the cut after act `cut_index` follows the pointer; the total length stays the same."""

    def __init__(self, project: Project, cut_index: int, pointer_frame: float, playhead: int) -> None:
        self._fps = project.settings.fps
        self._bounds = act_bounds(project)
        self.cut_index = cut_index
        self.low = self._bounds[cut_index]
        self.high = self._bounds[cut_index + 2]
        self.original = self._bounds[cut_index + 1]
        self.frame = self.original
        self._grab = pointer_frame - self.original
        others = [cut for cut in self._bounds[1:-1] if cut != self.original]
        self._snapping = _Snapping(snap_candidates(project, playhead, cuts=others))

    @property
    def snapped(self) -> SnapResult | None:
        return self._snapping.result

    def update(self, pointer_frame: float, tolerance_frames: float | None) -> None:
        """Move the cut under the pointer, keeping at least one frame on either side."""
        self.frame = self._snapping.target(
            pointer_frame - self._grab, tolerance_frames, self.low + 1, self.high - 1
        )

    def preview_bounds(self) -> list[int]:
        bounds = list(self._bounds)
        bounds[self.cut_index + 1] = self.frame
        return bounds

    def command(self) -> Command | None:
        return None if self.frame == self.original else MoveCut(self.cut_index, self.frame)

    def describe(self) -> str:
        seconds = frames_to_seconds(self.frame, self._fps)
        return f"Move cut to frame {self.frame} ({seconds:.2f} s){self._snapping.describe()}"


class MoveDrag:
    """Reorder: act `index` is carried by the pointer and dropped into the gap between acts nearest to it."""

    def __init__(self, project: Project, index: int, pointer_frame: float) -> None:
        self._bounds = act_bounds(project)
        self.index = index
        self.act_id = project.acts[index].id
        self.act_name = project.acts[index].name
        self.duration = self._bounds[index + 1] - self._bounds[index]
        self._grab = pointer_frame - self._bounds[index]
        self.ghost_start = float(self._bounds[index])
        self.boundary = index

    def update(self, pointer_frame: float) -> None:
        self.ghost_start = pointer_frame - self._grab
        self.boundary = insertion_boundary(self._bounds, pointer_frame)

    @property
    def new_index(self) -> int:
        """MoveAct's index: the gap counted among the other acts (the moved one is taken out first)."""
        return self.boundary if self.boundary <= self.index else self.boundary - 1

    @property
    def boundary_frame(self) -> int:
        return self._bounds[self.boundary]

    def command(self) -> Command | None:
        return None if self.new_index == self.index else MoveAct(self.act_id, self.new_index)

    def describe(self) -> str:
        return f"Move '{self.act_name}' to position {self.new_index + 1}"


Drag = TrimDrag | RollDrag | MoveDrag
