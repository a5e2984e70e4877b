"""File ▸ Export…: the dialog offers the settings the project remembers, remembers what was chosen (one undo
step), queues that export, and refuses an export it cannot write."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QWidget
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import DraftService
from app.model import Act, ExportOptions, ExportRange, FrameRange, MediaRef, Project, ProjectSettings
from app.model.project_file import load_project, save_project
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.export_dialog import NO_IN_OUT_TIP, ExportDialog
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
REMEMBERED = ExportOptions(
    format="h265", height=720, crf=23, range=ExportRange.in_out, draft=True, output="cuts/teaser.mp4"
)


def _save(folder: Path, in_out: FrameRange | None, export: ExportOptions) -> Path:
    shutil.copy(DEMO / "02_chelsea.jpg", folder / "cat.jpg")
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=160, height=96),
        acts=[
            Act(id="a", name="Cat", duration_frames=12, references=[MediaRef(path="cat.jpg")]),
            Act(id="b", name="Words", duration_frames=12, prompt="a lighthouse"),
        ],
        in_out=in_out,
        export=export,
    )
    path = folder / "film.storybeat"
    save_project(project, path)
    return path


class Editor:
    """Main windows built the way the app builds them (as in test_main_window.py), with private settings,
    cache and recovery folders."""

    def __init__(self, qtbot: QtBot, folder: Path) -> None:
        self.qtbot = qtbot
        self.folder = folder
        self.windows: list[MainWindow] = []

    def open(self, path: Path) -> MainWindow:
        settings = QSettings(str(self.folder / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(
            DocumentController(),
            DraftService(StageCache(self.folder / "cache")),
            settings,
            RecoveryStore(self.folder / "recovery"),
            Preferences.defaults(),
            restore_layout=False,
        )
        self.windows.append(window)
        assert window.files.open(path)
        window.show()
        self.qtbot.waitExposed(window)
        window.activateWindow()
        self.qtbot.waitUntil(window.isActiveWindow)  # the menu shortcuts work in the active window
        return window

    def close_all(self) -> None:
        for window in self.windows:
            window.shutdown()
            window.document.history.mark_saved()
            window.close()
            window.deleteLater()


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[Editor]:
    (tmp_path / "editor").mkdir()
    made = Editor(qtbot, tmp_path / "editor")
    yield made
    made.close_all()


def _open_dialog(qtbot: QtBot, window: MainWindow) -> ExportDialog:
    window.timeline.setFocus()
    qtbot.keyClick(window.timeline, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = window.export_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _choose(qtbot: QtBot, combo: QComboBox, text: str) -> None:
    """Pick `text` with the keyboard, as a user tabbing through the form does."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == text, [combo.itemText(i) for i in range(combo.count())]


def _click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _type(qtbot: QtBot, dialog: ExportDialog, text: str) -> None:
    dialog.output_edit.setFocus()
    dialog.output_edit.selectAll()
    qtbot.keyClick(dialog.output_edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(dialog.output_edit, text)


def test_the_dialog_offers_the_settings_the_project_remembers(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    (tmp_path / "cuts").mkdir()
    window = editor.open(_save(tmp_path, FrameRange(start=3, end=21), REMEMBERED))
    dialog = _open_dialog(qtbot, window)
    assert Path(dialog.output_edit.text()) == (tmp_path / "cuts" / "teaser.mp4").resolve()
    assert dialog.format_combo.currentText() == "H.265 MP4"
    assert dialog.resolution_combo.currentText() == "720p (1200×720)"  # the project's 5:3 aspect
    assert dialog.quality_combo.currentText() == "Good" and dialog.quality_combo.isEnabled()
    assert "Good 23" in dialog.quality_combo.toolTip()
    assert dialog.in_out_radio.isChecked() and dialog.in_out_radio.text() == "In to out (00:00:01:06)"
    assert dialog.whole_radio.text() == "Whole film (00:00:02:00)"
    assert dialog.draft_radio.isChecked()
    assert dialog.export_button.isEnabled() and dialog.reason_label.isHidden()
    assert dialog.options() == REMEMBERED
    dialog.reject()


def test_the_dialog_opens_wide_enough_for_a_path_and_shows_its_file_name(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    """It opened 347 px wide, the file field showing "mp/demo-copy/demo.mp4"."""
    window = editor.open(_save(tmp_path, None, ExportOptions()))
    dialog = _open_dialog(qtbot, window)
    edit = dialog.output_edit
    assert dialog.width() >= 560
    assert edit.width() >= edit.fontMetrics().horizontalAdvance("x" * 60)
    assert edit.cursorPosition() == len(edit.text())  # the end of the path, the file name, is in view
    _choose(qtbot, dialog.format_combo, "ProRes MOV")
    assert edit.text().endswith("film.mov") and edit.cursorPosition() == len(edit.text())
    dialog.reject()


def test_exporting_remembers_the_settings_in_one_undo_step_and_renders_them(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    window = editor.open(_save(tmp_path, FrameRange(start=6, end=10), ExportOptions()))
    document = window.document
    dialog = _open_dialog(qtbot, window)
    _choose(qtbot, dialog.format_combo, "PNG sequence")
    assert Path(dialog.output_edit.text()) == (tmp_path / "film").resolve()  # a folder: no suffix
    assert not dialog.quality_combo.isEnabled()  # PNG is lossless
    _click(qtbot, dialog.draft_radio)
    _choose(qtbot, dialog.resolution_combo, "360p (600×360)")
    _click(qtbot, dialog.in_out_radio)
    _type(qtbot, dialog, "frames")
    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as finished:
        _click(qtbot, dialog.export_button)
    assert finished.args == [True, str((tmp_path / "frames").resolve())]

    chosen = ExportOptions(format="png", height=360, range=ExportRange.in_out, draft=True, output="frames")
    assert document.project.export == chosen
    assert document.history.undo_label == "Change export settings"
    pictures = sorted((tmp_path / "frames").glob("frame_*.png"))
    assert len(pictures) == 4  # frames 6..9
    assert cv2.imread(str(pictures[0])).shape == (360, 600, 3)

    window.files.save()
    assert load_project(document.path).export == chosen  # saved with the project
    document.undo()
    assert document.project.export == ExportOptions()
    assert not document.history.can_undo  # the export settings were the one step


def test_exporting_with_unchanged_settings_adds_no_undo_step(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    remembered = ExportOptions(range=ExportRange.in_out, output="short.mp4")
    window = editor.open(_save(tmp_path, FrameRange(start=0, end=3), remembered))
    dialog = _open_dialog(qtbot, window)
    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as finished:
        _click(qtbot, dialog.export_button)
    assert finished.args == [True, str((tmp_path / "short.mp4").resolve())]
    assert not window.document.history.can_undo


def test_in_to_out_is_offered_only_when_the_range_is_marked(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    window = editor.open(_save(tmp_path, None, ExportOptions(range=ExportRange.in_out)))
    dialog = _open_dialog(qtbot, window)
    assert not dialog.in_out_radio.isEnabled() and dialog.in_out_radio.toolTip() == NO_IN_OUT_TIP
    assert dialog.whole_radio.isChecked()
    assert dialog.options().range is ExportRange.whole
    dialog.reject()


def test_export_is_refused_without_a_file_name_or_into_a_missing_folder(
    qtbot: QtBot, editor: Editor, tmp_path: Path
) -> None:
    window = editor.open(_save(tmp_path, None, ExportOptions()))
    dialog = _open_dialog(qtbot, window)
    assert Path(dialog.output_edit.text()) == (tmp_path / "film.mp4").resolve()

    _type(qtbot, dialog, "")
    assert not dialog.export_button.isEnabled()
    assert dialog.reason_label.text() == "Choose a file to export to" and not dialog.reason_label.isHidden()
    _type(qtbot, dialog, str(tmp_path / "nowhere" / "film.mp4"))
    assert not dialog.export_button.isEnabled()
    assert dialog.reason_label.text() == f"The folder {tmp_path / 'nowhere'} does not exist"
    _type(qtbot, dialog, "film.mov")
    assert dialog.reason_label.text() == "H.264 MP4 exports are .mp4 files"
    _choose(qtbot, dialog.format_combo, "ProRes MOV")  # the suffix follows the format
    assert dialog.export_button.isEnabled() and dialog.reason_label.isHidden()
    assert dialog.output_edit.text() == "film.mov"
    _choose(qtbot, dialog.format_combo, "H.264 MP4")
    assert dialog.output_edit.text() == "film.mp4"

    _choose(qtbot, dialog.format_combo, "PNG sequence")
    _type(qtbot, dialog, "frames.mp4")
    assert dialog.reason_label.text() == "PNG sequences are written to a folder: drop .mp4 from the name"

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and not window.document.history.can_undo
