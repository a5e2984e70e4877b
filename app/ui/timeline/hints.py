"""The status bar's hint for what the pointer is over on the timeline (plain Python, no Qt).

One short line per target, so that it fits the status bar of a small window: it says what the mouse does
there, nothing about the rest of the timeline.
"""

from __future__ import annotations

from app.ui.timeline.geometry import HitKind

#: What a press, drag or double-click does over each target; the empty space of a track gets the view's keys.
STATUS_HINTS: dict[HitKind, str] = {
    HitKind.none: "Ctrl+wheel zooms · wheel scrolls · drop pictures on the acts track to add acts",
    HitKind.header: "Ctrl+wheel zooms · wheel scrolls · right-click an audio track's header for tracks",
    HitKind.ruler: "Ruler: click or drag to move the playhead · I / O mark in and out, Alt+X clears them",
    HitKind.act: "Act: click selects (Ctrl: toggle, Shift: range) · drag reorders · S splits at the playhead",
    HitKind.act_edge: "Act end: drag to trim, the acts after it follow · Alt+drag rolls · Shift: no snapping",
    HitKind.cut: "Cut: drag to roll it between the two acts · Shift: no snapping",
    HitKind.beats: "Beat track: double-click to add a beat · right-click a beat to remove it",
    HitKind.beat: "Beat: right-click to remove it",
    HitKind.audio: "Audio track: drop a sound file here to add a clip",
    HitKind.audio_header: "Audio track: right-click to add, rename or remove tracks · M mutes it",
    HitKind.mute: "Mute or unmute this track · right-click to add, rename or remove tracks",
    HitKind.audio_clip: "Audio clip: drag to move it, onto another track too · Shift: no snapping",
    HitKind.fade_in: "Fade-in handle: drag right for a longer fade in, left for a shorter one",
    HitKind.fade_out: "Fade-out handle: drag left for a longer fade out, right for a shorter one",
    HitKind.volume: "Volume line: drag to change the clip's volume (Shift: fine) · double-click: 0 dB",
}


def status_hint(kind: HitKind) -> str:
    """The status bar's hint over a target of that kind."""
    return STATUS_HINTS[kind]
