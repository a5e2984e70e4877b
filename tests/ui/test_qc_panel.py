"""Quality checks in the editor: the QC service on the drafts, the findings panel, jump-to, repairs, badges.

The film: one photo in two acts, the second graded one stop brighter — a lighting step at a same-scene cut,
which the lighting check fails. Checks run on the drafts the DraftService made (nothing is rendered again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt
from PySide6.QtGui import QAction, QHelpEvent
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.engine import pipeline
from app.engine.backends import MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.engine.cache import StageCache
from app.engine.cancel import CancelToken
from app.engine.clip import Clip
from app.engine.qc import QCReport, qc_input_from_project, run_checks
from app.engine.qc.types import CheckKind, QCInput, Severity
from app.engine.worker import DraftService
from app.model import Act, CameraMove, GradeSettings, MediaRef, MotionSettings, Project, ProjectSettings
from app.model.commands import SetActField
from app.model.project_file import save_project
from app.model.recovery import RecoveryStore
from app.model.review_commands import RateAct
from app.ui import qc_service
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences
from app.ui.qc_panel import FindingRow, QCPanel, RepairOutcomeRow
from app.ui.timeline.geometry import RowKind

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WAIT_MS = 30_000
NEVER_MS = 3_600_000  # an automatic run that does not come during a test
LENGTH = 12  # frames per act, at 12 fps


def _project(exposure_step: float) -> Project:
    zoom = MotionSettings(camera=CameraMove.zoom_in, intensity=0.3)
    cat = [MediaRef(path="cat.jpg")]
    return Project(
        settings=ProjectSettings(fps=Fraction(12), width=320, height=180),
        acts=[
            Act(id="a", name="Dawn", duration_frames=LENGTH, references=cat, motion=zoom),
            Act(
                id="b",
                name="Noon",
                duration_frames=LENGTH,
                references=cat,
                motion=zoom,
                grade=GradeSettings(exposure=exposure_step),
            ),
        ],
    )


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    image = cv2.imread(str(DEMO / "02_chelsea.jpg"))
    assert image is not None
    cv2.imwrite(str(tmp_path / "cat.jpg"), cv2.resize(image, (320, 180)))
    path = tmp_path / "film.storybeat"
    save_project(_project(exposure_step=1.0), path)
    return path


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, project_path: Path) -> Iterator[MainWindow]:
    """The editor as the app builds it (private settings, cache and recovery), checks not yet run."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    drafts = DraftService(StageCache(tmp_path / "cache"))
    made = MainWindow(
        DocumentController(), drafts, settings, RecoveryStore(tmp_path / "recovery"), Preferences.defaults()
    )
    made.qc.auto_timer.setInterval(NEVER_MS)
    assert made.files.open(project_path)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.shutdown()
    made.document.history.mark_saved()  # closing must not stop at "save changes?"
    made.close()
    made.deleteLater()


def _checked(qtbot: QtBot, panel: QCPanel) -> None:
    """Ask for a run and wait for its result."""
    with qtbot.waitSignal(panel.service.finished, timeout=WAIT_MS):
        panel.run_checks()
    assert panel.result is not None and panel.result.report is not None, panel.result


def _lighting_row(panel: QCPanel) -> int:
    kinds = [row.finding.kind for row in panel.rows()]
    assert CheckKind.lighting_jump in kinds, kinds
    return kinds.index(CheckKind.lighting_jump)


def test_checks_run_by_themselves_on_the_drafts_without_rendering(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = window.qc
    qtbot.waitUntil(lambda: window.drafts.wait_idle(0.0), timeout=WAIT_MS)

    def no_rendering(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checks must read the drafts, not render them")

    with monkeypatch.context() as patched:
        patched.setattr(pipeline.ActPipeline, "draft_clip", no_rendering)
        with qtbot.waitSignal(panel.service.finished, timeout=WAIT_MS):
            panel.auto_timer.setInterval(50)  # "a few seconds after the drafts are ready"
    result = panel.result
    assert result is not None and result.report is not None and not result.error
    assert result.revision == window.document.history.revision and panel.is_current

    # The editor and `storybeat check` see the same film and find the same things.
    cache = window.drafts.cache
    expected = run_checks(qc_input_from_project(window.document.project, window.document.project_dir, cache))
    assert [f.to_json() for f in result.report.findings] == [f.to_json() for f in expected.findings]

    step = result.report.findings[_lighting_row(panel)]
    assert (step.severity, step.act) == (Severity.fail, "b")
    fails = sum(1 for f in expected.findings if f.severity == Severity.fail)
    assert panel.summary.text().startswith(f"{fails} fail · {len(expected.findings) - fails} warn · not OK")
    assert "VBench temporal flickering" in panel.metrics.text()
    assert f"{expected.metrics['vbench_temporal_flickering']:.4f}" in panel.metrics.text()

    panel.auto_timer.setInterval(50)  # nothing changed: no second run
    qtbot.wait(300)
    assert not panel.service.busy and panel.result is result


def test_the_menus_show_the_panel_and_run_the_checks(qtbot: QtBot, window: MainWindow) -> None:
    def action(text: str) -> QAction:
        found = [a for a in window.findChildren(QAction) if a.text().replace("&", "") == text]
        assert len(found) == 1, text
        return found[0]

    toggle = action("Quality Checks")
    assert not toggle.isChecked()  # a tab behind the inspector
    with qtbot.waitSignal(window.qc.service.finished, timeout=WAIT_MS):
        action("Check Quality").trigger()
    qtbot.waitUntil(toggle.isChecked, timeout=WAIT_MS)  # its tab came to the front
    assert window.qc.rows()
    toggle.trigger()
    assert not window.qc_dock.isVisible() and not toggle.isChecked()
    toggle.trigger()
    assert window.qc_dock.isVisible() and toggle.isChecked()


def test_clicking_a_finding_moves_the_playhead_and_selects_its_act(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.qc
    _checked(qtbot, panel)
    window.document.set_playhead(23)
    row = panel.rows()[_lighting_row(panel)]
    qtbot.mouseClick(row.message, Qt.MouseButton.LeftButton)  # anywhere on the row
    assert window.document.playhead == round(row.finding.start * 12)
    assert window.document.selected_ids == ["b"]
    assert row.property("selected") is True


def test_a_repair_button_runs_one_undoable_command(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.qc
    _checked(qtbot, panel)
    row = panel.rows()[_lighting_row(panel)]
    assert row.repair_buttons, "a lighting step offers repairs"
    before = window.document.project.act("b").model_copy(deep=True)
    revision = window.document.history.revision

    qtbot.mouseClick(row.repair_buttons[0], Qt.MouseButton.LeftButton)
    assert window.document.history.revision == revision + 1  # one step
    assert window.document.project.act("b") != before
    # The repair's values were computed for the film before it: not offered again until checked again.
    assert not panel.is_current and not any(button.isEnabled() for button in row.repair_buttons)

    window.document.undo()
    assert window.document.project.act("b") == before
    assert panel.is_current and all(button.isEnabled() for button in row.repair_buttons)

    window.document.redo()  # checked again once the repaired act's draft is ready: the step is gone
    _checked(qtbot, panel)
    assert CheckKind.lighting_jump not in [row.finding.kind for row in panel.rows()]


def test_results_go_out_of_date_when_the_film_changes_not_when_it_is_rated(
    qtbot: QtBot, window: MainWindow
) -> None:
    panel, view = window.qc, window.timeline
    _checked(qtbot, panel)
    assert view.qc_badge("b") == "fail" and view.qc_badge("a") in (None, "warn")
    view.grab()  # paints the badges (an error in a paint fails the test)
    finding = (
        panel.result.report.findings[_lighting_row(panel)] if panel.result and panel.result.report else None
    )
    assert finding is not None

    window.document.execute(RateAct("b", 4))  # a review edit: a new revision, the same film
    assert panel.is_current and not panel.state.isVisible()

    window.document.execute(SetActField("a", "grade", GradeSettings(exposure=1.0)))
    assert not panel.is_current
    assert "Out of date" in panel.state.text()
    assert view.qc_badge("b") == "fail"  # still shown, drawn hollow
    view.grab()
    row = view.timeline_geometry.row(RowKind.acts)
    tip_at = QPoint(round(view.timeline_geometry.x_of(LENGTH + 4)), row.top + 30)
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, tip_at, view.mapToGlobal(tip_at)))
    tip = view.tooltip_text()
    assert "Noon" in tip and finding.message in tip and "(out of date)" in tip
    assert "Rating ★★★★☆ (act)" in tip

    window.document.undo()  # the film as checked again
    assert panel.is_current and not panel.state.isVisible()


def test_a_run_waits_for_the_drafts_and_says_why(qtbot: QtBot, window: MainWindow) -> None:
    panel = window.qc
    missing = [MediaRef(path="gone.jpg")]
    window.document.execute(SetActField("a", "references", missing))
    qtbot.waitUntil(lambda: str(window.drafts.status("a").state) == "failed", timeout=WAIT_MS)
    panel.run_checks()
    assert "act 'Dawn' failed" in panel.state.text() and "gone.jpg" in panel.state.text()
    assert not panel.service.busy and panel.cancel_button.isEnabled()

    with qtbot.waitSignal(panel.service.finished, timeout=WAIT_MS):
        window.document.undo()  # the draft comes back: the wanted run starts
    assert panel.result is not None and panel.result.report is not None


def test_a_newer_request_cancels_the_running_one_and_closing_joins_the_thread(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = window.qc
    started, cancelled = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow_checks(qc: QCInput, progress: object, cancel: CancelToken) -> QCReport:
        runs.append(len(runs))
        started.set()
        for _ in range(2000):
            if cancel.cancelled:
                cancelled.set()
            cancel.raise_if_cancelled()
            time.sleep(0.005)
        return QCReport()

    monkeypatch.setattr(qc_service, "run_checks", slow_checks)
    panel.run_checks()
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    started.clear()
    panel.run_checks()  # the first run is cancelled, the second starts
    qtbot.waitUntil(lambda: cancelled.is_set() and started.is_set(), timeout=WAIT_MS)
    assert panel.service.busy and panel.progress.isVisible() and panel.result is None

    cancelled.clear()
    window.close()  # asks nothing (unmodified), cancels the second run and joins the thread
    assert cancelled.is_set() and runs == [0, 1]
    assert panel.result is None  # neither run reported


# -- repairs are checked again ---------------------------------------------------------------------------


class _MiddleFlicker:
    """A clip whose middle ninth (the flicker check's middle block) alternates by ±2.5 % frame to frame."""

    def __init__(self, source: Clip) -> None:
        self._source = source
        self.length = source.length

    def frame(self, index: int) -> np.ndarray:
        frame = self._source.frame(index).astype(np.float32)
        height, width = frame.shape[:2]
        middle = (slice(height // 3, 2 * height // 3), slice(width // 3, 2 * width // 3))
        frame[middle] *= np.float32(1.025 if index % 2 == 0 else 0.975)
        return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


@pytest.fixture
def flicker_window(
    qtbot: QtBot, tmp_path: Path, project_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    """The editor on two acts of a pan over one photo at 24 fps; act 'Noon' (prompt "flicker") flickers in
    the middle of the picture whatever its seed (the built-in backend made to flicker)."""
    animate = BuiltinMotionBackend.animate

    def flickering_animate(self: BuiltinMotionBackend, request: MotionRequest, *args: object) -> Clip:
        clip = animate(self, request, *args)  # type: ignore[arg-type]
        return _MiddleFlicker(clip) if "flicker" in request.prompt else clip

    monkeypatch.setattr(BuiltinMotionBackend, "animate", flickering_animate)
    pan = MotionSettings(camera=CameraMove.pan_right, intensity=0.5)
    cat = [MediaRef(path="cat.jpg")]
    project = Project(
        settings=ProjectSettings(fps=Fraction(24), width=320, height=180),
        acts=[
            Act(id="a", name="Dawn", duration_frames=36, references=cat, motion=pan, seed=1),
            Act(
                id="b", name="Noon", duration_frames=36, references=cat, motion=pan, seed=2, prompt="flicker"
            ),
        ],
    )
    path = tmp_path / "flicker.storybeat"
    save_project(project, path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    drafts = DraftService(StageCache(tmp_path / "cache"))
    made = MainWindow(
        DocumentController(), drafts, settings, RecoveryStore(tmp_path / "recovery"), Preferences.defaults()
    )
    made.qc.auto_timer.setInterval(NEVER_MS)
    assert made.files.open(path)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.shutdown()
    made.document.history.mark_saved()
    made.close()
    made.deleteLater()


def _flicker_row(panel: QCPanel) -> FindingRow:
    (row,) = [row for row in panel.rows() if row.finding.kind == CheckKind.flicker]
    assert row.finding.act == "b"
    return row


def _repair_button(row: FindingRow, label: str) -> QPushButton:
    (button,) = [button for button in row.repair_buttons if button.text() == label]
    return button


def _outcome_shown(qtbot: QtBot, panel: QCPanel) -> RepairOutcomeRow:
    """Wait for the re-check after a repair; the repair's line, at the top of the list."""
    qtbot.waitUntil(
        lambda: bool(panel.outcome_rows()) and panel.outcome_rows()[0].applied.outcome is not None,
        timeout=WAIT_MS,
    )
    return panel.outcome_rows()[0]


def test_a_deflicker_repair_is_checked_again_and_shows_before_and_after(
    qtbot: QtBot, flicker_window: MainWindow
) -> None:
    panel = flicker_window.qc
    _checked(qtbot, panel)
    row = _flicker_row(panel)
    before = row.finding.value
    assert before >= 2.0

    qtbot.mouseClick(_repair_button(row, "Deflicker act 'Noon'"), Qt.MouseButton.LeftButton)
    assert flicker_window.document.project.act("b").grade.deflicker == 0.8
    assert panel.outcome_rows()[0].text() == "Deflicker act 'Noon': Re-checking the repaired drafts…"

    shown = _outcome_shown(qtbot, panel)
    assert panel.result is not None and panel.result.report is not None and panel.is_current
    after = panel.result.report.measures[row.finding.subject]
    assert after < 1.0
    assert shown.text() == f"Deflicker act 'Noon': flicker {before:.1f} % → {after:.1f} %: fixed"
    assert shown.heading.text() == "✓ Repaired: Deflicker act 'Noon'" and shown.undo_button is None
    assert CheckKind.flicker not in [finding_row.finding.kind for finding_row in panel.rows()]

    flicker_window.document.undo()  # the repair is gone, and so is what it achieved
    assert panel.outcome_rows() == []


def test_a_repair_that_did_not_help_offers_its_undo(qtbot: QtBot, flicker_window: MainWindow) -> None:
    panel = flicker_window.qc
    _checked(qtbot, panel)
    row = _flicker_row(panel)
    seed = flicker_window.document.project.act("b").seed

    qtbot.mouseClick(_repair_button(row, "Re-roll the seed of 'Noon'"), Qt.MouseButton.LeftButton)
    shown = _outcome_shown(qtbot, panel)  # the act flickers whatever its seed
    assert panel.result is not None and panel.result.report is not None
    after = panel.result.report.measures[row.finding.subject]
    expected = f"flicker {row.finding.value:.1f} % → {after:.1f} %: did not help: undo?"
    assert shown.text() == f"Re-roll the seed of 'Noon': {expected}"
    assert shown.heading.text() == "✗ Repaired: Re-roll the seed of 'Noon'"
    assert shown.undo_button is not None and shown.undo_button.isEnabled()

    qtbot.mouseClick(shown.undo_button, Qt.MouseButton.LeftButton)
    assert flicker_window.document.project.act("b").seed == seed
    assert panel.outcome_rows() == []
