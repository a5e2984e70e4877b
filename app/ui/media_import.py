"""Bringing pictures and sounds into the project: checking files, importing them into the media bin, and
adding bin media to the timeline (pictures as acts, sounds as clips).

Every file is checked when it comes in, cheaply enough for the GUI thread: a picture by
app.engine.image_check (a text file named .jpg is refused with one line), a sound by opening its container
(app.engine.audio.check, no decoding). Files outside the project folder are referenced where they are, as
dropped images are (MediaRef.for_file). A refused file never stops the others; what was refused is said in
one status-bar line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.engine.audio.check import check_audio
from app.engine.image_check import check_image
from app.errors import InputError, MediaError
from app.model import AudioClip, MediaRef
from app.model.bin_commands import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    AddActsFromMedia,
    ImportMedia,
    MediaKind,
    media_kind,
)
from app.model.commands import AddAudioClip, Command
from app.ui.document import DocumentController
from app.ui.files import open_file_names


def _patterns(suffixes: Iterable[str]) -> str:
    return " ".join(f"*{suffix}" for suffix in sorted(suffixes))


IMAGES_FILTER = f"Images ({_patterns(IMAGE_SUFFIXES)})"
AUDIO_FILTER = f"Audio ({_patterns(AUDIO_SUFFIXES)})"
MEDIA_FILTERS = ";;".join(
    [f"Media (images and audio) ({_patterns(IMAGE_SUFFIXES | AUDIO_SUFFIXES)})", IMAGES_FILTER, AUDIO_FILTER]
)


@dataclass(frozen=True)
class Refused:
    """A file that was not taken, and why (a few words, without the path)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class CheckedMedia:
    """A file that passed its check: its reference, what it is, and a sound's declared length (seconds)."""

    ref: MediaRef
    kind: MediaKind
    seconds: float | None = None


def check_media_file(path: Path) -> tuple[MediaKind, float | None]:
    """What `path` is once it passes the add-time check of its kind, and for a sound its declared length in
    seconds (None for a picture, or when the header does not say); else MediaError naming the file."""
    kind = media_kind(path.name)
    if kind is None:
        raise MediaError(f"{path}: not a picture or a sound ({path.suffix or 'no suffix'})")
    if kind is MediaKind.image:
        check_image(path)
        return kind, None
    return kind, check_audio(path)


def checked_files(paths: Iterable[Path], project_dir: Path) -> tuple[list[CheckedMedia], list[Refused]]:
    """The files that pass `check_media_file`, in order, referenced relative to `project_dir` where possible
    and hashed; and the files refused."""
    checked: list[CheckedMedia] = []
    refused: list[Refused] = []
    for path in paths:
        try:
            kind, seconds = check_media_file(path)
            checked.append(CheckedMedia(MediaRef.for_file(path, project_dir), kind, seconds))
        except MediaError as error:
            refused.append(Refused(path, str(error).removeprefix(f"{path}: ")))
        except OSError as error:  # removed or unreadable between the check and the hash
            refused.append(Refused(path, f"cannot read it ({error.strerror or error})"))
    return checked, refused


def checked_refs(refs: Iterable[MediaRef], project_dir: Path) -> tuple[list[CheckedMedia], list[Refused]]:
    """The project's references whose files still pass `check_media_file` (they may have changed or gone
    since they came in), in order; and the files refused."""
    checked: list[CheckedMedia] = []
    refused: list[Refused] = []
    for ref in refs:
        path = ref.resolve(project_dir)
        try:
            kind, seconds = check_media_file(path)
        except MediaError as error:
            refused.append(Refused(path, str(error).removeprefix(f"{path}: ")))
            continue
        checked.append(CheckedMedia(ref, kind, seconds))
    return checked, refused


def refusal_message(refused: Sequence[Refused], total: int, verb: str = "imported") -> str:
    """One line for the refused files: "<path>: <reason>" when the only file was refused, else "2 of 5 files
    were not imported: a.jpg: not an image: text data; b.txt: …"."""
    if total == 1 and len(refused) == 1:
        return f"{refused[0].path}: {refused[0].reason}"
    were = "was" if len(refused) == 1 else "were"
    reasons = "; ".join(f"{item.path.name}: {item.reason}" for item in refused)
    return f"{len(refused)} of {total} files {were} not {verb}: {reasons}"


def choose_files(
    parent: QWidget | None, caption: str, folder: Path, filters: str = MEDIA_FILTERS
) -> list[Path]:
    """Several files chosen in a file dialog (none when cancelled)."""
    names, _ = open_file_names(parent, caption, str(folder), filters)
    return [Path(name) for name in names]


def import_files(document: DocumentController, paths: Sequence[Path]) -> list[MediaRef]:
    """Check `paths` and import those that pass into the media bin (one undo step). Files the bin already
    lists (the same file, or the same content elsewhere) are not imported again; that and the refused files
    are reported in one line. Returns the bin entries the files are listed as: the new ones, then those
    already there."""
    checked, refused = checked_files(paths, document.project_dir)
    if not checked:
        if refused:
            document.message.emit(refusal_message(refused, len(paths)))
        return []
    command = ImportMedia([media.ref for media in checked])
    imported = document.execute(command)  # when every file is already listed, the refusal says so
    already_listed = [str(skip) for skip in command.skipped]
    if refused:
        document.message.emit("; ".join([refusal_message(refused, len(paths)), *already_listed]))
    elif imported:
        count = len(command.added)
        document.message.emit(
            "; ".join([f"Imported {count} file{'' if count == 1 else 's'}", *already_listed])
        )
    return (command.added if imported else []) + [skip.existing for skip in command.skipped]


def insertion_index(document: DocumentController) -> int:
    """Where new acts go: after the last selected act, else after the last act."""
    project = document.project
    selected = [project.index_of(act_id) for act_id in document.selected_ids]
    return max(selected) + 1 if selected else len(project.acts)


def sound_clips(sounds: Iterable[CheckedMedia], track: int, frame: int, fps: Fraction) -> list[Command]:
    """Clips for `sounds` on audio track `track` (0-based), the first at timeline `frame`, each of the
    others where the one before ends when its length is known (else at the same frame)."""
    commands: list[Command] = []
    for sound in sounds:
        commands.append(AddAudioClip(AudioClip(media=sound.ref, track=track, offset_frames=frame)))
        frame += round(sound.seconds * fps) if sound.seconds else 0
    return commands


def add_to_timeline(document: DocumentController, refs: Sequence[MediaRef]) -> None:
    """Insert the pictures among `refs` as acts after the selection (or at the end), and put the sounds on
    the first audio track at the playhead; one undo step. Each file is checked again first: refused files
    are reported in one line and the others are still added."""
    checked, refused = checked_refs(refs, document.project_dir)
    if refused:
        document.message.emit(refusal_message(refused, len(refs), verb="added"))
    pictures = [media.ref for media in checked if media.kind is MediaKind.image]
    sounds = [media for media in checked if media.kind is MediaKind.audio]
    commands: list[Command] = []
    if pictures:
        commands.append(AddActsFromMedia(pictures, insertion_index(document)))
    commands += sound_clips(sounds, 0, document.playhead, document.project.settings.fps)
    if execute_as_one(document, commands, "Add to timeline"):
        added = [
            act.id for command in commands if isinstance(command, AddActsFromMedia) for act in command.acts
        ]
        if added:
            document.set_selection(added)


def execute_as_one(document: DocumentController, commands: Sequence[Command], label: str) -> bool:
    """Run `commands` as one undo step named `label` (a single command keeps its own name); a refused one
    undoes the others and its message is shown. False when nothing was done."""
    if len(commands) <= 1:
        return bool(commands) and document.execute(commands[0])
    try:
        with document.group(label):
            for command in commands:
                document.history.execute(command)
    except InputError as error:
        document.message.emit(str(error))
        return False
    return True


def add_acts_from_files(document: DocumentController, paths: Sequence[Path]) -> None:
    """Insert one act per picture among `paths` after the selection (or at the end), one undo step; the
    files that are not usable pictures are reported in one line."""
    pictures = [path for path in paths if media_kind(path.name) is MediaKind.image]
    checked, refused = checked_files(pictures, document.project_dir)
    refused += [Refused(path, "not a picture") for path in paths if path not in pictures]
    if refused:
        document.message.emit(refusal_message(refused, len(paths), verb="added"))
    command = AddActsFromMedia([media.ref for media in checked], insertion_index(document))
    if checked and document.execute(command):
        document.set_selection([act.id for act in command.acts])
