"""Copy, paste, duplicate and paste attributes in the editor, through the system clipboard."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.model import Act, CameraMove, MediaRef, MotionSettings, Project, ProjectSettings
from app.model.act import GradeSettings
from app.model.copy_paste import ACTS_MIME_TYPE, AttributeGroup
from app.model.project_file import dumps_project, save_project
from app.ui.clipboard import PasteAttributesDialog
from app.ui.main_window import MainWindow
from tests.ui.test_main_window import DEMO, Editor


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[Editor]:
    made = Editor(qtbot, tmp_path / "editor")
    (tmp_path / "editor").mkdir()
    yield made
    made.close_all()


def _save(folder: Path, *acts: Act) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    project = Project(settings=ProjectSettings(fps=Fraction(12), width=160, height=96), acts=list(acts))
    path = folder / "film.storybeat"
    save_project(project, path)
    return path


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    shutil.copy(DEMO / "02_chelsea.jpg", tmp_path / "cat.jpg")
    return _save(
        tmp_path,
        Act(id="a", name="Cat", duration_frames=12, references=[MediaRef(path="cat.jpg")]),
        Act(
            id="b",
            name="Noir",
            duration_frames=6,
            style_prompt="film noir",
            motion=MotionSettings(camera=CameraMove.pan_left),
            grade=GradeSettings(saturation=0.0),
        ),
        Act(id="c", name="End", duration_frames=8),
    )


def _action(window: MainWindow, text: str) -> QAction:
    return next(a for a in window.findChildren(QAction) if a.text() == text)


def _names(window: MainWindow) -> list[str]:
    return [act.name for act in window.document.project.acts]


def test_menus_show_the_shortcuts(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    assert _action(window, "&Copy").shortcut() == QKeySequence(QKeySequence.StandardKey.Copy)
    assert _action(window, "&Paste").shortcut() == QKeySequence(QKeySequence.StandardKey.Paste)
    assert _action(window, "D&uplicate").shortcut().toString() == "Ctrl+D"
    assert _action(window, "Paste A&ttributes…").shortcut().toString() == "Ctrl+Shift+V"


def test_copy_two_acts_paste_after_the_selection_then_undo(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    before = dumps_project(window.document.project)
    window.document.set_selection(["a", "b"])
    _action(window, "&Copy").trigger()

    data = QGuiApplication.clipboard().mimeData()
    assert data.hasFormat(ACTS_MIME_TYPE)
    assert data.text() == "Cat\nNoir"

    window.document.set_selection(["c"])
    _action(window, "&Paste").trigger()
    assert _names(window) == ["Cat", "Noir", "End", "Cat", "Noir"]
    ids = [act.id for act in window.document.project.acts]
    assert len(set(ids)) == 5
    assert window.document.selected_ids == ids[3:]  # the pasted acts are selected
    window.document.project.check_consistency()
    assert _action(window, "&Undo Paste acts").isEnabled()

    window.document.undo()
    assert dumps_project(window.document.project) == before


def test_paste_without_selection_goes_after_the_playheads_act(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    window.document.set_selection(["c"])
    window.clipboard.copy()
    window.document.set_selection([])
    window.document.set_playhead(3)  # inside "Cat"
    assert window.clipboard.paste()
    assert _names(window) == ["Cat", "End", "Noir", "End"]


def test_pasting_into_another_project_keeps_the_references_pointing_at_the_same_file(
    editor: Editor, project_path: Path, tmp_path: Path
) -> None:
    source = editor.open(project_path)
    source.document.set_selection(["a"])
    assert source.clipboard.copy()
    other = editor.open(_save(tmp_path / "other" / "deeper", Act(id="x", name="X", duration_frames=4)))
    other.document.set_selection(["x"])
    assert other.clipboard.paste()
    pasted = other.document.project.acts[1]
    assert pasted.name == "Cat" and pasted.id != "a"
    assert pasted.references == [MediaRef(path="../../cat.jpg")]
    assert pasted.references[0].resolve(other.document.project_dir).resolve() == (tmp_path / "cat.jpg")


def test_duplicate_via_the_action(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    window.document.set_selection(["b"])
    _action(window, "D&uplicate").trigger()
    assert _names(window) == ["Cat", "Noir", "Noir (copy)", "End"]
    copy = window.document.project.acts[2]
    assert window.document.selected_ids == [copy.id] and copy.id != "b"
    assert copy.style_prompt == "film noir"
    window.document.undo()
    assert _names(window) == ["Cat", "Noir", "End"]


def test_paste_attributes_dialog_applies_the_checked_groups(
    editor: Editor, project_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = editor.open(project_path)
    window.document.set_selection(["b"])
    window.clipboard.copy()
    window.document.set_selection(["a", "c"])
    chosen: list[frozenset[AttributeGroup]] = []

    def answer(dialog: PasteAttributesDialog) -> int:
        assert dialog.groups() == frozenset(AttributeGroup)  # every group is checked at first
        dialog.checks[AttributeGroup.motion].setChecked(False)
        dialog.checks[AttributeGroup.generation].setChecked(False)
        chosen.append(dialog.groups())
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(PasteAttributesDialog, "exec", answer)
    _action(window, "Paste A&ttributes…").trigger()

    assert chosen == [frozenset({AttributeGroup.look})]
    for act_id in ("a", "c"):
        act = window.document.project.act(act_id)
        assert act.style_prompt == "film noir" and act.grade.saturation == 0.0
        assert act.motion.camera is CameraMove.zoom_in  # motion was not chosen
    assert window.document.project.act("a").references == [MediaRef(path="cat.jpg")]
    window.document.undo()
    assert window.document.project.act("a").style_prompt == ""


def test_paste_attributes_dialog_cannot_be_accepted_with_nothing_checked(qtbot: QtBot) -> None:
    dialog = PasteAttributesDialog("Noir", 2)
    qtbot.addWidget(dialog)
    for check in dialog.checks.values():
        check.setChecked(False)
    assert dialog.groups() == frozenset()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()


def test_text_that_is_not_acts_is_refused_with_one_status_line(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    before = dumps_project(window.document.project)
    data = QMimeData()
    data.setText("just some words")
    QGuiApplication.clipboard().setMimeData(data)
    window.document.set_selection(["a"])
    _action(window, "&Paste").trigger()
    assert dumps_project(window.document.project) == before
    assert not window.document.history.can_undo
    assert window.statusBar().currentMessage() == "Cannot paste: the clipboard does not hold copied acts"
