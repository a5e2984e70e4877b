"""Review mode in the editor: play, rate what plays with 1–5 and 0, add notes with N, leave with Esc."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QSettings, Qt
from PySide6.QtGui import QAction, QHelpEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import DraftService
from app.model import Act, Project, ProjectSettings, Take
from app.model.project_file import save_project
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences
from app.ui.timeline.geometry import RowKind

LENGTH = 24  # frames per act, at 12 fps


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """Two acts; the second plays its selected take."""
    take = Take(id="t", seed=9, backend="motion", note="sharp")
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=64, height=36),
        acts=[
            Act(id="a", name="Dawn", duration_frames=LENGTH, prompt="sunrise"),
            Act(id="b", name="Noon", duration_frames=LENGTH, prompt="sun", takes=[take], selected_take="t"),
        ],
    )
    path = tmp_path / "film.storybeat"
    save_project(project, path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    drafts = DraftService(StageCache(tmp_path / "cache"))
    made = MainWindow(
        DocumentController(), drafts, settings, RecoveryStore(tmp_path / "recovery"), Preferences.defaults()
    )
    made.qc.auto_timer.setInterval(3_600_000)  # no quality checks during these tests
    assert made.files.open(path)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.shutdown()
    made.document.history.mark_saved()  # closing must not stop at "save changes?"
    made.close()
    made.deleteLater()


def _action(window: MainWindow, text: str) -> QAction:
    found = [a for a in window.findChildren(QAction) if a.text().replace("&", "") == text]
    assert len(found) == 1, text
    return found[0]


def _review_at(window: MainWindow, frame: int) -> None:
    """Enter review mode (from the menu) paused at `frame`, so the act under the playhead stays put."""
    window.document.set_playhead(frame)
    _action(window, "Review Mode").trigger()
    assert window.review.active and window.playback.is_playing  # it plays from the playhead
    window.playback.pause()
    window.document.set_playhead(frame)


def test_review_mode_plays_from_the_playhead_and_esc_leaves(qtbot: QtBot, window: MainWindow) -> None:
    window.document.set_playhead(5)
    _action(window, "Review Mode").trigger()
    assert window.review.active and window.playback.is_playing
    assert window.review.strip.isVisible() and _action(window, "Review Mode").isChecked()
    qtbot.waitUntil(lambda: window.document.playhead > 5, timeout=5000)
    assert "'Dawn' (1 of 2)" in window.review.strip.label.text()

    qtbot.keyClick(window.timeline, Qt.Key.Key_Escape)
    assert not window.review.active and not window.playback.is_playing
    assert not window.review.strip.isVisible() and not _action(window, "Review Mode").isChecked()
    window.document.set_playhead(2)
    qtbot.keyClick(window.timeline, Qt.Key.Key_3)  # outside review mode digits rate nothing
    assert window.document.project.act("a").rating is None


def test_keys_rate_what_plays_under_the_playhead_one_undo_step_each(qtbot: QtBot, window: MainWindow) -> None:
    document = window.document
    _review_at(window, 3)
    revision = document.history.revision
    qtbot.keyClick(window.timeline, Qt.Key.Key_4)
    assert document.project.act("a").rating == 4 and document.history.revision == revision + 1
    assert "★★★★☆ (act)" in window.review.strip.label.text()

    # The timeline shows the stars at once (its tooltip reads the same rating as its painter).
    view = window.timeline
    row = view.timeline_geometry.row(RowKind.acts)
    tip_at = QPoint(round(view.timeline_geometry.x_of(4)), row.top + 30)
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, tip_at, view.mapToGlobal(tip_at)))
    assert "Rating ★★★★☆ (act)" in view.tooltip_text()
    view.grab()  # paints the stars (an error in a paint fails the test)

    document.set_playhead(LENGTH + 2)  # act b plays its selected take: the take is rated
    qtbot.keyClick(window.review.strip, Qt.Key.Key_2)
    act_b = document.project.act("b")
    assert act_b.takes[0].rating == 2 and act_b.rating is None
    assert "'Noon' (2 of 2) · ★★☆☆☆ (selected take)" in window.review.strip.label.text()

    qtbot.keyClick(window.timeline, Qt.Key.Key_0)
    assert document.project.act("b").takes[0].rating is None
    document.undo()
    assert document.project.act("b").takes[0].rating == 2
    document.undo()
    document.undo()
    assert document.project.act("a").rating is None and document.project.act("b").takes[0].rating is None


def test_n_opens_a_note_field_and_enter_adds_the_note(qtbot: QtBot, window: MainWindow) -> None:
    document = window.document
    snapping = _action(window, "Snapping")
    assert snapping.isChecked()
    _review_at(window, 3)
    qtbot.keyClick(window.timeline, Qt.Key.Key_N)
    field = window.review.strip.note
    assert field.isVisible() and field.text() == ""
    assert snapping.isChecked()  # N is review's here, not the menu's snapping toggle
    qtbot.keyClicks(field, "too dark 3")  # digits typed into the note rate nothing
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert document.project.act("a").notes == "too dark 3" and document.project.act("a").rating is None
    assert not field.isVisible() and window.review.active

    document.undo()
    assert document.project.act("a").notes == ""

    document.set_playhead(LENGTH + 1)  # a take's note is edited whole
    qtbot.keyClick(window.timeline, Qt.Key.Key_N)
    assert field.text() == "sharp"
    field.clear()
    qtbot.keyClicks(field, "soft focus")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert document.project.act("b").takes[0].note == "soft focus"
    document.undo()
    assert document.project.act("b").takes[0].note == "sharp"


def test_esc_in_the_note_field_closes_it_and_play_resumes(qtbot: QtBot, window: MainWindow) -> None:
    document = window.document
    document.set_playhead(2)
    _action(window, "Review Mode").trigger()
    qtbot.keyClick(window.timeline, Qt.Key.Key_N)
    assert not window.playback.is_playing  # writing pauses the film
    qtbot.keyClicks(window.review.strip.note, "never mind")
    qtbot.keyClick(window.review.strip.note, Qt.Key.Key_Escape)
    assert not window.review.strip.note.isVisible() and window.review.active
    assert window.playback.is_playing and document.project.act("a").notes == ""
    assert not document.history.can_undo
