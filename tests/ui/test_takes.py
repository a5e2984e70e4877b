"""The Takes panel in the editor: generate, compare, rate, note, pick and remove takes; the fallback badge."""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QThread
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QDockWidget
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.pipeline import ActPipeline
from app.engine.worker import ActState, DraftService
from app.model import Act, AddTakes, CameraMove, MediaRef, MotionSettings, Project, ProjectSettings
from app.model.project_file import save_project
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences
from app.ui.takes import TakeCell, TakesPanel
from app.ui.timeline.geometry import RowKind
from app.ui.timeline.painter import BADGE
from app.ui.timeline.style import Palette

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WAIT_MS = 20_000
LENGTH = 12  # frames per act


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    image = cv2.imread(str(DEMO / "02_chelsea.jpg"))
    assert image is not None
    cv2.imwrite(str(tmp_path / "cat.jpg"), cv2.resize(image, (160, 96)))
    drift = MotionSettings(camera=CameraMove.drift, intensity=1.0)  # a move that differs for every seed
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=160, height=96),
        acts=[
            Act(
                id="a",
                name="Cat",
                duration_frames=LENGTH,
                references=[MediaRef(path="cat.jpg")],
                motion=drift,
            ),
            Act(id="b", name="Words", duration_frames=LENGTH, prompt="a lighthouse", seed=3),
        ],
    )
    path = tmp_path / "film.storybeat"
    save_project(project, path)
    return path


def _open_editor(qtbot: QtBot, folder: Path, project_path: Path) -> MainWindow:
    """The editor as the app builds it (private settings, cache and recovery), showing the takes of act a."""
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    drafts = DraftService(StageCache(folder / "cache"))
    made = MainWindow(
        DocumentController(), drafts, settings, RecoveryStore(folder / "recovery"), Preferences.defaults()
    )
    assert made.files.open(project_path)
    made.show()
    qtbot.waitExposed(made)
    made.takes_dock.raise_()
    qtbot.waitUntil(lambda: made.takes.active, timeout=WAIT_MS)
    made.document.set_selection(["a"])
    return made


def _close(window: MainWindow) -> None:
    window.shutdown()
    window.document.history.mark_saved()  # closing must not stop at "save changes?"
    window.close()
    window.deleteLater()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, project_path: Path) -> Iterator[MainWindow]:
    made = _open_editor(qtbot, tmp_path, project_path)
    yield made
    _close(made)


def _act(window: MainWindow, act_id: str = "a") -> Act:
    return window.document.project.act(act_id)


def _add_takes(qtbot: QtBot, window: MainWindow, *seeds: int) -> list[TakeCell]:
    """Add takes through the document and wait until every one has a preview on screen."""
    assert window.document.execute(AddTakes("a", list(seeds), "motion"))
    cells = window.takes.cells()
    qtbot.waitUntil(lambda: all(cell.shown_index is not None for cell in cells), timeout=WAIT_MS)
    return cells


def _as_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def test_generating_takes_adds_cells_whose_previews_loop_in_sync(qtbot: QtBot, window: MainWindow) -> None:
    panel: TakesPanel = window.takes
    assert panel.cells() == []
    ready: list[str] = []
    window.drafts.take_ready.connect(lambda act_id, take_id: ready.append(take_id))
    panel.count.setValue(3)
    with qtbot.waitSignal(window.drafts.take_ready, timeout=WAIT_MS):
        qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)

    takes = _act(window).takes
    assert len(takes) == 3 and len({take.seed for take in takes}) == 3
    assert _act(window).seed not in {take.seed for take in takes}
    assert {take.backend for take in takes} == {_act(window).final_backend}
    cells = panel.cells()
    assert [cell.take_id for cell in cells] == [take.id for take in takes]
    qtbot.waitUntil(lambda: sorted(ready) == sorted(take.id for take in takes), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(cell.shown_index is not None for cell in cells), timeout=WAIT_MS)

    # One timer drives every cell: they show the same frame index, and it moves on.
    first = cells[0].shown_index
    assert {cell.shown_index for cell in cells} == {first}
    qtbot.waitUntil(lambda: cells[0].shown_index != first, timeout=WAIT_MS)
    assert len({cell.shown_index for cell in cells}) == 1

    # Each cell shows its own take's preview frame, scaled to the cell.
    for cell, take in zip(cells, takes, strict=True):
        clip = window.drafts.take_clip("a", take.id)
        assert clip is not None and cell.shown_index is not None
        shown = _as_array(cell.picture.pixmap().toImage())
        expected = cv2.resize(clip.frame(cell.shown_index), (shown.shape[1], shown.shape[0]))
        assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 8
        assert cell.title.text() == f"Seed {take.seed} · motion"


def test_previews_are_asked_for_only_while_the_panel_shows(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str | None] = []
    original = window.drafts.set_take_focus

    def set_take_focus(act_id: str | None) -> None:
        asked.append(act_id)
        original(act_id)

    monkeypatch.setattr(window.drafts, "set_take_focus", set_take_focus)
    inspector = window.findChild(QDockWidget, "Inspector")
    assert isinstance(inspector, QDockWidget)
    inspector.raise_()  # the takes tab goes behind the inspector's
    qtbot.waitUntil(lambda: not window.takes.active, timeout=WAIT_MS)
    assert asked[-1] is None
    window.document.set_selection(["b"])
    assert asked[-1] is None
    window.takes_dock.raise_()
    qtbot.waitUntil(lambda: window.takes.active, timeout=WAIT_MS)
    assert asked[-1] == "b"
    assert "Words" in window.takes.heading.text() and "act seed 3" in window.takes.heading.text()
    window.document.set_selection(["a", "b"])
    assert asked[-1] is None and "Select one act" in window.takes.heading.text()
    assert not window.takes.generate.isEnabled()

    # View ▸ Takes closes the panel when it shows, and brings it to the front when it does not.
    toggle = next(action for action in window.findChildren(QAction) if action.text() == "&Takes")
    assert toggle.isChecked()
    toggle.trigger()
    qtbot.waitUntil(lambda: not window.takes_dock.isVisible(), timeout=WAIT_MS)
    assert not toggle.isChecked() and not window.takes.active
    inspector.raise_()
    toggle.trigger()
    qtbot.waitUntil(lambda: window.takes.active, timeout=WAIT_MS)
    assert toggle.isChecked()


def test_rating_by_click_and_by_key_each_one_undo_step(qtbot: QtBot, window: MainWindow) -> None:
    cell = _add_takes(qtbot, window, 100, 200)[0]
    take = _act(window).takes[0]
    star_width = cell.stars.width() // 5
    qtbot.mouseClick(cell.stars, Qt.MouseButton.LeftButton, pos=QPoint(3 * star_width + star_width // 2, 5))
    assert take.rating == 4 and cell.stars.rating == 4
    cell.setFocus()
    qtbot.keyClick(cell, Qt.Key.Key_2)
    assert take.rating == 2 and cell.stars.rating == 2
    qtbot.keyClick(cell, Qt.Key.Key_0)
    assert take.rating is None
    qtbot.keyClick(cell, Qt.Key.Key_5)
    qtbot.mouseClick(cell.stars, Qt.MouseButton.LeftButton, pos=QPoint(4 * star_width + 2, 5))
    assert take.rating is None  # clicking the current rating clears it
    assert _act(window).takes[1].rating is None  # only the focused cell was rated

    for expected in (5, None, 2, 4, None):
        window.document.undo()
        assert take.rating == expected and cell.stars.rating == expected


def test_a_note_is_committed_once_when_editing_finishes(qtbot: QtBot, window: MainWindow) -> None:
    cell = _add_takes(qtbot, window, 100)[0]
    history = window.document.history
    revision = history.revision
    cell.note.setFocus()
    qtbot.keyClicks(cell.note, "the light on the whiskers")
    assert history.revision == revision  # nothing committed while typing
    qtbot.keyClick(cell.note, Qt.Key.Key_Return)
    assert _act(window).takes[0].note == "the light on the whiskers"
    assert history.revision == revision + 1 and history.undo_label == "Edit take note"
    qtbot.keyClick(cell.note, Qt.Key.Key_Return)
    assert history.revision == revision + 1  # unchanged text is no second edit
    window.document.undo()
    assert _act(window).takes[0].note == "" and cell.note.text() == ""


def test_using_a_take_changes_the_seed_renders_use_and_undo_restores_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    cells = _add_takes(qtbot, window, 100, 200)
    act = _act(window)
    qtbot.mouseClick(cells[1].use, Qt.MouseButton.LeftButton)
    assert act.selected_take == act.takes[1].id and act.effective_seed() == 200
    assert cells[1].chosen and cells[1].use.text() == "Use act seed" and not cells[0].chosen
    assert window.takes.use_act_seed.isEnabled()
    qtbot.waitUntil(lambda: window.drafts.status("a").state is ActState.ready, timeout=WAIT_MS)

    qtbot.mouseClick(cells[1].use, Qt.MouseButton.LeftButton)  # the chosen take's button: back to the act
    assert act.selected_take is None and act.effective_seed() == act.seed
    assert not window.takes.use_act_seed.isEnabled()
    window.document.undo()
    assert act.effective_seed() == 200 and cells[1].chosen
    qtbot.mouseClick(window.takes.use_act_seed, Qt.MouseButton.LeftButton)
    assert act.selected_take is None
    window.document.undo()
    window.document.undo()
    assert act.selected_take is None and not cells[1].chosen


def test_removing_a_take_removes_its_cell_until_undone(qtbot: QtBot, window: MainWindow) -> None:
    cells = _add_takes(qtbot, window, 100, 200, 300)
    removed = cells[1].take_id
    qtbot.mouseClick(cells[1].remove, Qt.MouseButton.LeftButton)
    assert [take.seed for take in _act(window).takes] == [100, 300]
    assert [cell.take_id for cell in window.takes.cells()] == [cells[0].take_id, cells[2].take_id]
    window.document.undo()
    assert [cell.take_id for cell in window.takes.cells()][1] == removed
    qtbot.waitUntil(lambda: window.takes.cell(removed).shown_index is not None, timeout=WAIT_MS)


def test_a_fallback_draft_shows_an_amber_badge_and_says_why(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = "model 'svd' is not registered on this machine"
    monkeypatch.setattr(ActPipeline, "fallback_reason", lambda self, key: reason)
    window.document.execute(AddTakes("a", [100], "motion"))  # a new snapshot: statuses settle again
    qtbot.waitUntil(lambda: window.drafts.status("a").fallback == reason, timeout=WAIT_MS)
    assert window.drafts.status("a").state is ActState.ready
    cell = window.takes.cells()[0]
    qtbot.waitUntil(lambda: cell.status.text() == f"Fallback: {reason}", timeout=WAIT_MS)

    view = window.timeline
    geometry = view.timeline_geometry
    row = geometry.row(RowKind.acts)
    # The badge: a 9-pixel disc in the act's top-right corner (an exclamation mark down its middle).
    badge_left = int(np.floor(geometry.x_of(LENGTH))) - 1 - BADGE
    inside = QPoint(badge_left + 4, row.top + 2 + 8)
    qtbot.waitUntil(
        lambda: view.grab().toImage().pixelColor(inside) == Palette.badge["fallback"], timeout=WAIT_MS
    )
    assert Palette.badge["fallback"] != Palette.badge["ready"]


def test_closing_the_editor_while_takes_render_joins_the_worker(
    qtbot: QtBot, tmp_path: Path, project_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[QThread] = []
    original_start = QThread.start

    def recording_start(thread: QThread, *args: QThread.Priority) -> None:
        started.append(thread)
        original_start(thread, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    window = _open_editor(qtbot, tmp_path, project_path)
    try:
        qtbot.mouseClick(window.takes.generate, Qt.MouseButton.LeftButton)
        assert any(thread.isRunning() for thread in started)
        window.document.history.mark_saved()
        begun = time.perf_counter()
        window.close()
        assert time.perf_counter() - begun < 5.0
        assert not window.isVisible() and not any(thread.isRunning() for thread in started)
    finally:
        _close(window)
