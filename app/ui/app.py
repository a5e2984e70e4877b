"""Starting the editor: the application, the window, crash recovery and the screenshot mode.

Only Qt and light modules are imported before the window shows; the engine's heavy libraries load with the
draft service and torch/diffusers only when a diffusers backend is first used.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import cast

import platformdirs
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.engine.cache import StageCache
from app.errors import InputError
from app.model.recovery import RecoveryStore
from app.ui.preferences import Preferences

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
SCREENSHOT_TIMEOUT_S = 120.0
_POLL_MS = 100


def _stage_cache(preferences: Preferences) -> tuple[StageCache, str | None]:
    """The cache the preferences ask for, or the default one (and why) when that folder is unusable."""
    override = os.environ.get("STORYBEAT_CACHE_DIR")  # tests and CI win over the preference
    limit = preferences.cache_limit_gb * 1024**3
    try:
        return StageCache(Path(override) if override else preferences.cache_dir, limit), None
    except InputError as error:
        return StageCache(Path(platformdirs.user_cache_dir("storybeat")) / "stages", limit), str(error)


def run_editor(project: Path | None, screenshot: Path | None = None, at_seconds: float | None = None) -> int:
    """Show the editor (optionally on `project`); in screenshot mode write a PNG of the window and exit."""
    started = time.perf_counter()
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setApplicationName("Storybeat")
    app.setOrganizationName("Storybeat")
    app.setWindowIcon(QIcon(str(RESOURCES / "icons" / "storybeat.png")))
    stylesheet = RESOURCES / "style.qss"
    if stylesheet.is_file():
        app.setStyleSheet(stylesheet.read_text(encoding="utf-8"))

    from app.engine.worker import DraftService
    from app.ui.document import DocumentController
    from app.ui.main_window import MainWindow

    settings = QSettings()
    preferences = Preferences.load(settings)
    recovery = RecoveryStore(Path(platformdirs.user_data_dir("storybeat")) / "recovery")
    document = DocumentController()
    cache, cache_problem = _stage_cache(preferences)
    drafts = DraftService(cache)
    # A screenshot shows the default layout, whatever the user's last session left.
    window = MainWindow(document, drafts, settings, recovery, preferences, restore_layout=screenshot is None)
    window.show()
    if screenshot is None:
        window.music.warm_up_in_background()
    window.statusBar().showMessage(
        f"{cache_problem}; using the default cache folder"
        if cache_problem
        else f"Ready in {time.perf_counter() - started:.2f} s",
        10000,
    )

    if project is not None:
        if not window.files.open(project) and screenshot is not None:
            window.shutdown()
            return 2
    elif screenshot is None:
        window.files.offer_recovery()
    if screenshot is None:
        window.offer_welcome()  # first start only; never in screenshot mode

    if screenshot is not None:
        if at_seconds is not None:
            document.set_playhead(round(at_seconds * float(document.project.settings.fps)))
        # Show the act under the playhead in the inspector, so the picture documents a whole act.
        index = document.project.act_at(document.playhead)
        if index is not None:
            document.set_selection([document.project.acts[index].id])
        deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
        status = {"code": 0}

        def poll() -> None:
            if not drafts.wait_idle(0.0) and time.monotonic() < deadline:
                QTimer.singleShot(_POLL_MS, poll)
                return
            if not window.grab().save(str(screenshot)):
                print(f"storybeat: error: {screenshot}: cannot write the screenshot", file=sys.stderr)
                status["code"] = 2
            window.shutdown()
            app.quit()

        QTimer.singleShot(_POLL_MS, poll)
        app.exec()
        return status["code"]
    return app.exec()
