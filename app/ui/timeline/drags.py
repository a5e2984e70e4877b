"""What a timeline drag would do (plain Python, no Qt): live preview positions and the one command to commit.

The view feeds pointer positions in (fractional) timeline frames; a drag answers with the act starts (or,
for an audio clip, the clip as it would be) to draw while dragging, the snap target to show as a guide, a
line for the status bar, and on release the command to execute (None when nothing would change). The model
still has the last word: the view executes the command through the DocumentController, which refuses
anything invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.model import AudioClip, Project
from app.model.audio_commands import MoveAudioClip, SetAudioClipLevels, track_label
from app.model.commands import Command, MoveAct, MoveCut, TrimAct
from app.model.snapping import SnapCandidate, SnapResult, snap, snap_candidates
from app.model.timebase import frames_to_seconds, timecode
from app.ui.timeline.content import AudioSpan, act_bounds
from app.ui.timeline.geometry import gain_at_height, gain_height, insertion_boundary

#: A volume drag with Shift held moves the line this much slower than the pointer.
FINE_GAIN_FACTOR = 0.1


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


def describe_gain(gain_db: float) -> str:
    """A clip volume as the timeline shows it: "0.0 dB", "+3.5 dB", "-12.0 dB"."""
    return "0.0 dB" if round(gain_db, 1) == 0 else f"{gain_db:+.1f} dB"


class FadeDrag:
    """A fade handle follows the pointer: the fade-in ends (the fade-out starts) where it is dropped, never
    before the clip's start (after its end) nor across the other fade."""

    def __init__(self, project: Project, span: AudioSpan, fade_in: bool, pointer_frame: float) -> None:
        self._fps = project.settings.fps
        self._span = span
        self.fade_in = fade_in
        self.original = span.fade_in if fade_in else span.fade_out
        self.frames = self.original
        self._limit = max(0, span.length - (span.fade_out if fade_in else span.fade_in))
        handle = span.start + span.fade_in if fade_in else span.end - span.fade_out
        self._grab = pointer_frame - handle
        self._clip = project.audio_clip(span.clip_id)

    @property
    def shown_clip(self) -> AudioClip:
        """The clip as it would be: what the timeline draws while dragging."""
        field = "fade_in_frames" if self.fade_in else "fade_out_frames"
        return self._clip.model_copy(update={field: self.frames})

    def update(self, pointer_frame: float) -> None:
        handle = pointer_frame - self._grab
        frames = handle - self._span.start if self.fade_in else self._span.end - handle
        self.frames = min(max(0, round(frames)), self._limit)

    def command(self) -> Command | None:
        if self.frames == self.original:
            return None
        # A clip that plays to the end of its source: the model checks the fades against the drawn length.
        known = self._span.length if self._span.length_known else None
        if self.fade_in:
            return SetAudioClipLevels(self._clip.id, fade_in_frames=self.frames, clip_length_frames=known)
        return SetAudioClipLevels(self._clip.id, fade_out_frames=self.frames, clip_length_frames=known)

    def describe(self) -> str:
        seconds = frames_to_seconds(self.frames, self._fps)
        return f"Fade {'in' if self.fade_in else 'out'} {self.frames} frames ({seconds:.2f} s)"


class GainDrag:
    """The volume line follows the pointer up and down (relative moves, `fine` ones ten times slower), on the
    timeline's dB scale (geometry.gain_height), in steps of 0.1 dB."""

    def __init__(self, project: Project, span: AudioSpan, pointer_y: float, band_height: int) -> None:
        self._clip = project.audio_clip(span.clip_id)
        self.original = span.gain_db
        self.gain_db = span.gain_db
        self._height = gain_height(span.gain_db)
        self._y = pointer_y
        self._band = max(1, band_height - 1)

    @property
    def shown_clip(self) -> AudioClip:
        return self._clip.model_copy(update={"gain_db": self.gain_db})

    def update(self, pointer_y: float, fine: bool) -> None:
        step = (self._y - pointer_y) / self._band  # up is louder
        self._y = pointer_y
        self._height = min(max(self._height + step * (FINE_GAIN_FACTOR if fine else 1.0), 0.0), 1.0)
        self.gain_db = round(gain_at_height(self._height), 1)

    def command(self) -> Command | None:
        if self.gain_db == self.original:
            return None
        return SetAudioClipLevels(self._clip.id, gain_db=self.gain_db)

    def describe(self) -> str:
        return f"Volume {describe_gain(self.gain_db)}"


class ClipMoveDrag:
    """An audio clip carried by the pointer along its track (its start snapping to beats, cuts and the
    playhead) and onto the audio track under the pointer."""

    def __init__(self, project: Project, span: AudioSpan, pointer_frame: float, playhead: int) -> None:
        self._project = project
        self._clip = project.audio_clip(span.clip_id)
        self._grab = pointer_frame - span.start
        self.original = (span.start, span.track)
        self.offset, self.track = self.original
        self._snapping = _Snapping(snap_candidates(project, playhead))

    @property
    def snapped(self) -> SnapResult | None:
        return self._snapping.result

    @property
    def shown_clip(self) -> AudioClip:
        return self._clip.model_copy(update={"offset_frames": self.offset, "track": self.track})

    def update(self, pointer_frame: float, track: int | None, tolerance_frames: float | None) -> None:
        """Move the clip's start under the pointer (never before frame 0) onto `track` (None: stay)."""
        self.offset = self._snapping.target(pointer_frame - self._grab, tolerance_frames, 0, None)
        if track is not None:
            self.track = track

    def command(self) -> Command | None:
        if (self.offset, self.track) == self.original:
            return None
        return MoveAudioClip(self._clip.id, self.offset, self.track)

    def describe(self) -> str:
        name = self._clip.media.path.rsplit("/", 1)[-1]
        at = timecode(self.offset, self._project.settings.fps)
        where = track_label(self._project, self.track)
        return f"Move '{name}' to {at} on {where}{self._snapping.describe()}"


Drag = TrimDrag | RollDrag | MoveDrag | FadeDrag | GainDrag | ClipMoveDrag
AudioDrag = FadeDrag | GainDrag | ClipMoveDrag
