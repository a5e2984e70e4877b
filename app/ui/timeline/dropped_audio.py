"""Drops onto an audio track: sound files (from the media bin or a file manager) become clips on that track,
the first at the frame under the drop, the others after it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData

from app.model.bin_commands import AUDIO_SUFFIXES
from app.ui.document import DocumentController
from app.ui.media_import import checked_files, execute_as_one, refusal_message, sound_clips
from app.ui.timeline.geometry import HEADER_WIDTH, RowKind, TimelineGeometry


def audio_paths(mime: QMimeData) -> list[Path]:
    """Local sound files among the dropped urls, in the order given (anything else is ignored)."""
    paths = (Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile())
    return [path for path in paths if path.suffix.lower() in AUDIO_SUFFIXES]


def audio_drop_target(geometry: TimelineGeometry, x: float, y: float) -> tuple[int, int] | None:
    """(audio track, timeline frame) for sounds dropped at (x, y) pixels; None outside the audio tracks."""
    row = geometry.row_at(y)
    if x < HEADER_WIDTH or row is None or row.kind is not RowKind.audio:
        return None
    return row.track, max(0, round(geometry.frame_at(x)))


def add_audio(document: DocumentController, paths: list[Path], track: int, frame: int) -> None:
    """Put the sounds among `paths` on audio track `track` from `frame` on, as one undoable edit; files that
    fail their check are reported in one line (the others are still added)."""
    checked, refused = checked_files(paths, document.project_dir)
    if refused:
        document.message.emit(refusal_message(refused, len(paths), verb="added"))
    commands = sound_clips(checked, track, frame, document.project.settings.fps)
    execute_as_one(document, commands, "Add audio")
