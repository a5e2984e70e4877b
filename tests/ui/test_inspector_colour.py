"""The inspector's colour section: grade sliders, LUT, reset (each one undo step) and the histogram scope."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.model import Project
from app.model.act import Act, GradeSettings
from app.model.media import MediaRef
from app.ui.document import DocumentController
from app.ui.inspector import InspectorPanel
from app.ui.inspector_colour import SCOPE_BINS, HistogramScope
from app.ui.inspector_fields import MIXED
from tests.ui.test_inspector import FakeDrafts, select

if TYPE_CHECKING:
    from app.engine.worker import DraftService

IDENTITY_CUBE = """TITLE "identity"
LUT_3D_SIZE 2
0 0 0
1 0 0
0 1 0
1 1 0
0 0 1
1 0 1
0 1 1
1 1 1
"""

LOOK = MediaRef(path="look.cube", sha256="0" * 64)
DUSK_GRADE = GradeSettings(exposure=1.0, temperature=-0.5, lut=LOOK, grain=0.5)


@pytest.fixture
def document(tmp_path: Path) -> DocumentController:
    acts = [
        Act(name="Dawn", duration_frames=24),
        Act(name="Noon", duration_frames=24, grade=GradeSettings(saturation=1.5, contrast=1.2)),
        Act(name="Dusk", duration_frames=24, grade=DUSK_GRADE),
    ]
    return DocumentController(Project(acts=acts), tmp_path / "film.storybeat")


@pytest.fixture
def drafts() -> FakeDrafts:
    return FakeDrafts()


@pytest.fixture
def panel(qtbot: QtBot, document: DocumentController, drafts: FakeDrafts) -> InspectorPanel:
    widget = InspectorPanel(document, cast("DraftService", drafts))
    qtbot.addWidget(widget)
    widget.resize(420, 900)
    widget.show()
    return widget


def test_dragging_exposure_changes_the_grade_once_when_released(
    document: DocumentController, panel: InspectorPanel
) -> None:
    (act,) = select(document, 0)
    exposure = panel.colour.sliders["exposure"]
    assert exposure.label.text() == "0.00"
    revision = document.history.revision

    exposure.slider.setSliderDown(True)
    for position in (85, 95, 100):  # a drag passes many positions
        exposure.slider.setValue(position)
    assert act.grade.exposure == 0.0 and document.history.revision == revision
    exposure.slider.setSliderDown(False)  # released

    assert act.grade.exposure == 1.0  # -4 + 100 · 8 / 160 stops
    assert act.grade == GradeSettings(exposure=1.0)  # nothing else moved
    assert document.history.revision == revision + 1
    assert document.history.undo_label == "Change exposure"

    document.undo()
    assert act.grade.exposure == 0.0 and exposure.label.text() == "0.00"


def test_a_slider_edits_every_selected_act_in_one_step_and_keeps_their_other_values(
    qtbot: QtBot, document: DocumentController, panel: InspectorPanel
) -> None:
    dawn, noon = select(document, 0, 1)
    saturation = panel.colour.sliders["saturation"]
    assert saturation.label.text() == MIXED  # 1.0 and 1.5
    assert panel.colour.sliders["exposure"].label.text() == "0.00"  # the same on both
    revision = document.history.revision

    saturation.slider.setFocus()
    qtbot.keyClick(saturation.slider, Qt.Key.Key_PageUp)  # from "Mixed" (the minimum) one page: 30 of 300

    assert dawn.grade.saturation == noon.grade.saturation == pytest.approx(0.3)
    assert noon.grade.contrast == 1.2 and dawn.grade.contrast == 1.0
    assert document.history.revision == revision + 1
    document.undo()
    assert (dawn.grade.saturation, noon.grade.saturation) == (1.0, 1.5)


def test_reset_colour_restores_the_neutral_grade_in_one_step_and_keeps_finishing(
    document: DocumentController, panel: InspectorPanel
) -> None:
    noon, dusk = select(document, 1, 2)
    assert panel.colour.reset.isEnabled()
    assert panel.colour.lut_name.text() == MIXED
    revision = document.history.revision

    panel.colour.reset.click()

    assert noon.grade == GradeSettings()
    assert dusk.grade == GradeSettings(grain=0.5)  # grain is finishing, not colour
    assert document.history.revision == revision + 1
    assert document.history.undo_label == "Reset colour"
    assert not panel.colour.reset.isEnabled()
    document.undo()
    assert dusk.grade == DUSK_GRADE
    assert noon.grade.saturation == 1.5


def test_a_file_that_is_not_a_cube_lut_is_refused_with_one_message(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    (act,) = select(document, 0)
    bad = tmp_path / "look.cube"
    bad.write_text("TITLE nothing\n0.1 0.2 0.3\n")
    monkeypatch.setattr("app.ui.inspector_colour.open_file_name", lambda *args: (str(bad), ""))
    messages: list[str] = []
    document.message.connect(messages.append)
    revision = document.history.revision

    panel.colour.choose_lut.click()

    assert messages == [f"{bad}, line 2: table data before the LUT_3D_SIZE line"]
    assert act.grade == GradeSettings() and document.history.revision == revision
    assert panel.colour.lut_name.text() == "None"


def test_a_valid_cube_lut_is_applied_and_can_be_cleared(
    tmp_path: Path, document: DocumentController, panel: InspectorPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    (act,) = select(document, 0)
    cube = tmp_path / "warm.cube"
    cube.write_text(IDENTITY_CUBE)
    monkeypatch.setattr("app.ui.inspector_colour.open_file_name", lambda *args: (str(cube), ""))

    panel.colour.choose_lut.click()

    assert act.grade.lut == MediaRef.for_file(cube, document.project_dir)
    assert act.grade.lut is not None and act.grade.lut.path == "warm.cube"
    assert panel.colour.lut_name.text() == "warm.cube"
    assert document.history.undo_label == "Change LUT"
    panel.colour.clear_lut.click()
    assert act.grade.lut is None and document.history.undo_label == "Remove LUT"


def half_black_half_white(height: int = 270, width: int = 480) -> np.ndarray:
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, width // 2 :] = 255
    return frame


def test_the_scope_shows_the_histogram_of_the_draft_frame_under_the_playhead(
    qtbot: QtBot, document: DocumentController, drafts: FakeDrafts, panel: InspectorPanel
) -> None:
    drafts.frames[0] = half_black_half_white()
    select(document, 0)  # the playhead (frame 0) is on this act

    scope = panel.colour.scope
    qtbot.waitUntil(lambda: scope.histogram is not None)
    assert scope.histogram is not None
    half = 270 * 240
    assert scope.histogram.bins == SCOPE_BINS
    assert scope.histogram.luma[0] == scope.histogram.luma[-1] == half
    assert scope.histogram.luma[1:-1].sum() == 0

    # What is painted: full-height grey bars at both ends, nothing in between.
    image = scope.grab().toImage()
    middle_height = image.height() // 2
    assert image.pixelColor(0, middle_height) == HistogramScope.LUMA
    assert image.pixelColor(image.width() - 1, middle_height) == HistogramScope.LUMA
    assert image.pixelColor(image.width() // 2, middle_height) == HistogramScope.BACKGROUND


def test_the_scope_follows_the_selection_and_new_frames(
    qtbot: QtBot, document: DocumentController, drafts: FakeDrafts, panel: InspectorPanel
) -> None:
    scope = panel.colour.scope
    select(document, 1)  # not under the playhead: its middle frame (24 + 12), no draft yet
    qtbot.wait(150)
    assert scope.histogram is None

    drafts.frames[36] = np.full((90, 160, 3), 255, dtype=np.uint8)
    drafts.frames_changed.emit()
    qtbot.waitUntil(lambda: scope.histogram is not None)
    assert scope.histogram is not None
    assert scope.histogram.luma[-1] == 90 * 160 and scope.histogram.luma[:-1].sum() == 0
