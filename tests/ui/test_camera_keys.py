"""Camera keys in the editor: the viewer's camera overlay (real mouse gestures), the inspector's
"Camera keys" section and the key marks on the timeline's acts track."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel, QMenu, QWidget
from pytestqt.qtbot import QtBot

from app.model import Project, ProjectSettings
from app.model.act import Act, CameraKey, CameraMove, Easing, MotionSettings
from app.model.commands import SetActField
from app.model.media import MediaRef
from app.model.project_file import dumps_project
from app.ui.camera_overlay import (
    GRAB,
    GRID_GROUND,
    VIEW_PAST_EDGE_PEN,
    VIEW_PEN,
    ZOOM_IN_FIRST,
    CameraOverlay,
    fits_picture,
    kept_inside,
)
from app.ui.document import DocumentController
from app.ui.inspector import InspectorPanel
from app.ui.inspector_keyframes import KEYS_REPLACE_PRESET
from app.ui.timeline import TimelineView
from app.ui.timeline.geometry import RowKind
from app.ui.timeline.painter import KEY_MARK_FILL
from app.ui.viewer import PreviewViewer

if TYPE_CHECKING:
    from app.engine.worker import DraftService

LEFT = Qt.MouseButton.LeftButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


@dataclass(frozen=True)
class FakeStatus:
    state: str = "ready"
    progress: float = 1.0
    message: str = ""
    fallback: str = ""


class FakeDrafts(QObject):
    """The part of DraftService the viewer, inspector and timeline use here: no drafts exist yet."""

    frames_changed = Signal()
    act_status_changed = Signal(str)

    def status(self, act_id: str) -> FakeStatus:
        return FakeStatus()

    def frame(self, timeline_frame: int) -> np.ndarray | None:
        return None

    def thumbnail(self, act_id: str) -> np.ndarray | None:
        return None

    def act_thumbnail(self, act_id: str) -> None:
        return None


def _keyed(*keys: CameraKey) -> MotionSettings:
    return MotionSettings(camera=CameraMove.zoom_in, easing=Easing.linear, keyframes=keys)


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    picture = QImage(640, 360, QImage.Format.Format_RGB888)
    picture.fill(QColor(40, 120, 200))
    picture.save(str(tmp_path / "lake.png"))
    acts = [
        Act(id="lake", name="Lake", duration_frames=24, references=[MediaRef(path="lake.png")]),
        Act(id="sky", name="Sky", duration_frames=24),
    ]
    project = Project(settings=ProjectSettings(fps=Fraction(24), width=1920, height=1080), acts=acts)
    document = DocumentController(project, tmp_path / "film.storybeat")
    document.set_selection(["lake"])
    document.set_playhead(5)
    return document


@pytest.fixture
def drafts() -> FakeDrafts:
    return FakeDrafts()


@pytest.fixture
def overlay(qtbot: QtBot, document: DocumentController, drafts: FakeDrafts) -> Iterator[CameraOverlay]:
    viewer = PreviewViewer(document, cast("DraftService", drafts))
    qtbot.addWidget(viewer)
    viewer.resize(800, 450)
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.set_camera_editing(True)
    shown = viewer.camera_overlay
    qtbot.waitUntil(lambda: shown.picture_loaded)
    yield shown
    viewer.shutdown()


def _point(point: QPointF) -> QPoint:
    return point.toPoint()


def _drag(qtbot: QtBot, widget: CameraOverlay, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(widget, LEFT, NO_MODIFIER, start)
    for step in range(1, 5):
        qtbot.mouseMove(widget, start + (end - start) * step / 4)
    qtbot.mouseRelease(widget, LEFT, NO_MODIFIER, end)


def _lake(document: DocumentController) -> Act:
    return document.project.act("lake")


def _set_keys(document: DocumentController, *keys: CameraKey) -> SetActField:
    return SetActField("lake", "motion", _keyed(*keys))


def test_dragging_inside_the_view_adds_a_key_at_the_playhead(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    document.execute(_set_keys(document, CameraKey(frame=0, zoom=2.0)))
    before = dumps_project(document.project)
    polygon = overlay.view_polygon()
    assert polygon is not None
    centre = _point(polygon.boundingRect().center())
    picture = overlay.picture_rect()
    end = centre + QPoint(round(picture.width() * 0.1), 0)

    qtbot.mousePress(overlay, LEFT, NO_MODIFIER, centre)
    qtbot.mouseMove(overlay, end)
    # While dragging only the overlay's preview moves: the document is unchanged.
    assert dumps_project(document.project) == before
    moved = overlay.view_polygon()
    assert moved is not None and moved.boundingRect().center().x() > polygon.boundingRect().center().x() + 20
    qtbot.mouseRelease(overlay, LEFT, NO_MODIFIER, end)

    keys = _lake(document).motion.keyframes
    assert [key.frame for key in keys] == [0, 5]  # the playhead is frame 5 of the act
    assert keys[1].x == pytest.approx(0.1, abs=0.01) and keys[1].zoom == pytest.approx(2.0)
    assert document.history.undo_label == "Move camera"
    document.undo()  # one undo step takes the key away again
    assert dumps_project(document.project) == before


def test_a_corner_drag_towards_the_centre_zooms_in(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    assert _lake(document).motion.keyframes == ()  # no keys: the view starts centred and unzoomed
    polygon = overlay.view_polygon()
    assert polygon is not None
    picture = overlay.picture_rect()
    assert polygon.boundingRect().width() == pytest.approx(picture.width(), abs=1)
    corner = polygon[2]  # bottom-right
    halfway = (corner + picture.center()) / 2
    _drag(qtbot, overlay, _point(corner), _point(halfway))
    (key,) = _lake(document).motion.keyframes
    assert key.frame == 5 and key.zoom == pytest.approx(2.0, abs=0.05)
    assert document.history.undo_label == "Zoom camera"


def test_dragging_the_rotate_handle_turns_the_camera(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    document.execute(_set_keys(document, CameraKey(frame=5, zoom=2.0)))
    handle = overlay.rotate_handle_position()
    polygon = overlay.view_polygon()
    assert handle is not None and polygon is not None
    centre = polygon.boundingRect().center()
    # Swing the handle a quarter turn clockwise around the view's centre (screen y points down).
    radius = centre.y() - handle.y()
    _drag(qtbot, overlay, _point(handle), _point(centre + QPointF(radius, 0)))
    (key,) = _lake(document).motion.keyframes
    # The frame turns clockwise over the picture, so the picture appears turned counter-clockwise.
    assert key.rotation == pytest.approx(-90.0, abs=3.0)


def test_the_wheel_zooms_in_one_undo_step(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    centre = overlay.picture_rect().center()
    for _ in range(3):
        event = QWheelEvent(
            centre,
            overlay.mapToGlobal(centre),
            QPoint(),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            NO_MODIFIER,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(overlay, event)
    assert _lake(document).motion.keyframes == ()  # not yet: the gesture is still going
    qtbot.waitUntil(lambda: bool(_lake(document).motion.keyframes))
    (key,) = _lake(document).motion.keyframes
    assert key.zoom == pytest.approx(1.1**3, abs=0.01)
    document.undo()
    assert _lake(document).motion.keyframes == ()


def test_no_drag_edits_when_the_playhead_is_outside_the_act(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    document.set_playhead(30)  # in "Sky"
    polygon = overlay.view_polygon()
    assert polygon is not None
    corner = _point(polygon[2])
    _drag(qtbot, overlay, corner, corner - QPoint(100, 60))
    assert _lake(document).motion.keyframes == ()


def test_a_view_past_the_picture_is_drawn_as_a_warning(
    overlay: CameraOverlay, document: DocumentController
) -> None:
    document.execute(_set_keys(document, CameraKey(frame=0, rotation=30.0)))
    image = overlay.grab().toImage()
    polygon = overlay.view_polygon()
    assert polygon is not None
    bottom_middle = (polygon[2] + polygon[3]) / 2
    colour = image.pixelColor(_point(bottom_middle))
    assert abs(colour.red() - VIEW_PAST_EDGE_PEN.red()) < 40 and colour.green() < 160


def test_an_act_without_a_picture_is_edited_on_a_grid(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    document.set_selection(["sky"])
    document.set_playhead(30)  # frame 6 of "Sky"
    assert not overlay.picture_loaded
    assert "No reference picture: the engine makes this act's keyframe" in overlay.caption()
    picture = overlay.picture_rect()
    ground = overlay.grab().toImage().pixelColor(_point(picture.center() + QPointF(picture.width() / 16, 9)))
    assert (ground.red(), ground.green(), ground.blue()) == (
        GRID_GROUND.red(),
        GRID_GROUND.green(),
        GRID_GROUND.blue(),
    )
    polygon = overlay.view_polygon()
    assert polygon is not None
    _drag(qtbot, overlay, _point(polygon[0]), _point((polygon[0] + picture.center()) / 2))
    (key,) = document.project.act("sky").motion.keyframes
    assert key.frame == 6 and key.zoom == pytest.approx(2.0, abs=0.05)
    document.set_selection([])
    assert overlay.view_polygon() is None
    assert overlay.caption() == ["Camera keys: select one act to edit its camera"]


def test_a_click_on_the_view_or_its_handles_adds_no_key(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    polygon, handle = overlay.view_polygon(), overlay.rotate_handle_position()
    assert polygon is not None and handle is not None
    for point in (polygon.boundingRect().center(), polygon[2], handle):  # move, zoom, turn
        qtbot.mouseClick(overlay, LEFT, NO_MODIFIER, _point(point))
    assert _lake(document).motion.keyframes == ()  # the preset move still plays
    assert not document.history.can_undo  # and no undo step was spent
    # Between two keys the pose at the playhead is not a round number: a click still does not pin it.
    keys = (CameraKey(frame=0, x=-0.2, zoom=2.0), CameraKey(frame=7, x=0.2, zoom=2.0))
    document.execute(_set_keys(document, *keys))
    polygon = overlay.view_polygon()
    assert polygon is not None
    qtbot.mouseClick(overlay, LEFT, NO_MODIFIER, _point(polygon.boundingRect().center()))
    assert _lake(document).motion.keyframes == keys
    document.undo()  # the one step was setting the keys
    assert not document.history.can_undo


def test_a_move_at_zoom_1_adds_no_key_and_says_to_zoom_in_first(
    qtbot: QtBot, overlay: CameraOverlay, document: DocumentController
) -> None:
    messages: list[str] = []
    document.message.connect(messages.append)
    assert overlay.caption()[1].startswith(ZOOM_IN_FIRST)  # said before any drag, too
    document.set_selection(["sky"])  # no picture: the caption's second line says so until a move is refused
    document.set_playhead(30)
    assert overlay.caption()[1] == "No reference picture: the engine makes this act's keyframe"
    polygon = overlay.view_polygon()
    assert polygon is not None
    start = _point(polygon.boundingRect().center())
    qtbot.mousePress(overlay, LEFT, NO_MODIFIER, start)
    qtbot.mouseMove(overlay, start + QPoint(120, 40))
    assert overlay.caption()[1] == ZOOM_IN_FIRST  # while dragging
    qtbot.mouseRelease(overlay, LEFT, NO_MODIFIER, start + QPoint(120, 40))
    assert document.project.act("sky").motion.keyframes == ()
    assert not document.history.can_undo
    assert overlay.caption()[1] == ZOOM_IN_FIRST and messages == [ZOOM_IN_FIRST]
    # Zoomed in, the same drag moves the camera (and the hint is gone).
    _drag(qtbot, overlay, _point(polygon[0]), _point((polygon[0] + polygon.boundingRect().center()) / 2))
    polygon = overlay.view_polygon()
    assert polygon is not None
    start = _point(polygon.boundingRect().center())
    _drag(qtbot, overlay, start, start + QPoint(40, 0))
    (key,) = document.project.act("sky").motion.keyframes
    assert key.zoom == pytest.approx(2.0, abs=0.05) and key.x > 0.02
    assert ZOOM_IN_FIRST not in overlay.caption()[1] and messages == [ZOOM_IN_FIRST]


def _handle_areas(overlay: CameraOverlay) -> list[QRectF]:
    """Where a press catches the view's corners and its rotate handle (GRAB pixels around each)."""
    polygon, handle = overlay.view_polygon(), overlay.rotate_handle_position()
    assert polygon is not None and handle is not None
    return [QRectF(point.x() - GRAB, point.y() - GRAB, 2 * GRAB, 2 * GRAB) for point in [*polygon, handle]]


@pytest.mark.parametrize("size", [(800, 450), (520, 420), (1000, 300)])
def test_the_caption_keeps_clear_of_the_handles(
    overlay: CameraOverlay, document: DocumentController, size: tuple[int, int]
) -> None:
    viewer = overlay.parentWidget()
    assert viewer is not None
    viewer.resize(*size)
    whole = QRectF(overlay.rect())
    for key in (
        None,
        CameraKey(frame=5, x=0.2, y=-0.05, zoom=2.0, rotation=20.0),
        CameraKey(frame=5, zoom=1.2),
    ):
        if key is not None:
            document.execute(_set_keys(document, key))
        assert fits_picture(overlay.shown_key(_lake(document)), 16 / 9)  # past the edge a view may reach out
        caption = overlay.caption_rect()
        assert whole.contains(caption) and len(overlay.caption()) <= 2
        for area in _handle_areas(overlay):
            assert whole.contains(area) and not caption.intersects(area)
    document.undo()
    document.undo()
    # Drawn: the top-left corner handle of the full-frame view shows (the caption once covered it).
    polygon = overlay.view_polygon()
    assert polygon is not None
    corner = overlay.grab().toImage().pixelColor(_point(polygon[0]))
    assert abs(corner.red() - VIEW_PEN.red()) < 30 and abs(corner.green() - VIEW_PEN.green()) < 30


def test_moves_keep_the_view_inside_the_picture() -> None:
    aspect = 16 / 9
    wide = kept_inside(CameraKey(frame=0, x=0.4, y=-0.4, zoom=2.0), aspect)
    assert (wide.x, wide.y) == (0.25, -0.25) and fits_picture(wide, aspect)
    assert kept_inside(CameraKey(frame=0, x=0.3), aspect).x == 0.0  # nothing to pan over at zoom 1
    turned = kept_inside(CameraKey(frame=0, rotation=30.0, zoom=1.0), aspect)
    assert turned.x == 0.0 and not fits_picture(turned, aspect)  # the render zooms in further there


# -- inspector ---------------------------------------------------------------------------------------------


@pytest.fixture
def panel(qtbot: QtBot, document: DocumentController, drafts: FakeDrafts) -> InspectorPanel:
    widget = InspectorPanel(document, cast("DraftService", drafts))
    qtbot.addWidget(widget)
    widget.resize(420, 1400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_add_key_at_playhead_adds_the_pose_there(
    qtbot: QtBot, panel: InspectorPanel, document: DocumentController
) -> None:
    section = panel.camera_keys
    qtbot.mouseClick(section.add_key, LEFT)
    assert _lake(document).motion.keyframes == (CameraKey(frame=5),)  # no keys yet: centred, unzoomed
    assert document.history.undo_label == "Add camera key"
    document.undo()
    document.execute(
        _set_keys(document, CameraKey(frame=0, x=-0.2, zoom=2.0), CameraKey(frame=20, x=0.2, zoom=2.0))
    )
    document.set_playhead(10)
    qtbot.mouseClick(section.add_key, LEFT)
    keys = _lake(document).motion.keyframes
    assert [key.frame for key in keys] == [0, 10, 20]
    assert keys[1].x == pytest.approx(0.0, abs=1e-6) and keys[1].zoom == pytest.approx(2.0)
    assert section.keys.topLevelItemCount() == 3
    assert section.keys.currentItem().text(0) == "00:00:00:10"  # the new key is selected, its time in the act


def test_the_key_fields_line_up_with_the_other_fields(
    panel: InspectorPanel, document: DocumentController
) -> None:
    document.execute(_set_keys(document, CameraKey(frame=5, zoom=1.5)))

    def left(widget: QWidget) -> int:
        return widget.mapTo(panel.form, QPoint(0, 0)).x()

    section = panel.camera_keys
    assert section.fields["x"].isVisible() and section.fields["x"].isEnabled()
    assert (
        {left(box) for box in section.fields.values()} == {left(panel.fit)} == {left(panel.transition_kind)}
    )
    titles = [label.text() for label in panel.form.findChildren(QLabel)]
    assert "Camera keys" in titles and "Camera keyframes" not in titles


def test_key_times_are_in_the_act_and_say_the_timeline_time(
    panel: InspectorPanel, document: DocumentController
) -> None:
    document.set_selection(["sky"])  # starts at frame 24
    document.execute(SetActField("sky", "motion", _keyed(CameraKey(frame=6, zoom=2.0))))
    section = panel.camera_keys
    assert section.keys.headerItem().text(0) == "Time in act"
    item = section.keys.topLevelItem(0)
    assert item.text(0) == "00:00:00:06" and item.toolTip(0) == "00:00:01:06 on the timeline"


def test_editing_deleting_and_going_to_keys(
    qtbot: QtBot, panel: InspectorPanel, document: DocumentController
) -> None:
    section = panel.camera_keys
    document.execute(
        _set_keys(document, CameraKey(frame=-6, zoom=1.5), CameraKey(frame=4), CameraKey(frame=12))
    )
    assert section.outside.isVisible()
    assert section.outside.text() == "1 key outside the act (from a split or trim) shapes the move"
    assert section.keys.topLevelItemCount() == 2
    second = section.keys.topLevelItem(1)
    section.keys.setCurrentItem(second)
    zoom = section.fields["zoom"]
    zoom.setFocus()
    zoom.selectAll()
    qtbot.keyClicks(zoom, "3")
    qtbot.keyClick(zoom, Qt.Key.Key_Return)
    assert [key.zoom for key in _lake(document).motion.keyframes] == [1.5, 1.0, 3.0]
    assert document.history.undo_label == "Change camera key zoom"
    # A double-click on a key moves the playhead to it (the act starts at frame 0).
    rect = section.keys.visualItemRect(section.keys.topLevelItem(0))
    qtbot.mouseClick(section.keys.viewport(), LEFT, NO_MODIFIER, rect.center())
    qtbot.mouseDClick(section.keys.viewport(), LEFT, NO_MODIFIER, rect.center())
    assert document.playhead == 4
    section.keys.setCurrentItem(section.keys.topLevelItem(0))
    qtbot.mouseClick(section.delete_key, LEFT)
    assert [key.frame for key in _lake(document).motion.keyframes] == [-6, 12]
    qtbot.mouseClick(section.clear_keys, LEFT)
    assert _lake(document).motion.keyframes == ()


def test_the_preset_move_is_disabled_while_keys_exist(
    panel: InspectorPanel, document: DocumentController
) -> None:
    assert panel.camera.isEnabled() and panel.intensity.isEnabled()
    document.execute(_set_keys(document, CameraKey(frame=0, zoom=1.2)))
    assert not panel.camera.isEnabled() and not panel.intensity.isEnabled()
    assert panel.camera.toolTip() == KEYS_REPLACE_PRESET
    document.undo()
    assert panel.camera.isEnabled() and panel.camera.toolTip() == ""


def test_several_acts_selected_show_no_keys(panel: InspectorPanel, document: DocumentController) -> None:
    document.set_selection(["lake", "sky"])
    section = panel.camera_keys
    assert not section.keys.isVisible() and not section.add_key.isVisible()
    assert section.message.text() == "Select one act to edit its camera keys"


# -- timeline ----------------------------------------------------------------------------------------------


def test_the_acts_track_marks_keys_inside_the_act(qtbot: QtBot, document: DocumentController) -> None:
    document.execute(_set_keys(document, CameraKey(frame=-3), CameraKey(frame=12, zoom=2.0)))
    view = TimelineView(document, None)
    qtbot.addWidget(view)
    view.resize(900, 260)
    view.show()
    qtbot.waitExposed(view)
    image = view.grab().toImage()
    geometry = view.timeline_geometry
    row = geometry.row(RowKind.acts)
    y = row.top + row.height - 7
    mark = image.pixelColor(round(geometry.x_of(12.5)), y)
    plain = image.pixelColor(round(geometry.x_of(6.5)), y)
    assert abs(mark.red() - KEY_MARK_FILL.red()) < 30 and abs(mark.blue() - KEY_MARK_FILL.blue()) < 30
    assert plain.red() < 120  # the act's own blue where there is no key


# -- main window -------------------------------------------------------------------------------------------


def test_view_menu_toggles_camera_editing_with_shift_c(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QKeySequence

    from app.engine.cache import StageCache
    from app.engine.worker import DraftService
    from app.model.recovery import RecoveryStore
    from app.ui.main_window import MainWindow
    from app.ui.preferences import Preferences

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        DocumentController(),
        DraftService(StageCache(tmp_path / "cache")),
        settings,
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        restore_layout=False,
    )
    qtbot.addWidget(window)
    try:
        actions = [action for menu in window.menuBar().findChildren(QMenu) for action in menu.actions()]
        (camera,) = [action for action in actions if action.text() == "Edit &Camera Keys"]
        assert camera.shortcut() == QKeySequence("Shift+C") and camera.isCheckable()
        others = [
            action for action in actions if action is not camera and action.shortcut() == camera.shortcut()
        ]
        assert not others  # the shortcut is free
        camera.trigger()
        assert window.viewer.camera_editing
        camera.trigger()
        assert not window.viewer.camera_editing
    finally:
        window.shutdown()
