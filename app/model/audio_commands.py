"""Editing audio clips and audio tracks: volume and fades, moving a clip, adding, removing, muting and
renaming tracks. Every command checks before it changes anything (EditError names what was wrong) and reports
Changes(audio=True).

A clip's `length_frames` may be None ("to the end of the source"): the model does not know how long the
source is, so SetAudioClipLevels takes that length from the caller (`clip_length_frames`: the editor passes
the length it draws, once the source is decoded). Without any known length each fade is checked on its own;
the mixer then lets the lower of two overlapping ramps win, so an over-long fade only makes the clip quieter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import ValidationError

from app.model.commands import Changes, Command
from app.model.errors import EditError, plain_message
from app.model.project import MAX_AUDIO_TRACKS, AudioClip, AudioTrack, Project

#: The clip volume range in dB (AudioClip.gain_db).
MIN_GAIN_DB = -60.0
MAX_GAIN_DB = 24.0


def track_label(project: Project, index: int) -> str:
    """The name a track shows: its own, or A1, A2, … by position."""
    name = project.audio_tracks[index].name
    return name or f"A{index + 1}"


def _clip(project: Project, clip_id: str) -> AudioClip:
    try:
        return project.audio_clip(clip_id)
    except KeyError:
        raise EditError(f"no audio clip with id {clip_id!r}") from None


def _check_track(project: Project, index: int) -> None:
    count = len(project.audio_tracks)
    if not 0 <= index < count:
        raise EditError(f"there is no audio track {index + 1} (the project has {count})")


def _new_track(name: str, muted: bool) -> AudioTrack:
    try:
        return AudioTrack(name=name.strip(), muted=muted)
    except ValidationError as error:
        raise EditError(f"audio track name: {plain_message(error.errors()[0])}") from None


@dataclass
class SetAudioClipLevels(Command):
    """Set a clip's volume (dB, -60..+24) and/or its fade-in and fade-out lengths (frames); None keeps one.

    The fades together may not be longer than the clip: its own `length_frames`, else `clip_length_frames`
    (the length of a clip that plays to the end of its source, as the caller knows it), else unchecked.
    """

    clip_id: str
    gain_db: float | None = None
    fade_in_frames: int | None = None
    fade_out_frames: int | None = None
    clip_length_frames: int | None = None
    label: str = ""
    _old: tuple[float, int, int] = field(default=(0.0, 0, 0), repr=False)

    def __post_init__(self) -> None:
        if not self.label:
            changed = [
                name
                for name, value in (
                    ("volume", self.gain_db),
                    ("fade in", self.fade_in_frames),
                    ("fade out", self.fade_out_frames),
                )
                if value is not None
            ]
            self.label = f"Change {changed[0]}" if len(changed) == 1 else "Change audio levels"

    def apply(self, project: Project) -> Changes:
        clip = _clip(project, self.clip_id)
        name = clip.media.path.rsplit("/", 1)[-1]
        gain = clip.gain_db if self.gain_db is None else self.gain_db
        if not (math.isfinite(gain) and MIN_GAIN_DB <= gain <= MAX_GAIN_DB):
            raise EditError(
                f"audio clip '{name}': volume must be {MIN_GAIN_DB:g}..{MAX_GAIN_DB:+g} dB, not {gain}"
            )
        fade_in = clip.fade_in_frames if self.fade_in_frames is None else self.fade_in_frames
        fade_out = clip.fade_out_frames if self.fade_out_frames is None else self.fade_out_frames
        for side, frames in (("fade in", fade_in), ("fade out", fade_out)):
            if frames < 0:
                raise EditError(f"audio clip '{name}': {side} must be 0 frames or more, not {frames}")
        length = clip.length_frames or self.clip_length_frames
        if length is not None and fade_in + fade_out > length:
            raise EditError(
                f"audio clip '{name}': fades of {fade_in} + {fade_out} frames are longer than the clip "
                f"({length} frames)"
            )
        self._old = (clip.gain_db, clip.fade_in_frames, clip.fade_out_frames)
        clip.gain_db, clip.fade_in_frames, clip.fade_out_frames = gain, fade_in, fade_out
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        clip = project.audio_clip(self.clip_id)
        clip.gain_db, clip.fade_in_frames, clip.fade_out_frames = self._old
        return Changes(audio=True)


@dataclass
class MoveAudioClip(Command):
    """Place a clip at timeline frame `offset_frames` (>= 0) on audio track `track` (0-based)."""

    clip_id: str
    offset_frames: int
    track: int
    label: str = "Move audio clip"
    _old: tuple[int, int] = field(default=(0, 0), repr=False)

    def apply(self, project: Project) -> Changes:
        clip = _clip(project, self.clip_id)
        if self.offset_frames < 0:
            raise EditError(f"an audio clip cannot start before frame 0 (asked for {self.offset_frames})")
        _check_track(project, self.track)
        self._old = (clip.offset_frames, clip.track)
        clip.offset_frames, clip.track = self.offset_frames, self.track
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        clip = project.audio_clip(self.clip_id)
        clip.offset_frames, clip.track = self._old
        return Changes(audio=True)


@dataclass
class AddAudioTrack(Command):
    """Add an empty audio track below the others ("" names it A1, A2, … by position)."""

    name: str = ""
    label: str = "Add audio track"

    def apply(self, project: Project) -> Changes:
        if len(project.audio_tracks) >= MAX_AUDIO_TRACKS:
            raise EditError(f"a project has at most {MAX_AUDIO_TRACKS} audio tracks")
        project.audio_tracks.append(_new_track(self.name, muted=False))
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        project.audio_tracks.pop()
        return Changes(audio=True)


def remove_track_refusal(project: Project, index: int) -> str | None:
    """Why audio track `index` cannot be removed (it holds clips, or it is the last one), or None."""
    label = track_label(project, index)
    if len(project.audio_tracks) == 1:
        return f"track {label} is the only audio track; a project keeps at least one"
    clips = sum(1 for clip in project.audio if clip.track == index)
    if clips == 1:
        return f"track {label} holds 1 audio clip: move or delete it first"
    if clips:
        return f"track {label} holds {clips} audio clips: move or delete them first"
    return None


@dataclass
class RemoveAudioTrack(Command):
    """Remove an empty audio track; clips on the tracks below move up one index, staying on their track."""

    index: int
    label: str = "Remove audio track"
    _removed: AudioTrack | None = field(default=None, repr=False)

    def apply(self, project: Project) -> Changes:
        _check_track(project, self.index)
        refusal = remove_track_refusal(project, self.index)
        if refusal is not None:
            raise EditError(f"cannot remove the track: {refusal}")
        self._removed = project.audio_tracks.pop(self.index)
        for clip in project.audio:
            if clip.track > self.index:
                clip.track -= 1
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        assert self._removed is not None
        for clip in project.audio:
            if clip.track >= self.index:
                clip.track += 1
        project.audio_tracks.insert(self.index, self._removed)
        return Changes(audio=True)


@dataclass
class SetAudioTrack(Command):
    """Rename (`name`; "" goes back to A1, A2, …) and/or mute or unmute (`muted`) audio track `index`."""

    index: int
    name: str | None = None
    muted: bool | None = None
    label: str = ""
    _old: AudioTrack | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.label:
            if self.name is None and self.muted is not None:
                self.label = f"{'Mute' if self.muted else 'Unmute'} A{self.index + 1}"
            else:
                self.label = "Rename track"

    def apply(self, project: Project) -> Changes:
        _check_track(project, self.index)
        old = project.audio_tracks[self.index]
        name = old.name if self.name is None else self.name
        new = _new_track(name, old.muted if self.muted is None else self.muted)
        self._old = old
        project.audio_tracks[self.index] = new
        return Changes(audio=True)

    def revert(self, project: Project) -> Changes:
        assert self._old is not None
        project.audio_tracks[self.index] = self._old
        return Changes(audio=True)
