"""The editor's model manager: the registry, the rows the Models window shows, and model downloads.

`ModelsService` owns the `ModelRegistry` and emits `changed` whenever a model is added, removed, renamed or
pulled, so every list of models (the inspector's) refreshes. Anything that touches the disk beyond the small
registry file, or imports diffusers (validating a folder does), runs on one worker thread: building the
rows (nvidia-smi, safetensors headers, the Hugging Face cache), adding a folder, finishing a pull, deleting
files. A download is a child process (`app.engine.models.pull.command`) run by a QProcess whose JSON lines
feed `PullEvents`; cancelling terminates it and keeps the partial files, so the next pull of the same name
resumes. `shutdown()` terminates running downloads and joins the worker.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QProcess,
    QProcessEnvironment,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from app.engine.models import fit
from app.engine.models.fit import GpuInfo
from app.engine.models.pull import PullEvents, PullRequest, StoppedPull, command, make_request, stopped_pulls
from app.engine.models.registry import ModelEntry, ModelRegistry, default_models_dir
from app.errors import InputError, StorybeatError

if TYPE_CHECKING:
    from app.engine.models.curated import CuratedModel
    from app.engine.models.manager import ModelRow

_log = logging.getLogger(__name__)
_STDERR_KEEP = 4096  # characters of the child's stderr kept for the "stopped" message
_KILL_AFTER_MS = 3000  # a cancelled child that ignores terminate() is killed after this
GpuProbe = Callable[[], GpuInfo | None]


def registry_for(models_dir: Path) -> ModelRegistry:
    """The user's registry, pulling into `models_dir` (the preference); $STORYBEAT_DATA_DIR wins, as the
    CLI's `models pull` uses it too."""
    return ModelRegistry(
        models_dir=default_models_dir() if os.environ.get("STORYBEAT_DATA_DIR") else models_dir
    )


def one_line(error: BaseException | str) -> str:
    """The first line of an error message: rows and status labels show one line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else "failed"


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies strictly inside `folder` (both resolved): only such folders are ever deleted."""
    try:
        inner, outer = path.resolve(), folder.resolve()
    except OSError:
        return False
    return inner != outer and inner.is_relative_to(outer)


@dataclass(frozen=True)
class ModelRows:
    """One scan: the GPU, the three lists of rows, and what the disk under the models folder has free."""

    gpu: GpuInfo | None
    catalog: list[ModelRow]
    registered: list[ModelRow]
    found: list[ModelRow]
    curated: dict[str, CuratedModel]
    free_bytes: int | None  # free space where pulls go; None when it cannot be told
    hf_cache: Path | None  # the Hugging Face cache that was looked in
    stopped: dict[str, StoppedPull] = field(default_factory=dict)  # by model name
    warnings: list[str] = field(default_factory=list)


def build_rows(
    registry: ModelRegistry,
    gpu_probe: GpuProbe,
    folders: Sequence[Path],
    hf_cache: Path | None,
) -> ModelRows:
    """Everything the Models window shows (worker thread: runs nvidia-smi, reads headers, walks folders)."""
    from app.engine.models.curated import load_catalog
    from app.engine.models.found import default_hf_cache
    from app.engine.models.manager import catalog_rows, found_rows, registered_rows

    gpu = gpu_probe()
    warnings: list[str] = []
    cache = hf_cache if hf_cache is not None else default_hf_cache()
    try:
        catalog = catalog_rows(registry, gpu)
        curated = {model.id: model for model in load_catalog().models}
    except InputError as error:  # a damaged catalog file: the other lists still show
        warnings.append(one_line(error))
        catalog, curated = [], {}
    try:
        registered = registered_rows(registry, gpu)
        found = found_rows(registry, gpu, folders, hf_cache=cache, warnings=warnings)
    except InputError as error:  # a damaged registry file
        warnings.append(one_line(error))
        registered, found = [], []
    return ModelRows(
        gpu,
        catalog,
        registered,
        found,
        curated,
        free_bytes=_free_bytes(registry.models_dir),
        hf_cache=cache,
        stopped=stopped_pulls(registry),
        warnings=warnings,
    )


def _free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk that holds `folder` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


# -- the worker thread --------------------------------------------------------------------------------------

Job = Callable[[], object]


class _ModelsThread(QThread):
    """Runs jobs one after another. `submit` and `stop` are called from the GUI thread; `done` reaches the
    service queued. Stopping drops queued scans (nobody waits for them) but finishes every other job: a
    confirmed deletion or a verified download is not left half done."""

    done = Signal(int, object, str)  # (serial, result, error message: "" when it worked)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("storybeat-models")
        self._cond = threading.Condition()
        self._jobs: deque[tuple[int, Job, bool]] = deque()
        self._stopping = False

    def submit(self, serial: int, job: Job, droppable: bool) -> None:
        with self._cond:
            self._jobs.append((serial, job, droppable))
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or bool(self._jobs))
                if not self._jobs:
                    return
                serial, job, droppable = self._jobs.popleft()
                if self._stopping and droppable:
                    continue
            try:
                result, error = job(), ""
            except (StorybeatError, OSError) as failure:
                result, error = None, one_line(failure)
            except Exception as failure:  # a bug: say it where the user looks, keep the thread
                _log.exception("model manager job failed")
                result, error = None, f"internal error: {failure!r}"
            self.done.emit(serial, result, error)


# -- downloads ----------------------------------------------------------------------------------------------

DownloadState = Literal["running", "finishing", "done", "cancelled", "failed"]


class ModelDownload(QObject):
    """One pull: the child process and what its lines said. `state` moves running → finishing (the files
    are verified; the service validates, moves and registers them) → done, or to cancelled / failed."""

    changed = Signal()  # progress or state
    downloaded = Signal()  # the child verified every file: time to finish the pull

    def __init__(self, registry: ModelRegistry, request: PullRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.request = request
        self.events = PullEvents()
        self.state: DownloadState = "running"
        self.error = ""
        self.entry: ModelEntry | None = None
        self._cancelling = False
        self._stdout = b""
        self._stderr = ""
        self._process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        self._process.setProcessEnvironment(environment)
        program, *arguments = command(registry, request)
        self._process.setProgram(program)
        self._process.setArguments(arguments)
        self._process.readyReadStandardOutput.connect(self._on_process_ready_read_standard_output)
        self._process.readyReadStandardError.connect(self._on_process_ready_read_standard_error)
        self._process.finished.connect(self._on_process_finished)
        self._process.errorOccurred.connect(self._on_process_error_occurred)

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def active(self) -> bool:
        return self.state in ("running", "finishing")

    @property
    def fraction(self) -> float | None:
        """0..1 of the bytes, None before the plan is known."""
        if not self.events.total:
            return None
        return min(1.0, self.events.done / self.events.total)

    def start(self) -> None:
        self._process.start()

    def cancel(self) -> None:
        """Terminate the child (its partial files stay for a resume); the state becomes cancelled."""
        if self.state != "running" or self._cancelling:
            return
        self._cancelling = True
        self._process.terminate()
        QTimer.singleShot(_KILL_AFTER_MS, self._kill_if_running)

    def stop_now(self) -> None:
        """Terminate the child and wait for it (the editor is quitting)."""
        if self._process.state() == QProcess.ProcessState.NotRunning:
            return
        self._cancelling = True
        self._process.terminate()
        if not self._process.waitForFinished(_KILL_AFTER_MS):
            self._process.kill()
            self._process.waitForFinished(_KILL_AFTER_MS)

    def set_finished(self, entry: ModelEntry | None, error: str) -> None:
        """The service's verdict after finishing the pull."""
        self.entry = entry
        self._set_state("done" if entry is not None else "failed", error)

    def _set_state(self, state: DownloadState, error: str = "") -> None:
        self.state, self.error = state, error
        self.changed.emit()

    def _kill_if_running(self) -> None:
        if self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()

    def _read_lines(self, final: bool = False) -> None:
        self._stdout += bytes(self._process.readAllStandardOutput().data())
        *lines, self._stdout = self._stdout.split(b"\n")
        if final and self._stdout:
            lines, self._stdout = [*lines, self._stdout], b""
        fed = False
        for line in lines:
            fed = self.events.feed(line.decode("utf-8", errors="replace")) is not None or fed
        if fed and self.state == "running":
            self.changed.emit()

    @Slot()
    def _on_process_ready_read_standard_output(self) -> None:
        self._read_lines()

    @Slot()
    def _on_process_ready_read_standard_error(self) -> None:
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", errors="replace")
        self._stderr = (self._stderr + text)[-_STDERR_KEEP:]

    @Slot(int, QProcess.ExitStatus)
    def _on_process_finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._read_lines(final=True)
        self._on_process_ready_read_standard_error()
        if self.state != "running":
            return
        if self._cancelling:
            self._set_state("cancelled")
        elif self.events.error is not None:
            self._set_state("failed", one_line(self.events.error))
        elif self.events.finished:
            self._set_state("finishing")
            self.downloaded.emit()
        else:
            detail = [line for line in self._stderr.strip().splitlines() if line.strip()]
            last = detail[-1].strip() if detail else f"exit status {exit_code}"
            self._set_state("failed", f"the download of {self.request.repo_id} stopped: {last}")

    @Slot(QProcess.ProcessError)
    def _on_process_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.state == "running":
            self._set_state("failed", f"cannot start the download: {self._process.errorString()}")


# -- the service --------------------------------------------------------------------------------------------


class ModelsService(QObject):
    """The registry and everything done to it (see the module docstring). GUI thread only."""

    changed = Signal()  # a model was added, removed, renamed or pulled
    rows_ready = Signal(object)  # ModelRows of the latest scan
    scanning_changed = Signal(bool)
    download_changed = Signal(str)  # the name of a download whose progress or state changed
    failed = Signal(str)  # one line: an add, a deletion or a discard did not work

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        gpu_probe: GpuProbe | None = None,
        hf_cache: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`gpu_probe` defaults to `fit.detect_gpu`; `hf_cache` to huggingface_hub's cache folder."""
        super().__init__(parent)
        self.registry = registry or ModelRegistry()
        self._gpu_probe = gpu_probe
        self._hf_cache = hf_cache
        self.scan_folders: list[Path] = []
        self.rows: ModelRows | None = None  # the latest scan
        self.downloads: dict[str, ModelDownload] = {}
        self._thread: _ModelsThread | None = None  # started on the first job
        self._stopped = False
        self._serial = 0
        self._callbacks: dict[int, Callable[[object, str], None]] = {}
        self._scanning = False
        self._scan_again = False
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- jobs --

    def _submit(self, job: Job, then: Callable[[object, str], None], droppable: bool = False) -> None:
        if self._stopped:
            return
        if self._thread is None:
            self._thread = _ModelsThread()
            self._thread.done.connect(self._on_thread_done, Qt.ConnectionType.QueuedConnection)
            self._thread.start(QThread.Priority.LowPriority)
        self._serial += 1
        self._callbacks[self._serial] = then
        self._thread.submit(self._serial, job, droppable)

    @Slot(int, object, str)
    def _on_thread_done(self, serial: int, result: object, error: str) -> None:
        then = self._callbacks.pop(serial, None)
        if then is not None:
            then(result, error)

    @property
    def busy(self) -> bool:
        """A job is queued or running (tests wait for this to settle)."""
        return bool(self._callbacks)

    # -- rows --

    @property
    def scanning(self) -> bool:
        return self._scanning

    def refresh(self) -> None:
        """Build the rows again on the worker; `rows_ready` follows. A refresh asked for during a scan runs
        once that scan is done."""
        if self._stopped:
            return
        if self._scanning:
            self._scan_again = True
            return
        self._scanning = True
        self._scan_again = False
        self.scanning_changed.emit(True)
        registry, folders, cache = self.registry, list(self.scan_folders), self._hf_cache
        probe = self._gpu_probe or fit.detect_gpu  # looked up now: tests replace fit.detect_gpu
        self._submit(lambda: build_rows(registry, probe, folders, cache), self._on_rows, droppable=True)

    def _on_rows(self, rows: object, error: str) -> None:
        self._scanning = False
        if isinstance(rows, ModelRows):
            self.rows = rows
        elif error:
            self.failed.emit(error)
        if self._scan_again:
            self.refresh()  # stays scanning
        else:
            self.scanning_changed.emit(False)
        if isinstance(rows, ModelRows):
            self.rows_ready.emit(rows)

    # -- changing the registry --

    def _changed(self) -> None:
        self.changed.emit()
        self.refresh()

    def rename(self, name: str, new_name: str) -> ModelEntry:
        """Rename a registered model (InputError: a bad or taken name). Quick: the registry file only."""
        entry = self.registry.rename(name, new_name)
        self._changed()
        return entry

    def can_delete_files(self, path: Path) -> bool:
        """Whether removing the model at `path` may also delete its folder: only folders inside the models
        folder (what pulls made) are ever deleted, never a folder the user added from elsewhere."""
        return is_inside(path, self.registry.models_dir)

    def remove(self, name: str, delete_files: bool = False) -> ModelEntry:
        """Forget a model; with `delete_files`, delete its folder on the worker when `can_delete_files`
        allows (InputError when it does not, before anything changes)."""
        entry = self.registry.find(name)
        if entry is None:
            raise InputError(f"no model named {name!r}")
        if delete_files and not self.can_delete_files(entry.path):
            raise InputError(f"{entry.path}: not inside {self.registry.models_dir}; its files are kept")
        removed = self.registry.remove(name)
        self.changed.emit()
        if delete_files:
            path = removed.path
            self._submit(lambda: shutil.rmtree(path), self._on_files_deleted)
        else:
            self.refresh()
        return removed

    def _on_files_deleted(self, _result: object, error: str) -> None:
        if error:
            self.failed.emit(f"the model was removed but its files were not all deleted: {error}")
        self.refresh()

    def add(self, name: str, path: Path) -> None:
        """Validate the folder and register it, on the worker (validation imports diffusers); `changed`
        follows, or `failed` with the one-line reason."""
        registry = self.registry
        self._submit(lambda: registry.add(name, path), self._on_added)

    def _on_added(self, entry: object, error: str) -> None:
        if error:
            self.failed.emit(error)
        else:
            self._changed()

    # -- downloads --

    def start_pull(
        self, repo_id: str, name: str | None = None, revision: str | None = None, variant: str | None = None
    ) -> ModelDownload:
        """Start downloading `repo_id` as `name` (resuming what a stopped pull of that name left);
        InputError for a bad id, a taken name or a download of that name already running."""
        if self._stopped:
            raise InputError("the editor is closing")
        request = make_request(self.registry, repo_id, name, revision, variant)
        running = self.downloads.get(request.name)
        if running is not None and running.active:
            raise InputError(f"{request.name} is already downloading")
        download = ModelDownload(self.registry, request, self)
        download.changed.connect(lambda: self._on_download_changed(download))
        download.downloaded.connect(lambda: self._finish(download))
        self.downloads[request.name] = download
        download.start()
        self.download_changed.emit(request.name)
        return download

    def cancel_pull(self, name: str) -> None:
        download = self.downloads.get(name)
        if download is not None:
            download.cancel()

    def discard_partial(self, name: str) -> None:
        """Delete what a stopped pull of `name` left (worker), and forget the stopped download."""
        from app.engine.models.pull import discard_partial

        download = self.downloads.get(name)
        if download is not None and download.active:
            raise InputError(f"{name} is downloading: cancel it first")
        self.downloads.pop(name, None)
        registry = self.registry
        self._submit(lambda: discard_partial(registry, name), self._on_partial_discarded)
        self.download_changed.emit(name)

    def _on_partial_discarded(self, _result: object, error: str) -> None:
        if error:
            self.failed.emit(error)
        self.refresh()

    def _on_download_changed(self, download: ModelDownload) -> None:
        if self.downloads.get(download.name) is not download:
            return  # replaced by a newer pull of that name
        self.download_changed.emit(download.name)
        if download.state in ("cancelled", "failed"):
            self.refresh()  # the row's partial bytes changed

    def _finish(self, download: ModelDownload) -> None:
        from app.engine.models.pull import finish_pull

        registry, request = self.registry, download.request
        self._submit(
            lambda: finish_pull(registry, request),
            lambda entry, error: self._on_pull_finished(download, entry, error),
        )

    def _on_pull_finished(self, download: ModelDownload, entry: object, error: str) -> None:
        download.set_finished(entry if isinstance(entry, ModelEntry) else None, error)
        if download.state == "done":
            if self.downloads.get(download.name) is download:
                del self.downloads[download.name]
            self.download_changed.emit(download.name)
            self._changed()

    # -- closing --

    def shutdown(self) -> None:
        """Terminate running downloads (their partial files stay) and join the worker; safe to call twice."""
        self._stopped = True
        for download in self.downloads.values():
            download.stop_now()
        if self._thread is not None:
            self._thread.stop()
            self._thread.wait()
            self._thread = None
