"""In and out points, and the export settings a project remembers: their edits and the rules for marking.

Marking works as in Kdenlive and Resolve: marking an in point keeps the out point when it still lies after
it, marking an out point keeps the in point when it still lies before it; otherwise the other end moves to
the film's end (in) or start (out). Both edits change only settings: no act needs new pictures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.model.commands import Changes, Command
from app.model.errors import EditError
from app.model.project import ExportOptions, ExportRange, FrameRange, Project


def in_marked(current: FrameRange | None, frame: int, duration: int) -> FrameRange:
    """The in/out range after marking the in point at `frame` of a `duration`-frame film."""
    _check_frame(frame, duration)
    out = min(current.end, duration) if current is not None else duration
    return FrameRange(start=frame, end=out if frame < out else duration)


def out_marked(current: FrameRange | None, frame: int, duration: int) -> FrameRange:
    """The in/out range after marking the out point at `frame` (the range's last frame) of the film."""
    _check_frame(frame, duration)
    start = current.start if current is not None and current.start <= frame else 0
    return FrameRange(start=start, end=frame + 1)


def _check_frame(frame: int, duration: int) -> None:
    if duration <= 0:
        raise EditError("the film is empty: there is nothing to mark")
    if not 0 <= frame < duration:
        raise EditError(f"frame {frame} is outside the film (0..{duration - 1})")


def mark_in(project: Project, frame: int) -> SetInOut:
    return SetInOut(in_marked(project.in_out, frame, project.duration_frames), label="Mark in")


def mark_out(project: Project, frame: int) -> SetInOut:
    return SetInOut(out_marked(project.in_out, frame, project.duration_frames), label="Mark out")


def clear_in_out() -> SetInOut:
    return SetInOut(None, label="Clear in and out")


def export_frames(project: Project, options: ExportOptions) -> FrameRange | None:
    """The timeline frames an export with `options` covers: None for the whole film, else the in/out range
    (clipped to the film). Raises EditError when the options ask for in to out and none is marked."""
    if options.range is ExportRange.whole:
        return None
    marked = project.in_out.clipped(project.duration_frames) if project.in_out is not None else None
    if marked is None:
        raise EditError("no in and out points are marked in the film (mark them with I and O)")
    return marked


@dataclass
class SetInOut(Command):
    """Mark the in and out points (`range`), or clear them (None)."""

    range: FrameRange | None
    label: str = "Set in and out"
    _old: FrameRange | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        duration, marked = project.duration_frames, self.range
        if marked is not None and marked.end > duration:
            raise EditError(
                f"in/out range {marked.start}..{marked.end - 1} is outside the film (0..{duration - 1})"
            )
        self._old = project.in_out
        project.in_out = self.range
        return Changes(settings=True)

    def revert(self, project: Project) -> Changes:
        project.in_out = self._old
        return Changes(settings=True)


@dataclass
class SetExportOptions(Command):
    """Remember `options` as the project's export settings (offered again by the next export)."""

    options: ExportOptions
    label: str = "Change export settings"
    _old: ExportOptions = field(default_factory=ExportOptions, repr=False)

    def apply(self, project: Project) -> Changes:
        self._old = project.export
        project.export = self.options
        return Changes(settings=True)

    def revert(self, project: Project) -> Changes:
        project.export = self._old
        return Changes(settings=True)
