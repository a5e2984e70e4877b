"""InspectorPanel: edits become SetActField commands when editing finishes, grouped for multi-selection."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QImage,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.model import Project
from app.model.act import Act, CameraMove, MotionSettings
from app.model.media import MediaRef
from app.ui.document import DocumentController
from app.ui.inspector import InspectorPanel
from app.ui.inspector_fields import MIXED

if TYPE_CHECKING:
    from app.engine.worker import DraftService


@dataclass(frozen=True)
class FakeStatus:
    state: str = "ready"
    progress: float = 0.0
    message: str = ""
    fallback: str = ""


class FakeDrafts(QObject):
    """The part of DraftService the inspector uses: status(), frame() and their signals."""

    act_status_changed = Signal(str)
    frames_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, FakeStatus] = {}
        self.frames: dict[int, np.ndarray] = {}  # timeline frame -> RGB uint8 draft frame

    def status(self, act_id: str) -> FakeStatus:
        return self.statuses.get(act_id, FakeStatus())

    def frame(self, timeline_frame: int) -> np.ndarray | None:
        return self.frames.get(timeline_frame)


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    acts = [
        Act(name="Dawn", duration_frames=24, prompt="a misty lake", seed=7),
        Act(name="Noon", duration_frames=24, prompt="a busy market", motion=MotionSettings(intensity=0.2)),
        Act(name="Dusk", duration_frames=24, prompt="a red sky", motion=MotionSettings(camera="pan_left")),
    ]
    return DocumentController(Project(acts=acts), tmp_path / "film.storybeat")


@pytest.fixture
def drafts() -> FakeDrafts:
    return FakeDrafts()


@pytest.fixture
def panel(qtbot: QtBot, document: DocumentController, drafts: FakeDrafts) -> InspectorPanel:
    widget = InspectorPanel(document, cast("DraftService", drafts))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def select(document: DocumentController, *indices: int) -> list[Act]:
    acts = [document.project.acts[i] for i in indices]
    document.set_selection([act.id for act in acts])
    return acts


def focus_out(widget: QWidget) -> None:
    QApplication.sendEvent(widget, QFocusEvent(QEvent.Type.FocusOut, Qt.FocusReason.OtherFocusReason))


def choose(combo: object, value: str) -> None:
    """Pick `value` in a combo as a user would (activated is only emitted for user choices)."""
    index = combo.findData(value)  # type: ignore[attr-defined]
    combo.setCurrentIndex(index)  # type: ignore[attr-defined]
    combo.activated.emit(index)  # type: ignore[attr-defined]


def test_prompt_edit_is_one_command_when_editing_finishes_and_undo_restores_it(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    assert panel.prompt.toPlainText() == "a misty lake"
    revision = document.history.revision

    panel.prompt.selectAll()
    qtbot.keyClicks(panel.prompt, "a frozen lake")
    assert act.prompt == "a misty lake" and document.history.revision == revision  # not per keystroke

    focus_out(panel.prompt)
    assert act.prompt == "a frozen lake"
    assert document.history.revision == revision + 1 and document.history.undo_label == "Edit prompt"

    document.undo()
    assert act.prompt == "a misty lake" and panel.prompt.toPlainText() == "a misty lake"


def test_undo_refreshes_fields_without_creating_commands(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    panel.name.selectAll()
    qtbot.keyClicks(panel.name, "Sunrise")
    qtbot.keyClick(panel.name, Qt.Key.Key_Return)
    assert act.name == "Sunrise"

    document.undo()
    assert panel.name.text() == "Dawn"
    focus_out(panel.name)  # the refreshed field finishing its editing is not an edit
    assert document.history.can_redo and not document.history.can_undo

    document.redo()
    assert panel.name.text() == "Sunrise" and not document.history.can_redo


def test_camera_change_on_several_acts_is_one_undo_step(
    document: DocumentController, panel: InspectorPanel
) -> None:
    acts = select(document, 1, 2)
    assert panel.camera.currentIndex() == -1  # zoom_in and pan_left differ: Mixed
    assert panel.camera.placeholderText() == MIXED

    choose(panel.camera, "drift")

    assert [act.motion.camera for act in acts] == [CameraMove.drift, CameraMove.drift]
    assert [act.motion.intensity for act in acts] == [0.2, 0.5]  # the other motion fields are each act's own
    assert panel.camera.currentData() == "drift"

    document.undo()
    assert [act.motion.camera for act in acts] == [CameraMove.zoom_in, CameraMove.pan_left]
    assert not document.history.can_undo


def test_fields_that_differ_show_mixed(document: DocumentController, panel: InspectorPanel) -> None:
    select(document, 0, 1)
    assert panel.prompt.toPlainText() == "" and panel.prompt.placeholderText() == MIXED
    assert panel.seed.text() == MIXED and panel.seed.number() is None
    assert panel.intensity.label.text() == MIXED
    assert panel.fit.currentData() == "cover"  # the same on both

    focus_out(panel.prompt)  # leaving a Mixed field untouched changes nothing
    panel.seed.editingFinished.emit()
    assert not document.history.can_undo
    assert [act.prompt for act in document.project.acts[:2]] == ["a misty lake", "a busy market"]


def test_slider_commits_keyboard_changes_for_every_selected_act(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    acts = select(document, 0, 2)
    assert panel.intensity.label.text() == "0.50"
    panel.intensity.slider.setFocus()
    qtbot.keyClick(panel.intensity.slider, Qt.Key.Key_PageUp)
    assert [act.motion.intensity for act in acts] == [0.6, 0.6]
    assert document.history.undo_label == "Change intensity"


def make_image(path: Path, color: str) -> Path:
    image = QImage(320, 180, QImage.Format.Format_RGB888)
    image.fill(QColor(color))
    assert image.save(str(path))
    return path


def drag_files(panel: InspectorPanel, paths: list[Path]) -> bool:
    """Drag `paths` onto the references list and drop them, as the window system would; True if accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    target = panel.references.viewport()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():
        # QPoint is the only overload before PySide6 6.12, which deprecates it in favour of QPointF.
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(10, 10), *args)
        move = QDragMoveEvent(QPoint(12, 12), *args)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(target, move)
    drop = QDropEvent(QPointF(12, 12), *args)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def test_dropping_images_adds_media_refs_in_one_step(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    media = tmp_path / "media"
    media.mkdir()
    first = make_image(media / "lake.png", "#3060a0")
    second = make_image(media / "fog.jpg", "#c0c0c0")
    notes = media / "notes.txt"
    notes.write_text("not an image")

    assert not drag_files(panel, [notes])  # nothing to add: the drag is refused
    assert drag_files(panel, [first, notes, second])

    expected = [MediaRef.for_file(path, tmp_path) for path in (first, second)]
    assert act.references == expected
    assert [ref.path for ref in act.references] == ["media/lake.png", "media/fog.jpg"]
    assert panel.references.count() == 2
    assert not panel.references.item(0).icon().isNull()  # a thumbnail was read
    document.undo()
    assert act.references == [] and panel.references.count() == 0


def test_files_that_are_not_usable_images_are_refused_with_the_reason(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel
) -> None:
    """The user's report: a text file named .jpg became a reference and only failed at render."""
    (act,) = select(document, 0)
    lake = make_image(tmp_path / "lake.png", "#3060a0")
    notes = tmp_path / "notes.jpg"
    notes.write_text("shot list: dawn, noon, dusk\n")
    photo = make_image(tmp_path / "fog.jpg", "#c0c0c0").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo[: len(photo) // 2])  # a download cut short
    messages: list[str] = []
    document.message.connect(messages.append)

    assert drag_files(panel, [notes])
    assert act.references == [] and document.history.can_undo is False  # nothing changed
    assert messages == [f"{notes}: not an image: text data"]

    assert drag_files(panel, [lake, notes, cut])
    assert act.references == [MediaRef.for_file(lake, tmp_path)]  # the usable one is added
    assert messages[-1] == f"{notes}: not an image: text data (and 1 more file not added)"


def test_the_add_button_refuses_a_truncated_jpeg(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    (act,) = select(document, 0)
    photo = make_image(tmp_path / "fog.jpg", "#c0c0c0").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo[: len(photo) // 2])
    monkeypatch.setattr("app.ui.inspector.open_file_names", lambda *args: ([str(cut)], ""))
    messages: list[str] = []
    document.message.connect(messages.append)

    panel.add_reference.click()

    assert act.references == []
    assert messages == [f"{cut}: truncated JPEG (the file ends before the picture does)"]


def test_reference_buttons_reorder_and_remove(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    paths = [make_image(tmp_path / f"{name}.png", color) for name, color in (("a", "red"), ("b", "blue"))]
    assert drag_files(panel, paths)

    panel.references.setCurrentRow(0)
    panel.move_reference_down.click()
    assert [ref.path for ref in act.references] == ["b.png", "a.png"]
    assert panel.references.currentRow() == 1  # the moved image stays selected

    panel.remove_reference.click()
    assert [ref.path for ref in act.references] == ["b.png"]


def test_seed_lock_disables_new_seed(document: DocumentController, panel: InspectorPanel) -> None:
    (act,) = select(document, 0)
    assert panel.new_seed.isEnabled()
    panel.new_seed.click()
    assert act.seed != 7 or document.history.can_undo  # a fresh random seed (7 again is 1 in 2**32)
    reseeded = act.seed

    panel.seed_locked.click()
    assert act.seed_locked and not panel.new_seed.isEnabled()
    panel.seed.setValue(1234)
    panel.seed.editingFinished.emit()
    assert act.seed == 1234  # a locked seed can still be typed in; only re-rolling is off
    document.undo()
    assert act.seed == reseeded


def _wheel(widget: QWidget, notches: int) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_scrolling_over_the_fields_never_edits_the_act(
    document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    seed, camera = act.seed, act.motion.camera
    for field in (panel.seed, panel.camera, panel.intensity.slider):
        assert not field.hasFocus()
        _wheel(field, -3)
    assert panel.seed.value() == seed and panel.camera.currentData() == camera
    assert (act.seed, act.motion.camera) == (seed, camera) and not document.history.can_undo


def test_new_seed_skips_locked_acts_in_a_selection(
    document: DocumentController, panel: InspectorPanel
) -> None:
    document.project.acts[0].seed_locked = True
    locked, _ = select(document, 0, 1)
    assert panel.seed_locked.checkState() == Qt.CheckState.PartiallyChecked
    assert panel.new_seed.isEnabled()
    panel.new_seed.click()
    assert locked.seed == 7 and document.history.undo_label == "New seed"


def test_selection_change_commits_a_pending_edit_to_the_acts_it_was_made_for(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    first, second = document.project.acts[:2]
    select(document, 0)
    panel.notes.selectAll()
    qtbot.keyClicks(panel.notes, "needs a warmer grade")
    select(document, 1)
    assert first.notes == "needs a warmer grade" and second.notes == ""
    assert panel.notes.toPlainText() == ""


def test_status_line_follows_the_draft_service(
    document: DocumentController, drafts: FakeDrafts, panel: InspectorPanel
) -> None:
    assert panel.status_label.text() == "No act selected"
    select(document, 0, 1)
    assert panel.status_label.text() == "2 acts: 2 up to date"

    (first,) = select(document, 0)
    assert panel.status_label.text() == "Draft up to date"
    drafts.statuses[first.id] = FakeStatus("rendering", 0.42)
    drafts.act_status_changed.emit(first.id)
    assert panel.status_label.text() == "Rendering draft 42%"
    drafts.statuses[first.id] = FakeStatus("failed", message="out of memory; fell back to motion")
    drafts.act_status_changed.emit(first.id)
    assert panel.status_label.text() == "Failed: out of memory; fell back to motion"
    assert panel.status_label.property("actState") == "failed"


def test_generation_settings_edit_the_selected_acts_as_one_step(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    acts = select(document, 0, 1)
    assert panel.keyframe_model.currentText() == "Placeholder slate"  # no text-to-image model registered
    panel.steps.selectAll()
    qtbot.keyClicks(panel.steps, "12")
    qtbot.keyClick(panel.steps, Qt.Key.Key_Return)
    assert [act.generation.steps for act in acts] == [12, 12]

    panel.start_from_previous.click()
    assert [act.generation.start_from_previous for act in acts] == [True, True]
    assert [act.generation.steps for act in acts] == [12, 12]  # the other generation fields are kept

    document.undo()
    assert [act.generation.start_from_previous for act in acts] == [False, False]
    assert not panel.start_from_previous.isChecked()
    panel.steps.selectAll()
    qtbot.keyClicks(panel.steps, "0")
    qtbot.keyClick(panel.steps, Qt.Key.Key_Return)
    assert [act.generation.steps for act in acts] == [None, None]  # 0: the model's default
