"""The timeline widget, driven with the mouse, wheel, keyboard and drops; results checked on the document.

Pixel positions come from the view's own geometry (frames -> pixels), so the tests follow any change of
layout constants. Every edit is undone and redone, with the document's invariants checked after each step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, QRect, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QScrollBar, QWidget
from pytestqt.qtbot import QtBot

from app.model import Act, BeatGrid, Project, ProjectSettings, TransitionKind, TransitionSpec
from app.model.project_file import dumps_project
from app.model.timebase import frames_to_seconds
from app.ui.document import DocumentController
from app.ui.timeline import TimelineView
from app.ui.timeline import painter as painter_module
from app.ui.timeline.geometry import (
    HEADER_WIDTH,
    MAX_PIXELS_PER_FRAME,
    HitKind,
    RowKind,
    TimelineGeometry,
    hit_test,
    insertion_boundary,
    ruler_steps,
)
from app.ui.timeline.hover_tip import HoverTip

NO_MODIFIER = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton
BEAT_S = 2.5  # the one beat of the test project: frame 60 at 24 fps


def _project() -> Project:
    return Project(
        settings=ProjectSettings(fps=Fraction(24)),
        acts=[Act(id=f"a{i}", name=f"Act {i}", duration_frames=48) for i in range(4)],
        beats=BeatGrid(tempo=120.0, beats=(BEAT_S,)),
    )


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    return DocumentController(_project(), path=tmp_path / "film.storybeat")


@pytest.fixture
def window(qtbot: QtBot, document: DocumentController) -> Iterator[QMainWindow]:
    """The timeline inside a main window, whose status bar shows the drag hints."""
    main = QMainWindow()
    qtbot.addWidget(main)
    main.statusBar()  # created on first use: before the drags that report to it
    main.setCentralWidget(TimelineView(document, None))
    main.resize(800, 260)
    main.show()
    qtbot.waitExposed(main)
    yield main


@pytest.fixture
def view(window: QMainWindow) -> TimelineView:
    timeline = window.centralWidget()
    assert isinstance(timeline, TimelineView)
    return timeline


def _x(view: TimelineView, frame: float) -> int:
    return round(view.timeline_geometry.x_of(frame))


def _y(view: TimelineView, kind: RowKind) -> int:
    row = view.timeline_geometry.row(kind)
    return row.top + row.height * 2 // 3


def _durations(document: DocumentController) -> list[int]:
    return [act.duration_frames for act in document.project.acts]


def _ids(document: DocumentController) -> list[str]:
    return [act.id for act in document.project.acts]


def _drag(
    qtbot: QtBot, view: TimelineView, start: QPoint, end: QPoint, modifier: Qt.KeyboardModifier = NO_MODIFIER
) -> None:
    qtbot.mousePress(view, LEFT, modifier, start)
    for step in range(1, 5):
        qtbot.mouseMove(view, start + (end - start) * step / 4)
    qtbot.mouseRelease(view, LEFT, modifier, end)


def _check_undo_redo(document: DocumentController) -> None:
    """The edit just made is one history entry: undo restores the document, redo brings the edit back."""
    document.project.check_consistency()
    after = dumps_project(document.project)
    document.undo()
    document.project.check_consistency()
    assert dumps_project(document.project) == dumps_project(_project())  # as the fixture made it
    document.redo()
    document.project.check_consistency()
    assert dumps_project(document.project) == after


# -- gestures --------------------------------------------------------------------------------------------


def test_dragging_an_act_reorders_it(qtbot: QtBot, view: TimelineView, document: DocumentController) -> None:
    y = _y(view, RowKind.acts)
    # From the middle of Act 0 to the right half of Act 2: it lands after Act 2.
    _drag(qtbot, view, QPoint(_x(view, 24), y), QPoint(_x(view, 130), y))
    assert _ids(document) == ["a1", "a2", "a0", "a3"]
    assert document.history.undo_label == "Move act"
    _check_undo_redo(document)


def test_trimming_an_edge_snaps_to_a_beat(
    qtbot: QtBot, window: QMainWindow, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    press = QPoint(_x(view, 48) - 6, y)  # inside Act 0's trim handle, clear of the cut's roll zone
    release = QPoint(_x(view, 58.5) - 6, y)  # about 1.5 frames short of the beat at frame 60
    qtbot.mousePress(view, LEFT, NO_MODIFIER, press)
    qtbot.mouseMove(view, release)
    assert "snapped to beat" in window.statusBar().currentMessage()
    qtbot.mouseRelease(view, LEFT, NO_MODIFIER, release)
    assert _durations(document) == [60, 48, 48, 48]
    assert window.statusBar().currentMessage() == ""
    _check_undo_redo(document)


def test_trimming_with_shift_does_not_snap(
    qtbot: QtBot, window: QMainWindow, view: TimelineView, document: DocumentController
) -> None:
    geometry = view.timeline_geometry
    y = _y(view, RowKind.acts)
    press, release = QPoint(_x(view, 48) - 6, y), QPoint(_x(view, 58.5) - 6, y)
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(view, LEFT, shift, press)
    qtbot.mouseMove(view, release)
    qtbot.mouseRelease(view, LEFT, shift, release)
    expected = round(geometry.frame_at(release.x()) - (geometry.frame_at(press.x()) - 48))
    assert expected != 60
    assert _durations(document) == [expected, 48, 48, 48]
    _check_undo_redo(document)


def test_snapping_can_be_switched_off(qtbot: QtBot, view: TimelineView, document: DocumentController) -> None:
    view.set_snapping(False)
    y = _y(view, RowKind.acts)
    _drag(qtbot, view, QPoint(_x(view, 48) - 6, y), QPoint(_x(view, 58.5) - 6, y))
    assert _durations(document)[0] != 60


def test_trimming_past_the_start_stops_at_one_frame(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    _drag(qtbot, view, QPoint(_x(view, 96) - 6, y), QPoint(_x(view, 10), y))  # Act 1's edge, far left
    assert _durations(document) == [48, 1, 48, 48]
    _check_undo_redo(document)


def test_dragging_a_cut_rolls_it(qtbot: QtBot, view: TimelineView, document: DocumentController) -> None:
    geometry = view.timeline_geometry
    y = _y(view, RowKind.acts)
    press, release = QPoint(_x(view, 96), y), QPoint(_x(view, 110), y)
    _drag(qtbot, view, press, release)
    cut = round(geometry.frame_at(release.x()) - (geometry.frame_at(press.x()) - 96))
    assert 105 <= cut <= 115
    assert _durations(document) == [48, cut - 48, 144 - cut, 48]
    assert document.history.undo_label == "Move cut"
    _check_undo_redo(document)


def test_alt_on_an_edge_rolls_instead_of_trimming(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    _drag(
        qtbot, view, QPoint(_x(view, 48) - 6, y), QPoint(_x(view, 36) - 6, y), Qt.KeyboardModifier.AltModifier
    )
    durations = _durations(document)
    assert sum(durations) == 192 and durations[0] < 48 and durations[1] > 48


def test_s_splits_at_the_playhead(qtbot: QtBot, view: TimelineView, document: DocumentController) -> None:
    document.set_playhead(60)
    qtbot.keyClick(view, Qt.Key.Key_S)
    assert _durations(document) == [48, 12, 36, 48, 48]
    assert document.project.acts[2].name == "Act 1 (2)"
    _check_undo_redo(document)


def test_a_refused_split_changes_nothing(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    document.set_playhead(48)  # exactly on a cut: there is nothing to split
    before = dumps_project(document.project)
    with qtbot.waitSignal(document.message) as message:
        view.split_at_playhead()
    assert "split point 0" in message.args[0]
    assert dumps_project(document.project) == before
    assert not document.history.can_undo


def test_ctrl_click_selects_several_and_delete_ripples(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    control = Qt.KeyboardModifier.ControlModifier
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 70), y))
    qtbot.mouseClick(view, LEFT, control, QPoint(_x(view, 170), y))
    assert document.selected_ids == ["a1", "a3"]
    qtbot.mouseClick(view, LEFT, control, QPoint(_x(view, 20), y))
    qtbot.mouseClick(view, LEFT, control, QPoint(_x(view, 20), y))  # toggles Act 0 off again
    assert document.selected_ids == ["a1", "a3"]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert _ids(document) == ["a0", "a2"]
    assert document.project.duration_frames == 96
    assert document.selected_ids == []
    _check_undo_redo(document)


def test_shift_click_extends_and_a_click_past_the_end_clears(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 70), y))
    qtbot.mouseClick(view, LEFT, Qt.KeyboardModifier.ShiftModifier, QPoint(_x(view, 170), y))
    assert document.selected_ids == ["a1", "a2", "a3"]
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 120), y))  # a plain click narrows to one act
    assert document.selected_ids == ["a2"]
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 192) + 20, y))
    assert document.selected_ids == []


def test_a_click_on_an_acts_trim_handle_or_cut_selects_the_act_under_the_pointer(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    """A press on the right end of an act (its trim handle) or beside a cut (the roll zone) starts no edit
    when the pointer does not move, and selects the act the pointer is on, as a click on its body does."""
    y = _y(view, RowKind.acts)
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 24), y))
    cut = _x(view, 96)  # between Act 1 and Act 2
    for x, expected in ((cut - 6, "a1"), (cut + 2, "a2"), (cut - 2, "a1"), (_x(view, 192) + 2, "a3")):
        assert view.timeline_geometry.frame_at(x) > 0
        qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(x, y))
        assert document.selected_ids == [expected], x
    assert not document.history.can_undo  # nothing was trimmed or rolled
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert _ids(document) == ["a0", "a1", "a2"]


def test_a_click_on_empty_track_space_clears_the_selection(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.acts)
    for x, y_empty in ((_x(view, 192) + 40, y), (_x(view, 30), _y(view, RowKind.beats))):
        qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 24), y))
        assert document.selected_ids == ["a0"]
        qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(x, y_empty))
        assert document.selected_ids == [], (x, y_empty)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert len(document.project.acts) == 4


def test_backspace_deletes_and_nothing_selected_deletes_nothing(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    messages: list[str] = []
    document.message.connect(messages.append)
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert len(document.project.acts) == 4 and not document.history.can_undo
    assert messages == ["Nothing deleted: no act is selected"]
    document.set_selection(["a0"])
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert _ids(document) == ["a1", "a2", "a3"]
    _check_undo_redo(document)


def _click_as_the_window_system(qtbot: QtBot, global_pos: QPoint) -> QWidget:
    """Click at `global_pos` the way a window system delivers it: to the topmost window there that takes
    input (a tooltip window floats above the editor), then to the widget under the pointer in it."""
    windows = [
        window
        for window in QApplication.topLevelWidgets()
        if window.isVisible()
        and window.frameGeometry().contains(global_pos)
        and not window.windowFlags() & Qt.WindowType.WindowTransparentForInput
    ]
    windows.sort(key=lambda window: window.windowType() != Qt.WindowType.ToolTip)  # tooltips first
    assert windows, "nothing on screen at the click"
    target = windows[0].childAt(windows[0].mapFromGlobal(global_pos)) or windows[0]
    qtbot.mouseClick(target, LEFT, NO_MODIFIER, target.mapFromGlobal(global_pos))
    return target


def test_a_click_under_an_acts_tooltip_selects_the_act_and_delete_removes_it(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    """Issue 12: hovering act B showed its tooltip just below the pointer; the click a few pixels lower
    landed on the tooltip window, B was never selected, and Delete removed act A, selected before."""
    row = view.timeline_geometry.row(RowKind.acts)
    qtbot.mouseClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 24), _y(view, RowKind.acts)))
    assert document.selected_ids == ["a0"]

    hover = QPoint(_x(view, 60), row.top + 4)
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, hover, view.mapToGlobal(hover)))
    tips = [
        w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowType() == Qt.WindowType.ToolTip
    ]
    assert len(tips) == 1 and isinstance(tips[0], QLabel) and tips[0].text().startswith("Act 1")
    act_b = QRect(
        view.mapToGlobal(QPoint(_x(view, 48) + 10, row.top)),
        view.mapToGlobal(QPoint(_x(view, 96) - 10, row.bottom - 2)),
    )
    covered = [tip.frameGeometry().intersected(act_b) for tip in tips]
    assert covered and not covered[0].isEmpty(), "the tooltip must lie over act B for this test"

    _click_as_the_window_system(qtbot, covered[0].center())
    assert document.selected_ids == ["a1"]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert _ids(document) == ["a0", "a2", "a3"]


def test_clicking_and_dragging_in_the_ruler_scrubs(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.ruler)
    qtbot.mousePress(view, LEFT, NO_MODIFIER, QPoint(_x(view, 100), y))
    assert document.playhead == 100
    qtbot.mouseMove(view, QPoint(_x(view, 150), y))
    assert document.playhead == 150
    qtbot.mouseRelease(view, LEFT, NO_MODIFIER, QPoint(_x(view, 150), y))
    assert not document.history.can_undo  # moving the playhead is no edit


def test_double_click_adds_a_beat_and_right_click_removes_it(
    qtbot: QtBot, view: TimelineView, document: DocumentController
) -> None:
    y = _y(view, RowKind.beats)
    qtbot.mouseDClick(view, LEFT, NO_MODIFIER, QPoint(_x(view, 30), y))
    frame = round(view.timeline_geometry.frame_at(_x(view, 30)))
    added = frames_to_seconds(frame, document.project.settings.fps)
    assert document.project.beats.effective_beats() == [added, BEAT_S]
    assert document.project.beats.added == (added,)
    _check_undo_redo(document)
    qtbot.mouseClick(view, Qt.MouseButton.RightButton, NO_MODIFIER, QPoint(_x(view, 60) + 2, y))
    assert document.project.beats.effective_beats() == [added]
    assert document.project.beats.removed == (BEAT_S,)
    document.undo()
    assert document.project.beats.effective_beats() == [added, BEAT_S]
    document.project.check_consistency()


# -- zoom and scroll -------------------------------------------------------------------------------------


def _wheel(view: TimelineView, x: int, angle: QPoint, modifiers: Qt.KeyboardModifier = NO_MODIFIER) -> None:
    position = QPointF(x, _y(view, RowKind.acts))
    event = QWheelEvent(
        position,
        view.mapToGlobal(position),
        QPoint(),
        angle,
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)


def test_ctrl_wheel_zooms_around_the_cursor(qtbot: QtBot, view: TimelineView) -> None:
    geometry = view.timeline_geometry
    x = 400
    anchor, zoom = geometry.frame_at(x), geometry.pixels_per_frame
    with qtbot.waitSignal(view.visible_range_changed) as changed:
        _wheel(view, x, QPoint(0, 240), Qt.KeyboardModifier.ControlModifier)
    assert geometry.pixels_per_frame == pytest.approx(zoom * 1.25**2)
    assert geometry.frame_at(x) == pytest.approx(anchor)
    assert tuple(changed.args) == view.visible_frames()
    first, end = view.visible_frames()
    assert 0 < first < anchor < end < 192
    _wheel(view, x, QPoint(0, -240), Qt.KeyboardModifier.ControlModifier)
    assert geometry.pixels_per_frame == pytest.approx(zoom)


def test_zoom_slots_and_fit(view: TimelineView) -> None:
    geometry = view.timeline_geometry
    fit = geometry.pixels_per_frame
    assert view.visible_frames() == (0, 192)
    view.zoom_in()
    assert geometry.pixels_per_frame > fit
    for _ in range(30):
        view.zoom_in()
    assert geometry.pixels_per_frame == MAX_PIXELS_PER_FRAME
    view.zoom_to_fit()
    assert geometry.pixels_per_frame == pytest.approx(fit) and geometry.scroll_px == 0
    view.zoom_out()
    assert geometry.pixels_per_frame < fit


def test_wheel_and_scroll_bar_scroll_horizontally(view: TimelineView) -> None:
    geometry = view.timeline_geometry
    for _ in range(3):
        view.zoom_in()
    view.timeline_geometry.set_scroll(0, 192)
    bar = view.findChild(QScrollBar)
    assert bar is not None and bar.maximum() > 0
    _wheel(view, 300, QPoint(0, -120))  # wheel down: later frames come into view
    assert geometry.scroll_px > 0 and bar.value() == round(geometry.scroll_px)
    scrolled = geometry.scroll_px
    _wheel(view, 300, QPoint(-120, 0))  # Shift+wheel arrives as a horizontal delta
    assert geometry.scroll_px > scrolled
    bar.setValue(0)
    assert geometry.scroll_px == 0 and view.visible_frames()[0] == 0
    bar.setValue(bar.maximum())
    assert view.visible_frames()[1] == 192


def test_the_playhead_stays_in_view_during_playback(view: TimelineView, document: DocumentController) -> None:
    for _ in range(4):
        view.zoom_in()
    view.timeline_geometry.set_scroll(0, 192)
    first, end = view.visible_frames()
    document.set_playhead(end + 20)
    first, end = view.visible_frames()
    assert first <= document.playhead < end


def test_opening_another_project_fits_it_again(view: TimelineView, document: DocumentController) -> None:
    for _ in range(3):
        view.zoom_in()
    assert view.visible_frames() != (0, 192)
    document.replace(Project(acts=[Act(id="x", duration_frames=500), Act(id="y", duration_frames=100)]), None)
    assert view.visible_frames() == (0, 600)
    document.set_selection(["y"])
    view.delete_selected()
    assert view.visible_frames() == (0, 500)


# -- dropping images -------------------------------------------------------------------------------------


#: Qt 6.12 deprecates the QPoint constructors of drag events for QPointF ones, which older Qt lacks.
_OLD_DRAG_EVENTS = pytest.mark.filterwarnings("ignore:Function.*QDrag.*deprecated:DeprecationWarning")


def _send_drag(view: TimelineView, mime: QMimeData, frame: float) -> tuple[QDragEnterEvent, QDropEvent]:
    """Drag `mime` over the acts track at `frame` and drop it there, as Qt does; returns the events."""
    position = QPoint(_x(view, frame), _y(view, RowKind.acts))
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(position, copy, mime, LEFT, NO_MODIFIER)
    QApplication.sendEvent(view, enter)
    QApplication.sendEvent(view, QDragMoveEvent(position, copy, mime, LEFT, NO_MODIFIER))
    drop = QDropEvent(QPointF(position), copy, mime, LEFT, NO_MODIFIER)
    if enter.isAccepted():
        QApplication.sendEvent(view, drop)
    return enter, drop


@_OLD_DRAG_EVENTS
def test_dropping_image_files_adds_one_act_each(
    tmp_path: Path, view: TimelineView, document: DocumentController
) -> None:
    images = []
    for name, color in (("sunrise.png", "orange"), ("harbour.JPG", "navy")):
        image = QImage(32, 18, QImage.Format.Format_RGB888)
        image.fill(QColor(color))
        assert image.save(str(tmp_path / name))  # the format follows the suffix
        images.append(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in [*images, tmp_path / "notes.txt"]])

    enter, drop = _send_drag(view, mime, 60)  # over the left half of Act 1: the images go before it

    assert enter.isAccepted() and drop.isAccepted()
    acts = document.project.acts
    assert [acts[0].id, *(a.id for a in acts[3:])] == ["a0", "a1", "a2", "a3"]
    assert [a.name for a in acts[1:3]] == ["sunrise", "harbour"]
    assert [a.references[0].path for a in acts[1:3]] == ["sunrise.png", "harbour.JPG"]
    assert all(a.references[0].sha256 for a in acts[1:3])
    assert [a.duration_frames for a in acts[1:3]] == [96, 96]  # 8 beats at 120 BPM, 24 fps
    assert document.selected_ids == [acts[1].id, acts[2].id]
    assert document.history.undo_label == "Add images"
    document.project.check_consistency()
    document.undo()
    assert _ids(document) == ["a0", "a1", "a2", "a3"]
    document.project.check_consistency()
    document.redo()
    assert len(document.project.acts) == 6
    document.project.check_consistency()


@_OLD_DRAG_EVENTS
def test_a_text_file_named_jpg_is_refused_on_drop_with_one_line(
    tmp_path: Path, view: TimelineView, document: DocumentController
) -> None:
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are my notes, not a picture")
    messages: list[str] = []
    document.message.connect(messages.append)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(fake))])
    _send_drag(view, mime, 60)
    assert _ids(document) == ["a0", "a1", "a2", "a3"] and not document.history.can_undo
    assert messages == [f"{fake}: not an image: text data"]


@_OLD_DRAG_EVENTS
def test_a_drag_without_images_is_refused(view: TimelineView, document: DocumentController) -> None:
    mime = QMimeData()
    mime.setText("just text")
    mime.setUrls([QUrl.fromLocalFile("/tmp/notes.txt")])  # a sound is taken, by the audio tracks
    enter, _ = _send_drag(view, mime, 60)
    assert not enter.isAccepted()
    assert len(document.project.acts) == 4


# -- engine state ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Status:
    state: str
    progress: float = 0.0
    message: str = ""
    fallback: str = ""


@dataclass(frozen=True)
class _Thumbnail:
    key: str
    image: np.ndarray


def _solid(red: int, green: int, blue: int) -> np.ndarray:
    picture = np.zeros((54, 96, 3), dtype=np.uint8)
    picture[...] = (red, green, blue)
    return picture


class _FakeDrafts(QObject):
    """Stands in for DraftService: fixed states, solid red thumbnails, a record of set_focus calls."""

    act_status_changed = Signal(str)
    frames_changed = Signal()
    audio_ready = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.states = {
            "a0": _Status("ready"),
            "a1": _Status("rendering", 0.5),
            "a2": _Status("failed", 0, "out of memory"),
        }
        self.focus: list[tuple[int, tuple[int, int]]] = []
        self.thumbnails = {f"a{i}": _Thumbnail(f"old-{i}", _solid(255, 0, 0)) for i in range(4)}

    def status(self, act_id: str) -> _Status:
        return self.states.get(act_id, _Status("queued"))

    def act_thumbnail(self, act_id: str) -> _Thumbnail | None:
        return self.thumbnails.get(act_id)

    def peaks(self, clip_id: str) -> None:
        return None

    def set_focus(self, playhead: int, visible: tuple[int, int]) -> None:
        self.focus.append((playhead, visible))


def test_engine_state_is_drawn_and_focus_follows_the_view(
    qtbot: QtBot, document: DocumentController, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversions: list[np.ndarray] = []
    convert = painter_module._to_pixmap
    monkeypatch.setattr(painter_module, "_to_pixmap", lambda rgb: conversions.append(rgb) or convert(rgb))
    drafts = _FakeDrafts()
    document.project.acts[0].transition = TransitionSpec(kind=TransitionKind.crossfade, frames=12)
    view = TimelineView(document, drafts)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.resize(800, view.sizeHint().height())
    view.show()
    qtbot.waitExposed(view)
    assert drafts.focus[-1] == (0, (0, 192))

    image = view.grab().toImage()
    row = view.timeline_geometry.row(RowKind.acts)
    thumbnail = image.pixelColor(_x(view, 2) + 6, row.top + row.height - 10)
    assert (thumbnail.red(), thumbnail.green(), thumbnail.blue()) == (255, 0, 0)
    failed = image.pixelColor(_x(view, 120), row.top + 30)
    ready = image.pixelColor(_x(view, 170), row.top + 30)
    assert failed.red() > failed.blue() and ready.blue() > ready.red()
    count = len(conversions)
    view.grab()
    assert len(conversions) == count  # cached while the draft it shows stays the same

    tip_at = QPoint(_x(view, 120), row.top + 30)
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, tip_at, view.mapToGlobal(tip_at)))
    tip = view.findChild(HoverTip)
    assert tip is not None and tip.isVisible()
    assert "Act 2" in tip.text() and "out of memory" in tip.text()
    qtbot.mouseMove(view, QPoint(_x(view, 170), row.top + 30))  # onto another act: the text no longer holds
    assert not tip.isVisible()

    document.set_playhead(30)
    assert drafts.focus[-1] == (30, (0, 192))
    view.zoom_in()
    assert drafts.focus[-1] == (30, view.visible_frames()) and view.visible_frames() != (0, 192)


def _thumbnail_colour(view: TimelineView, frame: int) -> tuple[int, int, int]:
    row = view.timeline_geometry.row(RowKind.acts)
    colour = view.grab().toImage().pixelColor(_x(view, frame) + 6, row.top + row.height - 10)
    return colour.red(), colour.green(), colour.blue()


def test_a_thumbnail_of_an_earlier_state_of_the_act_is_not_shown_as_its_look(
    qtbot: QtBot, document: DocumentController
) -> None:
    """Issue 12: after a template was applied, an act kept its old look on the timeline. A thumbnail shows
    the act only once its draft is up to date: before, the picture of the earlier state is dimmed (being
    re-rendered) or left out (the new draft failed); a newly published picture replaces it at once."""
    drafts = _FakeDrafts()  # a0 ready, a1 rendering, a2 failed, a3 queued; every thumbnail solid red
    view = TimelineView(document, drafts)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.resize(800, view.sizeHint().height())
    view.show()
    qtbot.waitExposed(view)
    assert _thumbnail_colour(view, 2) == (255, 0, 0)
    for frame in (50, 146):  # being rendered, waiting to be: the old picture, dimmed
        red, green, blue = _thumbnail_colour(view, frame)
        assert 60 < red < 200 and abs(green - blue) < 40, frame
    failed = _thumbnail_colour(view, 98)
    plain = view.grab().toImage().pixelColor(_x(view, 130), view.timeline_geometry.row(RowKind.acts).top + 30)
    assert failed == (plain.red(), plain.green(), plain.blue())  # the failed act's fill, no picture

    drafts.thumbnails["a0"] = _Thumbnail("new-0", _solid(0, 0, 255))  # a new look published
    assert _thumbnail_colour(view, 2) == (0, 0, 255)


# -- geometry (no widget) --------------------------------------------------------------------------------


def test_geometry_maps_frames_and_keeps_the_anchor_when_zooming() -> None:
    geometry = TimelineGeometry(width=1000)
    geometry.fit(480)
    assert geometry.x_of(0) == HEADER_WIDTH
    assert geometry.x_of(480) == pytest.approx(1000 - 32)
    assert geometry.max_scroll(480) == pytest.approx(0)
    for x in (HEADER_WIDTH + 10.0, 500.0, 990.0):
        anchor = geometry.frame_at(x)
        geometry.zoom_at(x, 3.0, 480)
        assert geometry.frame_at(x) == pytest.approx(anchor)
    assert not geometry.set_scroll(-50, 480) or geometry.scroll_px == 0


def test_insertion_boundary_and_ruler_steps() -> None:
    bounds = [0, 10, 30, 40]
    assert [insertion_boundary(bounds, f) for f in (-3, 2, 6, 19, 21, 39, 45)] == [0, 0, 1, 1, 2, 3, 3]
    major, minor = ruler_steps(24, 2.0)  # 2 px per frame: labels at least 96 px apart
    assert major * 2.0 >= 96 and major % minor == 0 and minor * 2.0 >= 8
    assert ruler_steps(24, 40.0) == (3, 1)  # frame-accurate zoom: labels every few frames


def test_hit_testing_tells_bodies_trim_handles_cuts_and_beats_apart() -> None:
    geometry = TimelineGeometry(width=1000)
    geometry.pixels_per_frame = 2.0
    bounds = [0, 50, 100, 101, 150]  # Act 2 is one frame (2 px) wide
    beats = [10.5, 60.0]

    def hit(x: float, kind: RowKind) -> tuple[HitKind, int]:
        row = geometry.row(kind)
        found = hit_test(geometry, bounds, beats, x, row.top + row.height / 2)
        return found.kind, found.index

    cut = geometry.x_of(50)
    assert hit(cut, RowKind.acts) == (HitKind.cut, 0)
    assert hit(cut - 3, RowKind.acts) == (HitKind.cut, 0)
    assert hit(cut - 6, RowKind.acts) == (HitKind.act_edge, 0)
    assert hit(cut - 40, RowKind.acts) == (HitKind.act, 0)
    # Next to a tiny act the roll zones shrink, so its body can still be grabbed.
    assert hit(geometry.x_of(100), RowKind.acts) == (HitKind.cut, 1)
    assert hit(geometry.x_of(100.5), RowKind.acts) == (HitKind.act, 2)
    end = geometry.x_of(150)
    assert hit(end + 2, RowKind.acts) == (HitKind.act_edge, 3)
    assert hit(end + 20, RowKind.acts)[0] is HitKind.none
    assert hit(geometry.x_of(10.5) + 2, RowKind.beats) == (HitKind.beat, 0)
    assert hit(geometry.x_of(30), RowKind.beats)[0] is HitKind.beats
    assert hit(geometry.x_of(30), RowKind.ruler)[0] is HitKind.ruler
    assert hit(10, RowKind.acts)[0] is HitKind.header
