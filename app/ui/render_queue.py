"""The render queue: final exports run one at a time on their own thread, with progress, cancel and open."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.cache import StageCache
from app.engine.cancel import CancelToken
from app.errors import Cancelled, StorybeatError
from app.model import ExportOptions, Project
from app.model.range_commands import export_frames


@dataclass
class ExportJob:
    """A frozen request: the project as it was when the user asked, where to write it and how.

    `options` gives the range (whole film or the project's in/out points), height, quality and draft; the
    format and the file are `fmt` and `output`.
    """

    project: Project
    project_dir: Path
    output: Path
    cache: StageCache
    fmt: str | None = None
    options: ExportOptions = field(default_factory=ExportOptions)
    cancel: CancelToken = field(default_factory=CancelToken)


class ExportThread(QThread):
    progress = Signal(int, int)
    succeeded = Signal(str)
    failed = Signal(str)

    def __init__(self, job: ExportJob, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.warnings: list[str] = []  # acts a generative model could not render (read after `succeeded`)

    def run(self) -> None:
        from app.engine.render import render_project  # heavy: keep it off the startup path

        job = self.job
        try:
            written = render_project(
                job.project,
                job.project_dir,
                job.output,
                draft=job.options.draft,
                fmt=job.fmt,
                frames=export_frames(job.project, job.options),
                height=job.options.height,
                crf=job.options.crf,
                cache=job.cache,
                progress=self.progress.emit,
                cancel=job.cancel,
                warn=self.warnings.append,
            )
        except Cancelled:
            self.failed.emit("cancelled")
        except StorybeatError as error:
            self.failed.emit(str(error))
        except Exception as error:  # a bug must not take the editor down with it
            self.failed.emit(f"unexpected error: {error!r}")
        else:
            self.succeeded.emit(str(written))


class _JobRow(QWidget):
    def __init__(self, job: ExportJob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.label = QLabel(job.output.name)
        self.label.setToolTip(str(job.output))
        self.state = QLabel("waiting")
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._on_open_clicked)
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.state)
        bottom = QHBoxLayout()
        bottom.addWidget(self.bar, 1)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(bottom)

    def _on_cancel_clicked(self) -> None:
        self.job.cancel.cancel()
        self.state.setText("cancelling…")

    def _on_open_clicked(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.job.output)))

    def set_progress(self, done: int, total: int) -> None:
        self.state.setText("rendering")
        self.bar.setValue(round(100 * done / max(total, 1)))

    def set_finished(self, ok: bool, text: str, warnings: list[str] | None = None) -> None:
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(ok)
        if ok and warnings:
            fell_back = f"{len(warnings)} act{'s' if len(warnings) > 1 else ''} by the built-in backend"
            self.state.setText(f"done — {fell_back}")
            self.state.setToolTip("\n".join([text, *warnings]))
        else:
            self.state.setText("done" if ok else text)
            self.state.setToolTip(text)
        if ok:
            self.bar.setValue(100)


class RenderQueuePanel(QWidget):
    """Lists exports; runs them one after another on an ExportThread."""

    job_finished = Signal(bool, str)  # ok, output path or error message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._list = QListWidget()
        self._list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._list)
        self._pending: list[_JobRow] = []
        self._thread: ExportThread | None = None
        self._row: _JobRow | None = None

    def add(self, job: ExportJob) -> None:
        row = _JobRow(job)
        item = QListWidgetItem(self._list)
        item.setSizeHint(row.sizeHint())
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
        self._list.addItem(item)
        self._list.setItemWidget(item, row)
        self._pending.append(row)
        self._start_next()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def _start_next(self) -> None:
        if self._thread is not None or not self._pending:
            return
        row = self._pending.pop(0)
        if row.job.cancel.cancelled:
            row.set_finished(False, "cancelled")
            self._start_next()
            return
        thread = ExportThread(row.job, self)
        thread.progress.connect(row.set_progress)
        thread.succeeded.connect(self._on_thread_succeeded)
        thread.failed.connect(self._on_thread_failed)
        self._thread, self._row = thread, row
        thread.start()

    def _on_thread_succeeded(self, output: str) -> None:
        self._finish(True, output)

    def _on_thread_failed(self, message: str) -> None:
        self._finish(False, message)

    def _finish(self, ok: bool, text: str) -> None:
        assert self._thread is not None and self._row is not None
        self._thread.wait()
        self._row.set_finished(ok, text, self._thread.warnings)
        self._thread.deleteLater()
        self._thread, self._row = None, None
        self.job_finished.emit(ok, text)
        self._start_next()

    def shutdown(self) -> None:
        """Cancel everything and join the export thread (the app is closing)."""
        for row in self._pending:
            row.job.cancel.cancel()
        self._pending.clear()
        if self._thread is not None:
            self._thread.job.cancel.cancel()
            self._thread.wait()
