"""UI tests run offscreen, and fail when a test leaves a thread running (it would crash a later test)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThread


@pytest.fixture(autouse=True)
def no_threads_left_running(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Track every QThread started during the test (as napari does) and every new Python thread."""
    started: weakref.WeakSet[QThread] = weakref.WeakSet()
    original_start = QThread.start

    def tracking_start(self: QThread, *args: object) -> None:
        started.add(self)
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    before = {thread.ident for thread in threading.enumerate()}
    yield
    running = [thread for thread in started if thread.isRunning()]
    leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not t.daemon]
    for thread in leaked:
        thread.join(timeout=2.0)
    assert not running, f"QThreads left running after the test: {[t.objectName() or t for t in running]}"
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running after the test: {still}"


@pytest.fixture(autouse=True)
def empty_clipboard() -> Iterator[None]:
    """Leave the clipboard empty: Qt's offscreen platform crashes at exit (SIGSEGV, after every test passed)
    when its clipboard still holds QMimeData, which copying acts puts there. X11 and Wayland do not."""
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()
