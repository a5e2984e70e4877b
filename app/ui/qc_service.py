"""Quality checks of the editor's drafts on a background thread (the QC panel shows what they find).

`QCService` runs the checks (app.engine.qc, headless) on one QThread. The GUI thread hands it a frozen
request: a copy of the project and the draft proxy of every act, as the DraftService already rendered them
(nothing new is rendered). A newer request or `shutdown()` cancels the running one. Each finding's repairs
are computed here too, so executing one later does no frame work on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import overload

import numpy as np
from pydantic.main import IncEx
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from app.engine.cache import StageCache
from app.engine.cancel import CancelToken
from app.engine.clip import StoredClip
from app.engine.preview import frozen_copy
from app.engine.qc import QCReport, qc_input_from_clips, run_checks
from app.engine.qc.repairs import Repair, repairs_for
from app.errors import Cancelled, StorybeatError
from app.model import Project

_log = logging.getLogger(__name__)

#: Shares of a run's progress bar: reading the drafts, then the checks (flow statistics), then repairs.
_READ_SHARE, _CHECK_SHARE = 0.3, 0.65
#: Review fields: they change the document, not the film the checks see.
_TAKE_REVIEW: IncEx = {"rating", "note"}
_ACT_REVIEW: dict[str, IncEx | bool] = {"rating": True, "notes": True, "takes": {"__all__": _TAKE_REVIEW}}
_NOT_FILM: IncEx = {"acts": {"__all__": _ACT_REVIEW}}


def film_signature(project: Project) -> str:
    """Everything about `project` that the checks or their messages depend on (not ratings or notes)."""
    return project.model_dump_json(exclude=_NOT_FILM)


class DraftFrames(Sequence[np.ndarray]):
    """An act's draft frames (RGB uint8, draft size), decoded from the stage cache when read."""

    def __init__(self, clip: StoredClip) -> None:
        self._clip = clip

    def __len__(self) -> int:
        return self._clip.length

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[np.ndarray]: ...
    def __getitem__(self, index: int | slice) -> np.ndarray | Sequence[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"draft frame {index} is outside the act (0..{len(self) - 1})")
        return self._clip.frame(index % len(self))


@dataclass(frozen=True)
class QCRequest:
    """A frozen run: the project as it was (a copy) and its acts' draft proxies, in act order."""

    serial: int
    revision: int
    signature: str
    project: Project
    project_dir: Path
    clips: tuple[StoredClip, ...]
    cache: StageCache


@dataclass(frozen=True)
class QCResult:
    """What a run found for document `revision`: the report and, per finding, its repairs; or why it
    could not run (`error`, with `report` None)."""

    revision: int
    signature: str
    project: Project  # the copy that was checked (act names for the list)
    report: QCReport | None
    repairs: tuple[tuple[Repair, ...], ...] = ()
    error: str = ""


def check_drafts(request: QCRequest, progress: Callable[[float], None], cancel: CancelToken) -> QCResult:
    """Run every check on the request's drafts and the repairs of each finding (worker thread)."""
    qc = qc_input_from_clips(
        request.project,
        request.project_dir,
        request.clips,
        request.cache,
        progress=lambda done, total: progress(_READ_SHARE * done / max(total, 1)),
        cancel=cancel,
    )
    report = run_checks(
        qc, lambda done, total: progress(_READ_SHARE + _CHECK_SHARE * done / max(total, 1)), cancel
    )
    drafts = {
        act.id: DraftFrames(clip) for act, clip in zip(request.project.acts, request.clips, strict=True)
    }
    repairs = []
    for finding in report.findings:
        cancel.raise_if_cancelled()
        try:
            repairs.append(tuple(repairs_for(finding, request.project, drafts.__getitem__)))
        except (StorybeatError, OSError) as error:  # a draft the cache dropped: the finding stays, unrepaired
            _log.warning("no repairs for %s: %s", finding.message, error)
            repairs.append(())
    return QCResult(request.revision, request.signature, request.project, report, tuple(repairs))


def _failed(request: QCRequest, why: str) -> QCResult:
    return QCResult(request.revision, request.signature, request.project, None, error=why)


class _QCThread(QThread):
    """Runs one request at a time. `submit`, `cancel` and `stop` are called from the GUI thread; the
    signals, emitted here with the request's serial, reach QCService queued."""

    progress = Signal(int, float)
    reported = Signal(int, object)  # (serial, QCResult); QThread's own `finished` says the thread ended

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("storybeat-qc")
        self._cond = threading.Condition()
        self._pending: QCRequest | None = None
        self._running: CancelToken | None = None
        self._stopping = False

    def submit(self, request: QCRequest | None) -> None:
        """Run `request` next (None: nothing), cancelling the running one."""
        with self._cond:
            self._pending = request
            if self._running is not None:
                self._running.cancel()
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
        self.submit(None)

    def run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._pending is not None)
                if self._stopping or self._pending is None:
                    return
                request, self._pending = self._pending, None
                token = self._running = CancelToken()
            try:
                result = check_drafts(request, partial(self.progress.emit, request.serial), token)
            except Cancelled:
                continue  # a newer request, `cancel` or `stop`: nobody waits for this one
            except (StorybeatError, OSError) as error:  # an unreadable reference, a dropped draft
                result = _failed(request, str(error))
            except Exception as error:  # a bug: say so in the panel, keep the thread for the next request
                _log.exception("quality checks failed")
                result = _failed(request, f"internal error: {error}")
            finally:
                with self._cond:
                    self._running = None
            self.reported.emit(request.serial, result)


class QCService(QObject):
    """Quality checks on one background thread; only the latest request reports (see module docstring)."""

    progress = Signal(float)  # 0..1 of the running request
    finished = Signal(object)  # QCResult of the latest request

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._serial = 0
        self._shown_progress = 0.0
        self.busy = False  # a request is queued or running
        self._thread: _QCThread | None = _QCThread()
        queued = Qt.ConnectionType.QueuedConnection
        self._thread.progress.connect(self._on_worker_progress, queued)
        self._thread.reported.connect(self._on_worker_reported, queued)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._thread.start(QThread.Priority.LowPriority)

    def request(
        self,
        project: Project,
        project_dir: Path,
        revision: int,
        signature: str,
        clips: Sequence[StoredClip],
        cache: StageCache,
    ) -> None:
        """Check `project` (copied here; `film_signature` gives `signature`) as `clips`, its acts' drafts,
        show it. Cancels the run before it (GUI thread)."""
        self._serial += 1
        self._shown_progress = 0.0
        self.busy = True
        snapshot = frozen_copy(project)
        request = QCRequest(self._serial, revision, signature, snapshot, project_dir, tuple(clips), cache)
        if self._thread is not None:
            self._thread.submit(request)

    def cancel(self) -> None:
        """Cancel the queued or running request (what it would still report is ignored)."""
        if self.busy and self._thread is not None:
            self._thread.submit(None)
            self._serial += 1
            self.busy = False

    def shutdown(self) -> None:
        """Cancel and join the thread; safe to call twice."""
        if self._thread is None:
            return
        self._thread.stop()
        self._thread.wait()
        self._thread = None
        self.busy = False

    @Slot(int, float)
    def _on_worker_progress(self, serial: int, fraction: float) -> None:
        # Whole percents only: the bar cannot show finer steps and each signal costs a repaint.
        if serial == self._serial and fraction - self._shown_progress >= 0.01:
            self._shown_progress = fraction
            self.progress.emit(fraction)

    @Slot(int, object)
    def _on_worker_reported(self, serial: int, result: QCResult) -> None:
        if serial == self._serial:
            self.busy = False
            self.finished.emit(result)
