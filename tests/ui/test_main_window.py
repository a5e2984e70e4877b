"""The assembled editor: files, autosave and crash recovery, exports, failures, shutdown and screenshots."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QTabBar
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import ActState, DraftService
from app.model import Act, MediaRef, Project, ProjectSettings
from app.model.commands import SetActField, SplitAct
from app.model.project_file import dumps_project, load_project, save_project
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import DOCK_MIN_WIDTH, MIN_WINDOW_SIZE, MainWindow
from app.ui.preferences import Preferences
from app.ui.timeline.geometry import RowKind
from app.ui.timeline.painter import NAME_BAR

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


def _settled(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until the draft worker has rendered the latest state and its signals reached the window."""
    qtbot.waitUntil(lambda: window.drafts.wait_idle(0.0), timeout=20_000)
    qtbot.wait(50)


def _thumbnail_pixels(window: MainWindow, index: int) -> np.ndarray:
    """RGB pixels of the timeline where act `index` draws its thumbnail, as painted."""
    view = window.timeline
    row = view.timeline_geometry.row(RowKind.acts)
    start = sum(act.duration_frames for act in window.document.project.acts[:index])
    left, top = round(view.timeline_geometry.x_of(start)) + 6, row.top + 2 + NAME_BAR + 6
    image = view.grab().toImage()
    return np.array(
        [
            [image.pixelColor(left + dx, top + dy).getRgb()[:3] for dx in range(0, 24, 2)]
            for dy in range(0, 30, 2)
        ],
        dtype=np.float64,
    )


def test_an_acts_thumbnail_follows_its_look_also_in_a_reopened_project(
    editor: Editor, project_path: Path, qtbot: QtBot
) -> None:
    """Issue 12: an act kept its old look on the timeline after a template was applied, even after the
    project was reopened."""
    window = editor.open(project_path)
    window.show()
    qtbot.waitExposed(window)
    _settled(qtbot, window)
    before = _thumbnail_pixels(window, 0)
    assert before.std(axis=2).mean() > 8  # the cat in colour

    assert window.templates.apply_template("noir", ["a"])  # black and white, high contrast
    _settled(qtbot, window)
    noir = _thumbnail_pixels(window, 0)
    assert np.abs(noir - before).mean() > 10
    assert noir.std(axis=2).mean() < 3  # grey: the new look, drawn
    assert window.files.save()

    for reopened in (editor.open(project_path), window):  # a fresh window, and the same one opening it again
        if reopened is window:
            assert window.files.open(project_path)
        reopened.show()
        qtbot.waitExposed(reopened)
        _settled(qtbot, reopened)
        assert np.abs(_thumbnail_pixels(reopened, 0) - noir).mean() < 2

    # A look the draft cannot be made of (its reference is no picture): the previous look is not passed
    # off as this one; the act shows its failure instead.
    (project_path.parent / "broken.jpg").write_text("not a JPEG")
    assert window.document.execute(SetActField("a", "references", [MediaRef(path="broken.jpg")]))
    qtbot.waitUntil(lambda: window.drafts.status("a").state == ActState.failed, timeout=20_000)
    _settled(qtbot, window)
    assert np.abs(_thumbnail_pixels(window, 0) - noir).mean() > 10


def _shown(qtbot: QtBot, window: MainWindow) -> MainWindow:
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(20)  # dock visibility signals
    return window


def _right_dock_width(window: MainWindow) -> int:
    """The width of the dock tab on screen."""
    docks = (window.inspector_dock, window.takes_dock, window.templates_dock, window.qc_dock)
    return max(dock.width() for dock in docks if dock.isVisible())


def test_the_window_has_a_minimum_size_at_which_nothing_overlaps(
    editor: Editor, project_path: Path, qtbot: QtBot
) -> None:
    """Issue 12: at 640×400 the controls overlapped. The window stops at a minimum size, and there the
    transport bar, the tracks, the docks and their tabs all get the room they ask for."""
    window = _shown(qtbot, editor.open(project_path))
    window.document.set_selection(["a"])  # the inspector shows an act's fields
    window.resize(640, 400)
    qtbot.wait(20)
    assert window.width() >= MIN_WINDOW_SIZE.width() and window.height() >= MIN_WINDOW_SIZE.height()
    assert window.size() == window.minimumSize()
    assert window.transport.width() >= window.transport.sizeHint().width()  # no clipped buttons or time
    assert window.timeline.height() >= window.timeline.sizeHint().height()  # every track shown
    assert window.viewer.height() >= 200
    assert _right_dock_width(window) >= DOCK_MIN_WIDTH
    bars = [bar for bar in window.findChildren(QTabBar) if bar.isVisible() and bar.count() > 1]
    assert bars
    for bar in bars:  # dock tabs are not shortened to "Ta…"
        for index in range(bar.count()):
            assert bar.tabRect(index).width() >= bar.tabSizeHint(index).width(), bar.tabText(index)


def test_docks_keep_a_usable_width_and_the_layout_and_tab_survive_a_restart(
    editor: Editor, project_path: Path, qtbot: QtBot
) -> None:
    """Issue 12: the dock came back narrow, and the dock tab chosen (Inspector / Takes / Templates / Quality
    checks) was forgotten. The layout and the tab are kept in the settings, and a dock is never narrower
    than DOCK_MIN_WIDTH."""
    first = _shown(qtbot, editor.open(project_path))
    first.resizeDocks([first.inspector_dock], [120], Qt.Orientation.Horizontal)
    qtbot.wait(20)
    assert _right_dock_width(first) >= DOCK_MIN_WIDTH
    first.resizeDocks([first.inspector_dock], [DOCK_MIN_WIDTH + 90], Qt.Orientation.Horizontal)
    qtbot.wait(20)
    wide = _right_dock_width(first)
    assert wide >= DOCK_MIN_WIDTH + 80
    first.templates_dock.raise_()
    qtbot.wait(20)
    assert first.templates.active
    assert first.close()

    second = _shown(qtbot, editor.open(project_path))  # the same settings file: a restart
    assert second.templates.active and not second.takes.active
    assert abs(_right_dock_width(second) - wide) <= 4
    second.qc_dock.raise_()
    assert second.close()
    third = _shown(qtbot, editor.open(project_path))
    assert not third.templates.active and third.qc_dock.isVisible()


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
