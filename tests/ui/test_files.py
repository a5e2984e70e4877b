"""The File menu's words and dialogs: the unsaved-changes prompt names what the user is doing, and file
dialogs open at a size that shows their columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QSize
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QTreeView, QWidget
from pytestqt.qtbot import QtBot

from app.model import Act, Project
from app.model.commands import SetActField
from app.model.project_file import save_project
from app.model.recovery import RecoveryStore
from app.ui import files
from app.ui.document import DocumentController
from app.ui.files import QUITTING, FileController, file_dialog_size, open_file_name

Answer = QMessageBox.StandardButton


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    film, other = tmp_path / "film.storybeat", tmp_path / "other.storybeat"
    save_project(Project(acts=[Act(id="a", name="Dawn", duration_frames=12)]), film)
    save_project(Project(acts=[Act(id="b", name="Dusk", duration_frames=24)]), other)
    return film, other


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    made = QWidget()
    qtbot.addWidget(made)
    made.resize(1000, 700)
    return made


@pytest.fixture
def controller(window: QWidget, tmp_path: Path, paths: tuple[Path, Path]) -> FileController:
    """The file controller on film.storybeat, with one unsaved edit."""
    document = DocumentController()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    made = FileController(document, settings, RecoveryStore(tmp_path / "recovery"), window)
    assert made.open(paths[0])
    document.execute(SetActField("a", "prompt", "a storm"))
    return made


class Prompts:
    """Every unsaved-changes prompt shown (title, text), each answered with `answer`."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.answer = Answer.Cancel

    def question(self, parent: QWidget, title: str, text: str, *args: object) -> Answer:
        self.asked.append((title, text))
        return self.answer


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Prompts:
    made = Prompts()
    monkeypatch.setattr(QMessageBox, "question", made.question)
    return made


def test_new_asks_before_creating_a_new_project(controller: FileController, prompts: Prompts) -> None:
    controller.new()
    assert prompts.asked == [
        ("Unsaved changes", "Save changes to film.storybeat before creating a new project?")
    ]
    assert controller.document.project.acts[0].prompt == "a storm"  # cancelled: nothing changed


def test_open_names_the_project_being_opened(
    controller: FileController,
    prompts: Prompts,
    paths: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    film, other = paths
    monkeypatch.setattr(files, "open_file_name", lambda *args: (str(other), ""))
    controller.open_dialog()
    assert prompts.asked == [
        ("Unsaved changes", "Save changes to film.storybeat before opening other.storybeat?")
    ]
    assert controller.document.path == film.resolve()

    prompts.answer = Answer.Discard
    assert controller.open_asking(other)  # as a recent file is opened
    assert prompts.asked[-1][1] == "Save changes to film.storybeat before opening other.storybeat?"
    assert controller.document.path == other.resolve()


def test_quitting_and_an_untitled_project_are_named(controller: FileController, prompts: Prompts) -> None:
    assert not controller.confirm_discard(QUITTING)
    assert prompts.asked[-1][1] == "Save changes to film.storybeat before quitting?"
    controller.document.replace(Project(acts=[Act(id="c", duration_frames=5)]), None, modified=True)
    controller.new()
    assert prompts.asked[-1][1] == "Save changes to Untitled before creating a new project?"


def test_file_dialogs_open_large_enough_to_show_their_columns(
    window: QWidget, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shown: list[tuple[QSize, int, QFileDialog.ViewMode]] = []

    def exec_and_look(dialog: QFileDialog) -> int:
        dialog.show()
        names = dialog.findChild(QTreeView, "treeView")
        assert names is not None  # Qt's own dialog (offscreen there is no native one)
        shown.append((dialog.size(), names.header().sectionSize(0), dialog.viewMode()))
        dialog.reject()
        return 0

    monkeypatch.setattr(QFileDialog, "exec", exec_and_look)
    chosen = open_file_name(window, "Open project", str(tmp_path), "Storybeat projects (*.storybeat)")
    assert chosen == ("", "")

    screen = QApplication.primaryScreen().availableGeometry().size()
    expected = QSize(750, 525).expandedTo(files.FILE_DIALOG_MIN).boundedTo(screen)  # 3/4 of 1000 x 700
    ((size, name_column, mode),) = shown
    assert size == expected
    assert size.width() > 632 and size.height() > 408  # Qt's own default, where the columns are cut
    assert name_column >= round(files.NAME_COLUMN_SHARE * size.width())
    assert mode == QFileDialog.ViewMode.Detail
    assert file_dialog_size(None) == files.FILE_DIALOG_MIN.boundedTo(screen)
