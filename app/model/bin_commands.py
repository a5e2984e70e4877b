"""The media bin: the project's pictures and sounds, and the edits that import them, remove them from the bin
and insert pictures as acts.

`Project.media_bin` stores only what was imported and not (yet) used; the bin the user sees, `bin_items`,
also lists every picture an act references and every sound an audio clip plays, once each, with what uses
it. Removing an entry from the bin never touches the acts or clips: media in use stays listed. A file whose
content is already listed (the same bytes under another name or folder) is not imported again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath, PurePosixPath

from app.model.act import Act
from app.model.commands import Changes, Command
from app.model.errors import EditError
from app.model.media import MediaRef
from app.model.project import Project

#: Picture files the renderer decodes (app.engine.image_check names what else a file is).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
#: Sound files the audio decoder is asked to open.
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac"})
#: A new act made from a picture lasts this many beats when the tempo is known, else DEFAULT_SECONDS.
BEATS_PER_NEW_ACT = 8
DEFAULT_SECONDS = 2


class MediaKind(StrEnum):
    image = "image"
    audio = "audio"


def media_kind(path: str) -> MediaKind | None:
    """What a file is by its suffix (case-insensitive): a picture, a sound, or None (neither)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.image
    if suffix in AUDIO_SUFFIXES:
        return MediaKind.audio
    return None


def new_act_frames(project: Project) -> int:
    """Length of an act made from a picture (dropped, inserted from the bin or from files), in frames:
    BEATS_PER_NEW_ACT beats at the project's tempo, else DEFAULT_SECONDS; at least one frame."""
    fps = project.settings.fps
    tempo = project.beats.tempo
    seconds = BEATS_PER_NEW_ACT * 60 / tempo if tempo > 0 else DEFAULT_SECONDS
    return max(1, round(seconds * fps))


@dataclass(frozen=True)
class BinItem:
    """One picture or sound of the project as the bin lists it.

    `in_bin`: stored in `Project.media_bin` (Remove from Bin takes it out); `used_by`: the names of the acts
    that show the picture, or the audio tracks ("audio track 2", or the track's own name) that play the sound.
    """

    ref: MediaRef
    kind: MediaKind
    in_bin: bool
    used_by: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return PurePosixPath(self.ref.path).name

    @property
    def used(self) -> bool:
        return bool(self.used_by)


def track_label(project: Project, track: int) -> str:
    """How the bin names audio track `track` (0-based): its own name, else "audio track N" (1-based)."""
    name = project.audio_tracks[track].name if track < len(project.audio_tracks) else ""
    return name or f"audio track {track + 1}"


def bin_items(project: Project) -> list[BinItem]:
    """Every picture and sound of the project once (by stored path): first the pictures acts use and the
    sounds audio clips play that were never imported, in timeline order, then the bin's entries in the order
    they were imported (so an import adds to the end and moves nothing). Bin entries of neither kind (a
    renamed suffix) are listed as pictures."""
    stored = {ref.path for ref in project.media_bin}
    uses: dict[str, list[str]] = {}
    kinds: dict[str, MediaKind] = {}
    refs: dict[str, MediaRef] = {}
    for act in project.acts:
        for ref in act.references:
            if ref.path not in stored:
                refs.setdefault(ref.path, ref)
            kinds.setdefault(ref.path, MediaKind.image)
            _add_once(uses.setdefault(ref.path, []), act.name)
    for clip in project.audio:
        if clip.media.path not in stored:
            refs.setdefault(clip.media.path, clip.media)
        kinds.setdefault(clip.media.path, MediaKind.audio)
        _add_once(uses.setdefault(clip.media.path, []), track_label(project, clip.track))
    for ref in project.media_bin:
        refs.setdefault(ref.path, ref)
        kinds[ref.path] = media_kind(ref.path) or MediaKind.image
    return [
        BinItem(ref=ref, kind=kinds[path], in_bin=path in stored, used_by=tuple(uses.get(path, ())))
        for path, ref in refs.items()
    ]


def distinct_names(paths: Sequence[PurePath]) -> list[str]:
    """How the bin names the files at `paths`: the file name, followed by as many of its parent folders as
    tell it apart from other files of the same name ("02_chelsea.jpg — demo/") when there are any."""
    names: list[str] = []
    for path in paths:
        namesakes = [other for other in paths if other.name == path.name and other != path]
        if not namesakes:
            names.append(path.name)
            continue
        folders = path.parent.parts
        depth = 1
        while depth < len(folders) and any(
            other.parent.parts[-depth:] == folders[-depth:] for other in namesakes
        ):
            depth += 1
        names.append(f"{path.name} — {'/'.join(folders[-depth:]).removeprefix('/')}/")
    return names


def _add_once(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class AlreadyInBin:
    """A file an import skipped: `existing` is the bin entry it is (the same stored path or the same
    content)."""

    ref: MediaRef
    existing: MediaRef

    def __str__(self) -> str:
        if self.ref.path == self.existing.path:
            return f"{self.ref.path} is already in the media bin"
        what = "sound" if media_kind(self.existing.path) is MediaKind.audio else "picture"
        where = self.existing.path
        if PurePosixPath(where).parent == PurePosixPath("."):
            where += " in the project folder"
        return f"{PurePosixPath(self.ref.path).name} is already in the bin (same {what} as {where})"


@dataclass
class ImportMedia(Command):
    """Add pictures and sounds to the end of the media bin. A file the bin already lists, by stored path or
    by content hash, is skipped (`skipped` says which entry it is); when every file is, the edit is refused
    naming them."""

    refs: list[MediaRef]
    label: str = "Import files"
    added: list[MediaRef] = field(default_factory=list, repr=False)
    skipped: list[AlreadyInBin] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        stored = {ref.path: ref for ref in project.media_bin}
        # Media acts and clips use may still be imported under its own path (it then joins the bin), but
        # the same content under another path is the same picture or sound listed twice.
        by_content = {item.ref.sha256: item.ref for item in reversed(bin_items(project)) if item.ref.sha256}
        added: list[MediaRef] = []
        skipped: list[AlreadyInBin] = []
        offered = {ref.path: ref for ref in self.refs}.values()  # a file given twice is offered once
        for ref in offered:
            existing = stored.get(ref.path) or (by_content.get(ref.sha256) if ref.sha256 else None)
            if existing is not None and (existing.path != ref.path or ref.path in stored):
                skipped.append(AlreadyInBin(ref, existing))
                continue
            if ref.sha256:
                by_content.setdefault(ref.sha256, ref)
            added.append(ref)
        self.skipped = skipped
        if not added:
            if not self.refs:
                raise EditError("no files to import")
            raise EditError("; ".join(str(skip) for skip in skipped))
        project.media_bin.extend(added)
        self.added = added
        self.label = f"Import {_files(len(added))}"
        return Changes()  # nothing renders from the bin; views listen to every change

    def revert(self, project: Project) -> Changes:
        added = {ref.path for ref in self.added}
        project.media_bin[:] = [ref for ref in project.media_bin if ref.path not in added]
        return Changes()


@dataclass
class RemoveFromBin(Command):
    """Take the entries with these stored paths out of the media bin. Acts and clips keep their media (it
    stays listed by `bin_items`); refused when none of the paths is a bin entry."""

    paths: list[str]
    label: str = "Remove from bin"
    _removed: list[tuple[int, MediaRef]] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        wanted = set(self.paths)
        removed = [(i, ref) for i, ref in enumerate(project.media_bin) if ref.path in wanted]
        if not removed:
            first = self.paths[0] if self.paths else "nothing"
            raise EditError(f"{first} is not in the media bin (media in use stays listed)")
        project.media_bin[:] = [ref for ref in project.media_bin if ref.path not in wanted]
        self._removed = removed
        self.label = f"Remove {_files(len(removed))} from bin"
        return Changes()

    def revert(self, project: Project) -> Changes:
        for index, ref in self._removed:
            project.media_bin.insert(index, ref)
        return Changes()


@dataclass
class AddActsFromMedia(Command):
    """Insert one act per picture at act position `index` (None: after the last act), in the order given,
    named after the file (its stem), `duration_frames` long each (None: `new_act_frames`). Refused, with
    nothing changed, when a file is not a picture. Redo inserts the same acts (same ids)."""

    refs: list[MediaRef]
    index: int | None = None
    duration_frames: int | None = None
    label: str = "Add acts"
    acts: list[Act] = field(default_factory=list, repr=False)  # made on the first apply

    def apply(self, project: Project) -> Changes:
        if not self.refs:
            raise EditError("no pictures to add as acts")
        for ref in self.refs:
            if media_kind(ref.path) is not MediaKind.image:
                raise EditError(f"{ref.path} is not a picture: only pictures become acts")
        index = len(project.acts) if self.index is None else self.index
        if not 0 <= index <= len(project.acts):
            raise EditError(f"act position {index} is outside 0..{len(project.acts)}")
        if not self.acts:
            duration = new_act_frames(project) if self.duration_frames is None else self.duration_frames
            if duration <= 0:
                raise EditError(f"a new act cannot be {duration} frames long")
            self.acts = [
                Act(name=PurePosixPath(ref.path).stem, duration_frames=duration, references=[ref])
                for ref in self.refs
            ]
            self.label = f"Add {len(self.acts)} act{'' if len(self.acts) == 1 else 's'}"
        project.acts[index:index] = self.acts
        return Changes(acts=frozenset(act.id for act in self.acts), timing=True)

    def revert(self, project: Project) -> Changes:
        ids = {act.id for act in self.acts}
        project.acts[:] = [act for act in project.acts if act.id not in ids]
        return Changes(acts=frozenset(ids), timing=True)
