"""Window visible after launch (target < 2 s), against an empty PySide6 window as the baseline.

Each measurement is a fresh process (imports are the cost): the time from just before the interpreter starts
until the first event-loop turn after `show()`, when the window has been exposed. Offscreen by default.
Run: python bench/bench_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_EDITOR = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer, QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.engine.worker import DraftService
from app.model.recovery import RecoveryStore
from app.model.project_file import load_project
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.preferences import Preferences
from app.engine.cache import StageCache
demo = Path(sys.argv[2])
document = DocumentController(load_project(demo), demo)
drafts = DraftService(StageCache(Path(sys.argv[3])))
window = MainWindow(document, drafts, QSettings(sys.argv[3] + "/settings.ini", QSettings.Format.IniFormat),
                    RecoveryStore(Path(sys.argv[3]) / "recovery"), Preferences.defaults())
window.show()
def visible():
    print(time.time() - float(sys.argv[1]))
    window.shutdown()
    app.quit()
QTimer.singleShot(0, visible)
app.exec()
"""

_BASELINE = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.resize(1440, 900)
window.show()
def visible():
    print(time.time() - float(sys.argv[1]))
    app.quit()
QTimer.singleShot(0, visible)
app.exec()
"""


def _measure(code: str, *args: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-c", code, repr(started), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    demo = str(ROOT / "resources" / "demo" / "demo.storybeat")
    with tempfile.TemporaryDirectory() as scratch:
        _measure(_EDITOR, demo, scratch)  # warm the OS file cache once
        editor = [_measure(_EDITOR, demo, scratch) for _ in range(runs)]
        baseline = [_measure(_BASELINE) for _ in range(runs)]
    med_editor, med_base = statistics.median(editor), statistics.median(baseline)
    print(f"{'window visible after launch':<34}{'median s':>10}{'max s':>9}")
    print(f"{'empty PySide6 window (baseline)':<34}{med_base:>10.3f}{max(baseline):>9.3f}")
    print(f"{'Storybeat editor, demo project':<34}{med_editor:>10.3f}{max(editor):>9.3f}")
    print(f"editor ÷ baseline = {med_editor / med_base:.2f}   target: editor < 2 s")
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            _EDITOR.replace(
                "window.show()",
                "window.show(); import sys as s; "
                "print('torch' in s.modules, 'diffusers' in s.modules, 'librosa' in s.modules)",
            ),
            repr(time.time()),
            demo,
            tempfile.mkdtemp(),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=True,
    ).stdout.split("\n")[0]
    print(f"torch, diffusers, librosa imported at startup: {heavy}")


if __name__ == "__main__":
    main()
