"""Audio tracks on the timeline, driven with the mouse: fade handles, the volume line, moving clips, the mute
toggle and the track header's menu. Pixel positions come from the view's own geometry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QColor, QHelpEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu
from pytestqt.qtbot import QtBot

from app.model import Act, AudioClip, AudioTrack, MediaRef, Project, ProjectSettings
from app.model.audio_commands import RemoveAudioTrack
from app.model.project_file import dumps_project
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.timeline import TimelineView
from app.ui.timeline import audio_tracks as audio_tracks_module
from app.ui.timeline.content import AudioSpan, audio_span
from app.ui.timeline.geometry import (
    AUDIO_HEIGHT,
    HEADER_WIDTH,
    HitKind,
    Row,
    RowKind,
    TimelineGeometry,
    clip_band,
    fade_handle_rect,
    fade_handle_x,
    fade_ramp,
    gain_at_height,
    gain_height,
    hit_test,
    label_room,
    mute_box,
    volume_y,
)
from app.ui.timeline.hints import STATUS_HINTS, status_hint
from app.ui.timeline.style import Palette
from tests.ui.test_main_window import Editor

NO_MODIFIER = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton
RIGHT = Qt.MouseButton.RightButton


def _project() -> Project:
    """Four acts of 48 frames; music on A1 (frames 0..119), a voice at -6 dB on "Voice" (frames 48..143)."""
    return Project(
        settings=ProjectSettings(fps=Fraction(24)),
        acts=[Act(id=f"a{i}", name=f"Act {i}", duration_frames=48) for i in range(4)],
        audio=[
            AudioClip(id="music", media=MediaRef(path="music.wav"), length_frames=120),
            AudioClip(
                id="voice",
                media=MediaRef(path="voice.wav"),
                track=1,
                offset_frames=48,
                length_frames=96,
                gain_db=-6,
            ),
        ],
        audio_tracks=[AudioTrack(), AudioTrack(name="Voice")],
    )


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    return DocumentController(_project(), path=tmp_path / "film.storybeat")


@pytest.fixture
def window(qtbot: QtBot, document: DocumentController) -> Iterator[QMainWindow]:
    main = QMainWindow()
    qtbot.addWidget(main)
    main.statusBar()
    main.setCentralWidget(TimelineView(document, None))
    main.resize(800, 320)
    main.show()
    qtbot.waitExposed(main)
    yield main


@pytest.fixture
def view(window: QMainWindow) -> TimelineView:
    timeline = window.centralWidget()
    assert isinstance(timeline, TimelineView)
    return timeline


def _row(view: TimelineView, track: int) -> Row:
    return next(
        row for row in view.timeline_geometry.rows if row.kind is RowKind.audio and row.track == track
    )


def _x(view: TimelineView, frame: float) -> int:
    return round(view.timeline_geometry.x_of(frame))


def _span(document: DocumentController, clip_id: str) -> AudioSpan:
    project = document.project
    return audio_span(project.audio_clip(clip_id), project, project.duration_frames, None)


def _move(view: TimelineView, point: QPoint, modifiers: Qt.KeyboardModifier = NO_MODIFIER) -> None:
    """A pointer move with the left button held (and `modifiers`, which QTest's mouseMove cannot send)."""
    QApplication.sendEvent(
        view,
        QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(point),
            QPointF(view.mapToGlobal(point)),
            Qt.MouseButton.NoButton,
            LEFT,
            modifiers,
        ),
    )


def _check_undo_redo(document: DocumentController) -> None:
    """The edit just made is one history entry: undo gives the fixture's project back, redo the edit."""
    document.project.check_consistency()
    after = dumps_project(document.project)
    document.undo()
    assert dumps_project(document.project) == dumps_project(_project())
    document.redo()
    assert dumps_project(document.project) == after


def _darkness(color: QColor) -> int:
    return -(color.red() + color.green() + color.blue())


# -- fades and volume ------------------------------------------------------------------------------------


def test_dragging_the_fade_in_handle_sets_the_fade_with_a_live_preview(
    qtbot: QtBot, window: QMainWindow, view: TimelineView, document: DocumentController
) -> None:
    geometry, row = view.timeline_geometry, _row(view, 0)
    top, height = clip_band(row)
    press = QPoint(round(fade_handle_x(geometry, _span(document, "music"), True)), top + 3)
    release = press + QPoint(_x(view, 24) - _x(view, 0), 0)  # 24 frames to the right
    probe = QPoint(_x(view, 2), top + height - 12)  # inside the fade's shaded triangle, below the label
    before = view.grab().toImage().pixelColor(probe)

    qtbot.mousePress(view, LEFT, NO_MODIFIER, press)
    for step in range(1, 5):
        _move(view, press + (release - press) * step / 4)
    assert window.statusBar().currentMessage() == "Fade in 24 frames (1.00 s)"
    assert document.project.audio_clip("music").fade_in_frames == 0  # nothing changes before the release
    assert _darkness(view.grab().toImage().pixelColor(probe)) > _darkness(before)  # the preview is drawn
    qtbot.mouseRelease(view, LEFT, NO_MODIFIER, release)

    assert document.project.audio_clip("music").fade_in_frames == 24
    assert document.history.undo_label == "Change fade in"
    _check_undo_redo(document)


def test_a_fade_out_stops_where_the_fade_in_ends(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    document.project.audio_clip("music").fade_in_frames = 100
    document.replace(document.project, document.path)  # the view reloads what it draws
    geometry, row = view.timeline_geometry, _row(view, 0)
    press = QPoint(round(fade_handle_x(geometry, _span(document, "music"), False)), clip_band(row)[0] + 3)
    release = QPoint(_x(view, 10), press.y())  # far past the fade-in's end
    qtbot.mousePress(view, LEFT, NO_MODIFIER, press)
    _move(view, release)
    qtbot.mouseRelease(view, LEFT, NO_MODIFIER, release)
    assert document.project.audio_clip("music").fade_out_frames == 20  # 100 + 20 = the clip's 120 frames


def test_dragging_the_volume_line_down_lowers_the_gain_and_shift_is_fine(
    qtbot: QtBot, window: QMainWindow, view: TimelineView, document: DocumentController
) -> None:
    row = _row(view, 0)
    line = round(volume_y(row, 0.0))
    band = clip_band(row)[1] - 1
    press, release = QPoint(_x(view, 60), line), QPoint(_x(view, 60), line + 10)
    qtbot.mousePress(view, LEFT, NO_MODIFIER, press)
    _move(view, release)
    expected = round(gain_at_height(0.7 - 10 / band), 1)
    assert window.statusBar().currentMessage().startswith(f"Volume {expected:+.1f} dB")
    qtbot.mouseRelease(view, LEFT, NO_MODIFIER, release)
    coarse = document.project.audio_clip("music").gain_db
    assert coarse == expected and coarse < -5
    assert document.history.undo_label == "Change volume"
    _check_undo_redo(document)
    document.undo()

    qtbot.mousePress(view, LEFT, SHIFT, press)
    _move(view, release, SHIFT)
    qtbot.mouseRelease(view, LEFT, SHIFT, release)
    fine = document.project.audio_clip("music").gain_db
    assert coarse / 20 < fine < 0  # the same move with Shift: a small step down


def test_double_click_on_the_volume_line_resets_it_to_0_db(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    line = round(volume_y(_row(view, 1), -6.0))
    qtbot.mouseDClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 100), line))
    assert document.project.audio_clip("voice").gain_db == 0.0
    assert document.history.undo_label == "Reset volume"
    _check_undo_redo(document)


def test_the_volume_lines_tooltip_shows_its_level(view: TimelineView) -> None:
    at = QPoint(_x(view, 100), round(volume_y(_row(view, 1), -6.0)))
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, at, view.mapToGlobal(at)))
    assert view.tooltip_text().startswith("Volume -6.0 dB")


def _set_levels(document: DocumentController, clip_id: str, **levels: object) -> None:
    """Change a clip's gain and fades in place and have the view draw them (as a reopened file would)."""
    clip = document.project.audio_clip(clip_id)
    for field, value in levels.items():
        setattr(clip, field, value)
    document.replace(document.project, document.path)


def test_a_fade_is_shaded_up_to_the_volume_line_not_above_it(
    view: TimelineView, document: DocumentController
) -> None:
    row = _row(view, 0)
    line = round(volume_y(row, -20.0))
    above, below = QPoint(_x(view, 2), line - 4), QPoint(_x(view, 2), line + 5)
    _set_levels(document, "music", gain_db=-20.0)
    without_fade = view.grab().toImage()
    _set_levels(document, "music", fade_in_frames=48)
    with_fade = view.grab().toImage()
    # Above the volume line the fade takes nothing away: a fade rises to the clip's level, not to full level.
    assert with_fade.pixelColor(above) == without_fade.pixelColor(above)
    assert _darkness(with_fade.pixelColor(below)) > _darkness(without_fade.pixelColor(below))


def test_the_clip_name_is_drawn_after_a_long_fade_ins_handle(
    view: TimelineView, document: DocumentController
) -> None:
    _set_levels(document, "music", fade_in_frames=60)
    geometry, row = view.timeline_geometry, _row(view, 0)
    left, top, width, _ = fade_handle_rect(geometry, row, _span(document, "music"), True)
    image = view.grab().toImage()
    # Left of the handle, over the fade: no label ground; right of it: the label's dark ground.
    assert image.pixelColor(round(left) - 4, top + 2) == Palette.audio_clip
    label_ground = image.pixelColor(round(left + width) + 3, top + 1)
    assert _darkness(label_ground) > _darkness(Palette.audio_clip)
    assert image.pixelColor(round(left) + 2, top + 2) == Palette.fade_handle  # the handle is not covered


# -- moving clips ------------------------------------------------------------------------------------------


def test_dragging_a_clip_moves_it_along_and_onto_another_track(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    a1, voice = _row(view, 0), _row(view, 1)
    press = QPoint(_x(view, 70), voice.bottom - 8)  # the clip's body, below its volume line
    release = QPoint(_x(view, 100), a1.bottom - 8)
    qtbot.mousePress(view, LEFT, SHIFT, press)  # Shift: no snapping
    for step in range(1, 5):
        _move(view, press + (release - press) * step / 4, SHIFT)
    qtbot.mouseRelease(view, LEFT, SHIFT, release)
    clip = document.project.audio_clip("voice")
    geometry = view.timeline_geometry
    assert clip.track == 0
    assert clip.offset_frames == round(48 + geometry.frame_at(release.x()) - geometry.frame_at(press.x()))
    assert document.history.undo_label == "Move audio clip"
    _check_undo_redo(document)


# -- tracks ------------------------------------------------------------------------------------------------


def _header_menu(qtbot: QtBot, view: TimelineView, track: int) -> QMenu:
    row = _row(view, track)
    qtbot.mouseClick(view, RIGHT, NO_MODIFIER, QPoint(10, row.top + row.height // 2))
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def _action(menu: QMenu, text: str) -> QAction:
    return next(action for action in menu.actions() if action.text().startswith(text))


def test_clicking_m_mutes_the_track_and_dims_its_clips(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    row = _row(view, 1)
    left, top, side = mute_box(row)
    box = QPoint(left + side // 2, top + side // 2)
    clip_pixel = QPoint(_x(view, 100), row.bottom - 6)
    before = view.grab().toImage()
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, box)
    assert document.project.audio_tracks[1].muted
    assert document.history.undo_label == "Mute A2"
    after = view.grab().toImage()
    assert after.pixelColor(left + 2, top + 2) == Palette.mute_on  # the box lights up
    assert before.pixelColor(left + 2, top + 2) != Palette.mute_on
    assert _darkness(after.pixelColor(clip_pixel)) > _darkness(before.pixelColor(clip_pixel))  # dimmed
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, box, view.mapToGlobal(box)))
    assert view.tooltip_text() == "Voice is muted — click to unmute"
    _check_undo_redo(document)
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, box)
    assert not document.project.audio_tracks[1].muted
    assert document.history.undo_label == "Unmute A2"


def test_add_audio_track_from_the_header_menu_adds_a_row(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    height = view.sizeHint().height()
    menu = _header_menu(qtbot, view, 0)
    _action(menu, "Add Audio Track").trigger()
    menu.close()
    assert len(document.project.audio_tracks) == 3
    assert [row.track for row in view.timeline_geometry.rows if row.kind is RowKind.audio] == [0, 1, 2]
    assert view.sizeHint().height() == height + AUDIO_HEIGHT
    _check_undo_redo(document)

    menu = _header_menu(qtbot, view, 2)  # the new, empty track can go again
    remove = _action(menu, "Remove Track")
    assert remove.isEnabled()
    remove.trigger()
    menu.close()
    assert len(document.project.audio_tracks) == 2


def test_removing_a_track_that_holds_clips_is_refused_with_the_reason(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    menu = _header_menu(qtbot, view, 1)
    remove = _action(menu, "Remove Track")
    menu.close()
    assert not remove.isEnabled()
    assert remove.text() == "Remove Track (holds 1 clip)"
    assert remove.toolTip() == "Cannot remove: track Voice holds 1 audio clip: move or delete it first"
    messages: list[str] = []
    document.message.connect(messages.append)
    assert not document.execute(RemoveAudioTrack(1))
    assert messages == ["cannot remove the track: track Voice holds 1 audio clip: move or delete it first"]
    assert len(document.project.audio_tracks) == 2


def test_renaming_a_track_from_the_header_menu(
    qtbot: QtBot, view: TimelineView, document: DocumentController, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        audio_tracks_module.QInputDialog, "getText", lambda *args, **kwargs: ("  Music  ", True)
    )
    menu = _header_menu(qtbot, view, 0)
    _action(menu, "Rename Track").trigger()
    menu.close()
    assert document.project.audio_tracks[0].name == "Music"
    assert document.history.undo_label == "Rename track"


# -- status bar hints ------------------------------------------------------------------------------------


def _hover(view: TimelineView, point: QPoint) -> None:
    """A pointer move with no button held."""
    QApplication.sendEvent(
        view,
        QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(point),
            QPointF(view.mapToGlobal(point)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            NO_MODIFIER,
        ),
    )


def test_the_status_bar_hints_at_what_the_pointer_is_over_in_one_short_line(
    window: QMainWindow, view: TimelineView, document: DocumentController
) -> None:
    _set_levels(document, "voice", fade_in_frames=24)
    geometry = view.timeline_geometry
    a1, voice = _row(view, 0), _row(view, 1)
    top = clip_band(voice)[0]
    acts_y = geometry.row(RowKind.acts).top + 30
    mute_left, mute_top, side = mute_box(voice)
    targets = {
        HitKind.header: QPoint(10, geometry.row(RowKind.acts).top + 10),
        HitKind.ruler: QPoint(_x(view, 30), 10),
        HitKind.act: QPoint(_x(view, 20), acts_y),
        HitKind.act_edge: QPoint(_x(view, 48) - 6, acts_y),
        HitKind.cut: QPoint(_x(view, 96), acts_y),
        HitKind.beats: QPoint(_x(view, 30), geometry.row(RowKind.beats).top + 10),
        HitKind.audio: QPoint(_x(view, 170), a1.bottom - 8),
        HitKind.audio_header: QPoint(10, voice.top + voice.height // 2),
        HitKind.mute: QPoint(mute_left + side // 2, mute_top + side // 2),
        HitKind.audio_clip: QPoint(_x(view, 100), voice.bottom - 8),
        HitKind.fade_in: QPoint(round(fade_handle_x(geometry, _span(document, "voice"), True)), top + 3),
        HitKind.fade_out: QPoint(round(fade_handle_x(geometry, _span(document, "voice"), False)), top + 3),
        HitKind.volume: QPoint(_x(view, 120), round(volume_y(voice, -6.0))),
    }
    shown = set()
    for kind, point in targets.items():
        _hover(view, point)
        message = window.statusBar().currentMessage()
        assert message == status_hint(kind)
        assert 0 < len(message) <= 90
        shown.add(message)
    assert len(shown) >= 12  # each kind of target says what the mouse does there
    assert all(len(text) <= 90 for text in STATUS_HINTS.values())
    QApplication.sendEvent(view, QEvent(QEvent.Type.Leave))
    assert window.statusBar().currentMessage() == ""


# -- the main window -------------------------------------------------------------------------------------


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[Editor]:
    made = Editor(qtbot, tmp_path / "editor")
    yield made
    made.close_all()


def test_edit_add_audio_track_in_the_main_window(editor: Editor) -> None:
    window: MainWindow = editor.open()
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    add = next(action for action in edit.actions() if action.text().replace("&", "") == "Add Audio Track")
    add.trigger()
    assert len(window.document.project.audio_tracks) == 2
    assert sum(row.kind is RowKind.audio for row in window.timeline.timeline_geometry.rows) == 2


# -- geometry --------------------------------------------------------------------------------------------


def test_the_volume_scale_puts_0_db_at_seven_tenths_and_inverts() -> None:
    levels = [-60.0, -40.0, -12.0, -6.0, -0.5, 0.0, 3.0, 24.0]
    heights = [gain_height(db) for db in levels]
    assert heights[0] == 0.0 and heights[5] == 0.7 and heights[-1] == 1.0
    assert heights == sorted(set(heights))  # louder is always higher
    assert [gain_at_height(h) for h in heights] == pytest.approx(levels)
    # Like a fader: the 12 dB below unity get more than twice the room of the 20 dB above -60.
    assert gain_height(0) - gain_height(-12) > 2 * (gain_height(-40) - gain_height(-60))


def test_a_fade_ramp_rises_from_silence_at_the_clips_edge_to_its_volume_line() -> None:
    geometry = TimelineGeometry(width=1000, audio_tracks=1)
    geometry.pixels_per_frame = 4.0
    row = next(row for row in geometry.rows if row.kind is RowKind.audio)
    top, height = clip_band(row)
    span = AudioSpan("c", 0, 10, 110, -20.0, 30, 20, length_known=True, muted=False)
    line = volume_y(row, -20.0)
    assert line > top + height / 2  # -20 dB: well below the clip's top, where a full-level fade would end
    start, end = geometry.x_of(10), geometry.x_of(110)
    assert fade_ramp(geometry, row, span, True) == (
        (start, top + height - 1),
        (geometry.x_of(40), line),
        (start, line),
    )
    assert fade_ramp(geometry, row, span, False) == (
        (end, top + height - 1),
        (geometry.x_of(90), line),
        (end, line),
    )
    assert fade_ramp(geometry, row, replace(span, fade_out=0), False) is None


def test_the_clip_name_has_the_room_between_the_fade_handles() -> None:
    geometry = TimelineGeometry(width=1000, audio_tracks=1)
    geometry.pixels_per_frame = 4.0
    row = next(row for row in geometry.rows if row.kind is RowKind.audio)
    span = AudioSpan("c", 0, 10, 110, 0.0, 60, 20, length_known=True, muted=False)
    left, right = label_room(geometry, span)
    fade_in_left, _, fade_in_width, _ = fade_handle_rect(geometry, row, span, True)
    fade_out_left = fade_handle_rect(geometry, row, span, False)[0]
    assert left >= fade_in_left + fade_in_width  # the name starts after the fade-in's handle …
    assert left >= geometry.x_of(70)  # … and its ramp
    assert right <= fade_out_left <= geometry.x_of(90)
    assert right - left > 50
    without_fades = replace(span, fade_in=0, fade_out=0)
    assert label_room(geometry, without_fades)[0] >= geometry.x_of(10) + 7  # right of the corner handle
    geometry.scroll_px = geometry.x_of(50) - HEADER_WIDTH  # the clip's start off screen, its fade-in too
    assert label_room(geometry, span)[0] == fade_handle_rect(geometry, row, span, True)[0] + 7 + 2


def test_a_clip_whose_end_is_a_guess_offers_no_fade_out_handle() -> None:
    geometry = TimelineGeometry(width=1000, audio_tracks=1)
    geometry.pixels_per_frame = 4.0
    row = next(row for row in geometry.rows if row.kind is RowKind.audio)
    top = clip_band(row)[0]
    known = AudioSpan("c", 0, 10, 110, 0.0, 0, 0, length_known=True, muted=False)
    guessed = AudioSpan("c", 0, 10, 110, 0.0, 0, 0, length_known=False, muted=False)

    def hit(span: AudioSpan, x: float, y: float) -> HitKind:
        return hit_test(geometry, [0, 200], [], x, y, [span]).kind

    for fade_in in (True, False):
        x = fade_handle_x(geometry, known, fade_in)
        assert hit(known, x, top + 2) is (HitKind.fade_in if fade_in else HitKind.fade_out)
    assert hit(guessed, fade_handle_x(geometry, known, False), top + 2) is HitKind.audio_clip
    assert hit(known, geometry.x_of(60), volume_y(row, 0.0) + 1) is HitKind.volume
    assert hit(known, geometry.x_of(60), row.bottom - 5) is HitKind.audio_clip
    assert hit(known, geometry.x_of(150), row.bottom - 5) is HitKind.audio
    left, box_top, _ = mute_box(row)
    assert hit(known, left + 1, box_top + 1) is HitKind.mute
    assert hit(known, 5, box_top + 1) is HitKind.audio_header
