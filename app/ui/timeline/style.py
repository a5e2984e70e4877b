"""Colours and fonts of the timeline (a dark editor theme), created once and shared by every paint."""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtGui import QColor, QFont, QFontMetrics


def _color(hex_rgb: str, alpha: int = 255) -> QColor:
    color = QColor(hex_rgb)
    color.setAlpha(alpha)
    return color


class Palette:
    background = _color("#1b1c1f")
    header = _color("#25272b")
    header_text = _color("#aeb4bd")
    divider = _color("#34373c")
    ruler = _color("#2a2c30")
    tick = _color("#6f757e")
    label = _color("#c3c8d0")
    label_ground = _color("#000000", 120)
    acts = (_color("#37567a"), _color("#3f6189"))
    act_dense = _color("#3a5a80")
    act_selected = _color("#5c86b8")
    ghost = _color("#5c86b8", 150)
    selection_border = _color("#f2c14e")
    act_failed = _color("#8c3036")
    act_dimmed = _color("#2b3a4c")
    act_text = _color("#eef0f3")
    name_bar = _color("#000000", 70)
    badge: ClassVar[dict[str, QColor]] = {
        "ready": _color("#46c486"),
        "rendering": _color("#3d9df2"),
        "failed": _color("#f0484f"),
        "queued": _color("#8d939c"),
        # Ready, but made by the built-in motion backend standing in for the AI backend the act asks for.
        "fallback": _color("#ff9a1f"),
    }
    # Quality-check badges: the worst finding on the act (app.ui.qc_panel), and review stars.
    qc: ClassVar[dict[str, QColor]] = {"fail": _color("#f0484f"), "warn": _color("#f0a030")}
    star = _color("#f2c14e")
    star_ground = _color("#000000", 150)
    progress_track = _color("#000000", 110)
    transition = _color("#e2a93b", 120)
    beat = _color("#7b838d")
    downbeat = _color("#d8dde4")
    manual_beat = _color("#37c6d8")
    audio_clip = _color("#20443a")
    wave = _color("#5bd19a")
    placeholder = _color("#6b7d74")
    playhead = _color("#ff4d4f")
    guide = _color("#ffd54a")
    # The marked in/out range: a tint on the ruler (the labels stay readable over it), a band and brackets
    # along its bottom.
    in_out_range = _color("#4e8fd6", 60)
    in_out_band = _color("#4e8fd6", 150)
    in_out_edge = _color("#a6d0ff")
    in_out_tint = _color("#4e8fd6", 22)  # over the tracks: faint, the pictures stay readable
    # Audio clip levels: fade ramps (shaded between the ramp and the volume line), the volume line, fade
    # handles; the mute toggle.
    fade = _color("#000000", 110)
    fade_line = _color("#cfd5dc", 160)
    volume = _color("#f5d76e")
    fade_handle = _color("#eef0f3")
    fade_handle_border = _color("#1b1c1f")
    mute_on = _color("#f0a030")
    mute_text = _color("#1b1c1f")


class Fonts:
    """The widget font for act names and a smaller one for the ruler, headers and labels, with metrics."""

    def __init__(self, font: QFont) -> None:
        self.normal = QFont(font)
        self.small = QFont(font)
        self.small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        self.normal_metrics = QFontMetrics(self.normal)
        self.small_metrics = QFontMetrics(self.small)
