"""Edit commands: every change to a Project is a command with apply and revert.

A command checks that it is allowed *before* it changes anything and raises EditError otherwise ("the GUI
sends modification queries and the model authorizes them or not"). `apply` and `revert` each return the
Changes they made, so views and the engine refresh only what changed.
"""

from __future__ import annotations

import bisect
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.model.act import Act, TransitionSpec
from app.model.errors import EditError, plain_message
from app.model.media import MediaRef
from app.model.project import AudioClip, Project
from app.model.timebase import seconds_to_frames


@dataclass(frozen=True)
class Changes:
    """What an edit touched.

    acts: ids of acts whose own inputs changed (their pictures must be re-rendered).
    timing: the order or durations of acts changed (positions of later acts moved; transitions may change).
    audio / beats / settings: those parts of the document changed.
    """

    acts: frozenset[str] = frozenset()
    timing: bool = False
    audio: bool = False
    beats: bool = False
    settings: bool = False

    def __or__(self, other: Changes) -> Changes:
        return Changes(
            acts=self.acts | other.acts,
            timing=self.timing or other.timing,
            audio=self.audio or other.audio,
            beats=self.beats or other.beats,
            settings=self.settings or other.settings,
        )

    def __bool__(self) -> bool:
        return bool(self.acts) or self.timing or self.audio or self.beats or self.settings


class Command(ABC):
    """One undoable edit. `apply` may be called again after `revert` (redo)."""

    label: str = "Edit"

    @abstractmethod
    def apply(self, project: Project) -> Changes: ...

    @abstractmethod
    def revert(self, project: Project) -> Changes: ...


def find_act(project: Project, act_id: str) -> Act:
    """The act with `act_id`; EditError naming the id when there is none."""
    return project.acts[_index(project, act_id)]


def _index(project: Project, act_id: str) -> int:
    try:
        return project.index_of(act_id)
    except KeyError:
        raise EditError(f"no act with id {act_id!r}") from None


# -- acts track --------------------------------------------------------------------------------------------


@dataclass
class AddAct(Command):
    act: Act
    index: int | None = None  # None: append at the end
    label: str = "Add act"

    def apply(self, project: Project) -> Changes:
        if any(existing.id == self.act.id for existing in project.acts):
            raise EditError(f"an act with id {self.act.id!r} already exists")
        index = len(project.acts) if self.index is None else self.index
        if not 0 <= index <= len(project.acts):
            raise EditError(f"act position {index} is outside 0..{len(project.acts)}")
        project.acts.insert(index, self.act)
        return Changes(acts=frozenset({self.act.id}), timing=True)

    def revert(self, project: Project) -> Changes:
        del project.acts[project.index_of(self.act.id)]
        return Changes(acts=frozenset({self.act.id}), timing=True)


@dataclass
class RemoveActs(Command):
    """Ripple delete: the acts after the removed ones move up to close the gap."""

    act_ids: list[str]
    label: str = "Delete acts"
    _removed: list[tuple[int, Act]] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        indices = sorted({_index(project, act_id) for act_id in self.act_ids})
        self._removed = [(i, project.acts[i]) for i in indices]
        for i in reversed(indices):
            del project.acts[i]
        return Changes(acts=frozenset(self.act_ids), timing=True)

    def revert(self, project: Project) -> Changes:
        for i, act in self._removed:
            project.acts.insert(i, act)
        return Changes(acts=frozenset(self.act_ids), timing=True)


@dataclass
class MoveAct(Command):
    """Reorder: take the act out and insert it at `new_index` of the remaining acts."""

    act_id: str
    new_index: int
    label: str = "Move act"
    _old_index: int = field(default=-1, repr=False)

    def apply(self, project: Project) -> Changes:
        old = _index(project, self.act_id)
        if not 0 <= self.new_index < len(project.acts):
            raise EditError(f"act position {self.new_index} is outside 0..{len(project.acts) - 1}")
        self._old_index = old
        project.acts.insert(self.new_index, project.acts.pop(old))
        return Changes(timing=True)

    def revert(self, project: Project) -> Changes:
        project.acts.insert(self._old_index, project.acts.pop(self.new_index))
        return Changes(timing=True)


@dataclass
class TrimAct(Command):
    """Ripple trim: set an act's duration; the acts after it move."""

    act_id: str
    duration_frames: int
    label: str = "Trim act"
    _old: int = field(default=0, repr=False)

    def apply(self, project: Project) -> Changes:
        act = project.acts[_index(project, self.act_id)]
        if self.duration_frames <= 0:
            raise EditError(f"act '{act.name}' cannot be shorter than one frame")
        self._old = act.duration_frames
        act.duration_frames = self.duration_frames
        return Changes(acts=frozenset({act.id}), timing=True)

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        act.duration_frames = self._old
        return Changes(acts=frozenset({act.id}), timing=True)


def _set_cut(project: Project, cut_index: int, frame: int) -> tuple[int, int]:
    """Move cut `cut_index` (between acts i and i+1) to timeline `frame`; returns the old durations."""
    if not 0 <= cut_index < len(project.acts) - 1:
        raise EditError(f"there is no cut number {cut_index}")
    before, after = project.acts[cut_index], project.acts[cut_index + 1]
    start = project.act_starts()[cut_index]
    end = start + before.duration_frames + after.duration_frames
    if not start < frame < end:
        raise EditError(
            f"cut between '{before.name}' and '{after.name}' must stay inside frames {start}..{end}"
        )
    old = before.duration_frames, after.duration_frames
    before.duration_frames = frame - start
    after.duration_frames = end - frame
    return old


@dataclass
class MoveCut(Command):
    """Roll edit: move the cut between two neighbouring acts; the total length stays the same."""

    cut_index: int
    frame: int
    label: str = "Move cut"
    _old: tuple[int, int] = field(default=(0, 0), repr=False)

    def apply(self, project: Project) -> Changes:
        self._old = _set_cut(project, self.cut_index, self.frame)
        pair = project.acts[self.cut_index : self.cut_index + 2]
        return Changes(acts=frozenset(a.id for a in pair), timing=True)

    def revert(self, project: Project) -> Changes:
        pair = project.acts[self.cut_index : self.cut_index + 2]
        pair[0].duration_frames, pair[1].duration_frames = self._old
        return Changes(acts=frozenset(a.id for a in pair), timing=True)


@dataclass
class SplitAct(Command):
    """Split an act at `offset_frames` from its start into two parts that play as the one shot did.

    The second part is a copy with a new id that continues the camera move where the first part stops
    (MotionSettings.split_path) and keeps the act's way out: its outgoing transition and ending on the next
    act's keyframe. The first part goes straight on into the second: a cut of zero frames.
    """

    act_id: str
    offset_frames: int
    new_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    label: str = "Split act"
    _old: Act | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        index = _index(project, self.act_id)
        act = project.acts[index]
        if not 0 < self.offset_frames < act.duration_frames:
            raise EditError(f"split point {self.offset_frames} is not inside act '{act.name}'")
        self._old = act.model_copy(deep=True)
        first_motion, second_motion = act.motion.split_path(self.offset_frames, act.duration_frames)
        second = act.model_copy(
            deep=True,
            update={
                "id": self.new_id,
                "name": f"{act.name} (2)",
                "duration_frames": act.duration_frames - self.offset_frames,
                "motion": second_motion,
            },
        )
        act.duration_frames = self.offset_frames
        act.motion = first_motion
        act.transition = TransitionSpec()
        act.generation = act.generation.model_copy(update={"end_on_next": False})
        project.acts.insert(index + 1, second)
        return Changes(acts=frozenset({act.id, second.id}), timing=True)

    def revert(self, project: Project) -> Changes:
        assert self._old is not None
        index = project.index_of(self.act_id)
        second = project.acts.pop(index + 1)
        act = project.acts[index]
        for name in Act.model_fields:  # in place: views may hold the act object
            setattr(act, name, getattr(self._old, name))
        return Changes(acts=frozenset({self.act_id, second.id}), timing=True)


_ACT_FIELDS_NOT_SETTABLE = {"id", "duration_frames"}  # identity, and timing goes through Trim/MoveCut


@dataclass
class SetActField(Command):
    """Set one field of an act (prompt, seed, motion, transition, grade, references, backends, …)."""

    act_id: str
    field_name: str
    value: Any
    label: str = "Change act"
    _old: Any = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        act = project.acts[_index(project, self.act_id)]
        if self.field_name in _ACT_FIELDS_NOT_SETTABLE or self.field_name not in Act.model_fields:
            raise EditError(f"act field '{self.field_name}' cannot be set")
        self._old = getattr(act, self.field_name)
        try:
            setattr(act, self.field_name, self.value)  # validate_assignment checks type and range
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or self.field_name
            raise EditError(f"act '{act.name}' field '{where}': {plain_message(first)}") from None
        timing = self.field_name == "transition"
        return Changes(acts=frozenset({act.id}), timing=timing)

    def revert(self, project: Project) -> Changes:
        act = project.act(self.act_id)
        setattr(act, self.field_name, self._old)
        return Changes(acts=frozenset({act.id}), timing=self.field_name == "transition")


@dataclass
class SnapCutsToBeats(Command):
    """Move every cut to the nearest beat within `tolerance_frames` (downbeats only if asked).

    Cuts with no beat in reach stay where they are. A cut never moves past its neighbours, so every act
    keeps at least one frame.
    """

    tolerance_frames: int
    downbeats_only: bool = False
    label: str = "Snap cuts to beats"
    _old_durations: list[int] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        if self.tolerance_frames < 0:
            raise EditError("snap tolerance must be >= 0 frames")
        fps = project.settings.fps
        grid = project.beats
        if self.downbeats_only:
            targets = sorted({seconds_to_frames(t, fps) for t in grid.downbeats})
        else:
            targets = grid.beat_frames(fps)
        self._old_durations = [act.duration_frames for act in project.acts]
        touched: set[str] = set()
        for cut_index, cut in enumerate(project.cut_frames()):
            target = _nearest(targets, cut)
            if target is None or target == cut or abs(target - cut) > self.tolerance_frames:
                continue
            start = project.act_starts()[cut_index]
            end = start + sum(a.duration_frames for a in project.acts[cut_index : cut_index + 2])
            if start < target < end:
                _set_cut(project, cut_index, target)
                touched.update(a.id for a in project.acts[cut_index : cut_index + 2])
        return Changes(acts=frozenset(touched), timing=bool(touched))

    def revert(self, project: Project) -> Changes:
        touched = set()
        for act, duration in zip(project.acts, self._old_durations, strict=True):
            if act.duration_frames != duration:
                touched.add(act.id)
                act.duration_frames = duration
        return Changes(acts=frozenset(touched), timing=bool(touched))


def _nearest(sorted_values: list[int], value: int) -> int | None:
    if not sorted_values:
        return None
    i = bisect.bisect_left(sorted_values, value)
    candidates = sorted_values[max(0, i - 1) : i + 1]
    return min(candidates, key=lambda v: (abs(v - value), v))


# -- audio and beats ---------------------------------------------------------------------------------------


@dataclass
class AddAudioClip(Command):
    clip: AudioClip
    label: str = "Add audio"

    def apply(self, project: Project) -> Changes:
        if any(existing.id == self.clip.id for existing in project.audio):
            raise EditError(f"an audio clip with id {self.clip.id!r} already exists")
        project.audio.append(self.clip)
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        project.audio.remove(project.audio_clip(self.clip.id))
        return Changes(audio=True)


@dataclass
class RelinkMedia(Command):
    """Point every reference to a moved file at its new location (all acts, LUTs, audio clips, beat source).

    `moves` maps an old stored path to the new MediaRef (same content hash, new path).
    """

    moves: dict[str, MediaRef]
    label: str = "Relink media"
    _old: Project | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        self._old = project.model_copy(deep=True)
        touched: set[str] = set()

        def moved(ref: MediaRef) -> MediaRef:
            return self.moves.get(ref.path, ref)

        for act in project.acts:
            references = [moved(ref) for ref in act.references]
            if references != act.references:
                act.references = references
                touched.add(act.id)
            if act.grade.lut is not None and act.grade.lut.path in self.moves:
                act.grade = act.grade.model_copy(update={"lut": moved(act.grade.lut)})
                touched.add(act.id)
        audio = False
        for clip in project.audio:
            if clip.media.path in self.moves:
                clip.media = moved(clip.media)
                audio = True
        if project.beats.source is not None and project.beats.source.path in self.moves:
            project.beats = project.beats.model_copy(update={"source": moved(project.beats.source)})
        project.media_bin = [moved(ref) for ref in project.media_bin]
        return Changes(acts=frozenset(touched), audio=audio)

    def revert(self, project: Project) -> Changes:
        assert self._old is not None
        old = self._old
        for act, before in zip(project.acts, old.acts, strict=True):
            act.references, act.grade = before.references, before.grade
        for clip, before_clip in zip(project.audio, old.audio, strict=True):
            clip.media = before_clip.media
        project.beats = old.beats
        project.media_bin = old.media_bin
        return Changes(acts=frozenset(a.id for a in project.acts), audio=True)
