"""The assembled editor: files, autosave and crash recovery, exports, failures, shutdown and screenshots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import ActState, DraftService
from app.model import Act, MediaRef, Project, ProjectSettings
from app.model.commands import SetActField, SplitAct
from app.model.project_file import dumps_project, load_project, save_project
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    shutil.copy(DEMO / "02_chelsea.jpg", tmp_path / "cat.jpg")
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=160, height=96),
        acts=[
            Act(id="a", name="Cat", duration_frames=12, references=[MediaRef(path="cat.jpg")]),
            Act(id="b", name="Words", duration_frames=12, prompt="a lighthouse"),
        ],
    )
    path = tmp_path / "film.storybeat"
    save_project(project, path)
    return path


class Editor:
    """Builds main windows the way the app does, with private settings, cache and recovery folders."""

    def __init__(self, qtbot: QtBot, folder: Path) -> None:
        self.qtbot = qtbot
        self.folder = folder
        self.windows: list[MainWindow] = []

    def open(self, path: Path | None = None) -> MainWindow:
        settings = QSettings(str(self.folder / "settings.ini"), QSettings.Format.IniFormat)
        document = DocumentController()
        drafts = DraftService(StageCache(self.folder / "cache"))
        window = MainWindow(
            document, drafts, settings, RecoveryStore(self.folder / "recovery"), Preferences.defaults()
        )
        self.windows.append(window)
        if path is not None:
            assert window.files.open(path)
        return window

    def close_all(self) -> None:
        for window in self.windows:
            window.shutdown()
            window.document.history.mark_saved()  # closing must not stop at "save changes?"
            window.close()
            window.deleteLater()


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[Editor]:
    made = Editor(qtbot, tmp_path / "editor")
    (tmp_path / "editor").mkdir()
    yield made
    made.close_all()


def test_save_and_open_round_trip(editor: Editor, project_path: Path, tmp_path: Path) -> None:
    window = editor.open(project_path)
    window.document.execute(SetActField("a", "prompt", "a tabby cat"))
    assert window.windowTitle().startswith("film.storybeat *")
    copy = tmp_path / "copy.storybeat"
    assert window.files._save_to(copy)
    assert not window.document.history.is_modified
    other = editor.open(copy)
    assert dumps_project(other.document.project) == dumps_project(window.document.project)
    assert window.files.recent()[0] == copy.resolve()


def test_save_as_into_another_folder_keeps_the_media_found(
    editor: Editor, project_path: Path, tmp_path: Path
) -> None:
    window = editor.open(project_path)
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    assert window.files._save_to(elsewhere / "copy.storybeat")
    assert window.document.project.acts[0].references[0].path == "../../cat.jpg"
    from app.engine.media import MediaResolver

    for project, folder in (
        (window.document.project, elsewhere),
        (load_project(elsewhere / "copy.storybeat"), elsewhere),
    ):
        assert MediaResolver(folder).missing(project) == []
    assert load_project(project_path).acts[0].references[0].path == "cat.jpg"  # the original is untouched


def test_opening_a_broken_file_keeps_the_current_project(
    editor: Editor, project_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = editor.open(project_path)
    broken = tmp_path / "broken.storybeat"
    broken.write_text("{ not json")
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    assert not window.files.open(broken)
    assert window.document.path == project_path
    assert "broken.storybeat" in warnings[0] and "not valid JSON" in warnings[0]


def test_autosave_then_crash_then_recovery(
    editor: Editor, project_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = editor.open(project_path)
    on_disk = project_path.read_bytes()
    window.document.execute(SplitAct("a", 5, new_id="a2"))
    window.files.autosave()
    assert project_path.read_bytes() == on_disk  # autosave never writes the project file
    # Crash: the window never closes cleanly, so the recovery copy stays. Stop its threads only.
    window.drafts.shutdown()

    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    restarted = editor.open()
    restarted.files.offer_recovery()
    assert [a.id for a in restarted.document.project.acts] == ["a", "a2", "b"]
    assert restarted.document.path == project_path
    assert restarted.document.history.is_modified


def test_a_failing_act_shows_its_error_and_the_editor_keeps_working(
    editor: Editor, project_path: Path, qtbot: QtBot
) -> None:
    (project_path.parent / "cat.jpg").write_text("not a JPEG any more")
    window = editor.open(project_path)
    qtbot.waitUntil(lambda: window.drafts.status("a").state == ActState.failed, timeout=20_000)
    assert "cat.jpg" in window.drafts.status("a").message
    qtbot.waitUntil(lambda: window.drafts.status("b").state == ActState.ready, timeout=20_000)
    assert window.document.execute(SetActField("b", "prompt", "a storm"))
    qtbot.waitUntil(lambda: window.drafts.status("b").state == ActState.ready, timeout=20_000)


def test_export_from_the_editor_runs_in_the_background(
    editor: Editor, project_path: Path, qtbot: QtBot
) -> None:
    window = editor.open(project_path)
    output = project_path.parent / "film.mp4"
    with qtbot.waitSignal(window.render_queue.job_finished, timeout=60_000) as finished:
        window.export_to(output)
        window.document.execute(SetActField("b", "prompt", "edited after export started"))
    assert finished.args == [True, str(output)]
    with av.open(str(output)) as container:
        assert container.streams.video[0].frames == 24


def test_screenshot_mode_writes_the_window_and_exits(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "app", str(DEMO / "demo.storybeat"), "--screenshot", str(shot), "--at", "2"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        env={
            **__import__("os").environ,
            "QT_QPA_PLATFORM": "offscreen",
            "STORYBEAT_CACHE_DIR": str(tmp_path / "c"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert load_project(DEMO / "demo.storybeat").acts  # the project itself is untouched


def test_editor_arguments_are_validated(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", str(tmp_path / "missing.storybeat")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (
        result.returncode == 2 and "missing.storybeat" in result.stderr and "Traceback" not in result.stderr
    )
