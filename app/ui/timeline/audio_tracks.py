"""The audio tracks' menu and tooltips: add, rename and remove tracks; what a pointer over a clip's volume
line, fade handle or a track's mute box would change."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from app.model import Project
from app.model.audio_commands import (
    AddAudioTrack,
    RemoveAudioTrack,
    SetAudioTrack,
    remove_track_refusal,
    track_label,
)
from app.model.project import MAX_AUDIO_TRACKS
from app.model.timebase import frames_to_seconds
from app.ui.document import DocumentController
from app.ui.timeline.content import AudioSpan
from app.ui.timeline.drags import describe_gain
from app.ui.timeline.geometry import HitKind


def add_audio_track(document: DocumentController) -> None:
    """Add an empty audio track below the others (refused, with a message, past the eighth)."""
    document.execute(AddAudioTrack())


def rename_track(parent: QWidget, document: DocumentController, track: int) -> None:
    """Ask for a new name of audio track `track` (empty: its number, A1, A2, …) and set it."""
    current = document.project.audio_tracks[track].name
    name, ok = QInputDialog.getText(
        parent, "Rename track", f"Name of track {track + 1} (empty: A{track + 1}):", text=current
    )
    if ok and name.strip() != current:
        document.execute(SetAudioTrack(track, name=name))


def track_menu(parent: QWidget, document: DocumentController, track: int) -> QMenu:
    """The context menu of audio track `track`'s header: add, rename, remove (disabled, saying why, when
    the track holds clips or is the only one)."""
    project = document.project
    menu = QMenu(parent)
    menu.setToolTipsVisible(True)
    full = len(project.audio_tracks) >= MAX_AUDIO_TRACKS
    add = menu.addAction(f"Add Audio Track{f' ({MAX_AUDIO_TRACKS} is the most)' if full else ''}")
    add.setEnabled(not full)
    add.triggered.connect(lambda: add_audio_track(document))
    rename = menu.addAction("Rename Track…")
    rename.triggered.connect(lambda: rename_track(parent, document, track))
    refusal = remove_track_refusal(project, track)
    remove = menu.addAction(f"Remove Track{_short_refusal(project, track) if refusal else ''}")
    remove.setEnabled(refusal is None)
    remove.setToolTip(f"Cannot remove: {refusal}" if refusal else f"Remove {track_label(project, track)}")
    remove.triggered.connect(lambda: document.execute(RemoveAudioTrack(track)))
    return menu


def _short_refusal(project: Project, track: int) -> str:
    if len(project.audio_tracks) == 1:
        return " (the only track)"
    clips = sum(1 for clip in project.audio if clip.track == track)
    return f" (holds {clips} clip{'s' if clips > 1 else ''})"


def audio_tip(project: Project, kind: HitKind, span: AudioSpan | None, track: int) -> str:
    """The tooltip over a clip's volume line or fade handle, or over a track's mute box ("" elsewhere)."""
    fps = project.settings.fps
    if kind is HitKind.volume and span is not None:
        return f"Volume {describe_gain(span.gain_db)} — drag to change (Shift: fine), double-click: 0 dB"
    if kind in (HitKind.fade_in, HitKind.fade_out) and span is not None:
        fade_in = kind is HitKind.fade_in
        frames = span.fade_in if fade_in else span.fade_out
        seconds = frames_to_seconds(frames, fps)
        return f"Fade {'in' if fade_in else 'out'} {frames} frames ({seconds:.2f} s) — drag to change"
    if kind is HitKind.mute:
        label = track_label(project, track)
        muted = project.audio_tracks[track].muted
        return f"{label} is muted — click to unmute" if muted else f"Mute {label}"
    return ""
