"""The QC panel: quality checks of the drafts, their findings with jump-to and one-click repairs.

The checks run in `QCService` (app.ui.qc_service) on the drafts the DraftService already rendered (a run
waits until every act's draft is ready). The panel asks for a run on "Run checks" (Edit ▸ Check Quality)
and by itself a few seconds after the document stopped changing once every draft is ready.

A result belongs to the document revision it was computed for. It is shown "out of date" once the film
differs from the one checked (`film_signature`: ratings and notes change the revision, not the film) and
its repairs are disabled then: their values were computed for the film as it was. Each repair's command
runs through the document, one undo step.

A repair is then checked: the panel runs the checks again once the repaired drafts are ready and shows, at
the top of the list, what the repair achieved — its finding's measure before and after
(app.engine.qc.outcome: "flicker 1.5 % → 0.3 %: fixed"), or "did not help: undo?" with an Undo button
(enabled while the repair is the last edit). The line stays while the repair is in effect (undoing it
removes the line), for the last MAX_OUTCOMES repairs.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.engine.clip import StoredClip
from app.engine.qc import QCReport
from app.engine.qc.outcome import RepairOutcome, repair_outcome
from app.engine.qc.repairs import Repair
from app.engine.qc.types import CheckKind, Finding, Severity
from app.engine.worker import ActState, DraftService
from app.model.commands import Changes, Command
from app.model.timebase import seconds_to_frames
from app.ui.document import DocumentController
from app.ui.qc_service import QCResult, QCService, film_signature

_log = logging.getLogger(__name__)

#: How long the document must stay unchanged, with every draft ready, before checks run by themselves.
AUTO_DELAY_MS = 3000
#: How often a wanted run looks again whether the drafts are ready.
RETRY_MS = 250
SEVERITY_COLORS = {Severity.fail: "#f0484f", Severity.warn: "#f0a030"}
#: Repairs whose outcome the panel keeps showing (the most recent ones).
MAX_OUTCOMES = 5
#: Shown on a repair's line until the checks have run on its drafts.
RECHECKING = "Re-checking the repaired drafts…"

_KIND_TITLES = {
    CheckKind.flicker: "Flicker",
    CheckKind.lighting_jump: "Lighting jump",
    CheckKind.off_beat_motion: "Off the beat",
    CheckKind.texture_artifacts: "Texture shimmer",
    CheckKind.reference_overfit: "Reference overfit",
}
_STYLE = """
FindingRow { border: 1px solid #2b2d31; border-radius: 4px; }
FindingRow[selected="true"] { border-color: #f2c14e; }
RepairOutcomeRow { border: 1px solid #3d6fb6; border-radius: 4px; }
QLabel#qcState[stale="true"] { color: #f0a030; }
"""


class FindingRow(QFrame):
    """One finding: severity, kind, act, time range and message, and its repairs as buttons. A click on
    the row asks to go there; the panel does it."""

    activated = Signal(int)  # finding index
    repair_requested = Signal(int, int)  # finding index, repair index

    def __init__(
        self,
        index: int,
        finding: Finding,
        act_name: str,
        repairs: Sequence[Repair],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.index = index
        self.finding = finding
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to move the playhead here and select the act")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        color = SEVERITY_COLORS[finding.severity]
        where = f"'{act_name}'" if act_name else "the film"
        self.heading = QLabel(
            f"<span style='color:{color}'>● {str(finding.severity).upper()}</span>&nbsp; "
            f"{_KIND_TITLES[finding.kind]} · {where} · {finding.start:.2f}–{finding.end:.2f} s"
        )
        self.message = QLabel(finding.message)
        self.message.setWordWrap(True)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        self.repair_buttons: list[QPushButton] = []
        for number, repair in enumerate(repairs):  # one per line: the dock is narrow, the labels are not
            button = QPushButton(repair.label)
            button.setToolTip(repair.description)
            button.clicked.connect(partial(self.repair_requested.emit, index, number))
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
            self.repair_buttons.append(button)

    def set_current(self, current: bool) -> None:
        """Repairs hold values computed for the film that was checked: offer them only while it is current."""
        for button in self.repair_buttons:
            button.setEnabled(current)

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", selected)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.activated.emit(self.index)
        super().mousePressEvent(event)


@dataclass
class AppliedRepair:
    """A repair run from the panel: the finding it was for, the report that found it, the command executed
    (to know whether it is still in effect) and, once the checks ran again, what it achieved."""

    label: str
    finding: Finding
    report: QCReport | None
    command: Command
    revision: int  # the document's revision once it ran: results of it or later see it while in effect
    outcome: RepairOutcome | None = None


class RepairOutcomeRow(QFrame):
    """What a repair achieved: its label, then the finding's measure before → after (or that the check is
    still running), and an Undo button when it did not help."""

    undo_requested = Signal(object)  # the AppliedRepair

    def __init__(self, applied: AppliedRepair, latest: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.applied = applied
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        outcome = applied.outcome
        mark = "…" if outcome is None else "✓" if outcome.helped else "✗"
        self.heading = QLabel(f"{mark} Repaired: {applied.label}")
        self.result = QLabel(RECHECKING if outcome is None else outcome.summary())
        self.result.setWordWrap(True)
        layout.addWidget(self.heading)
        layout.addWidget(self.result)
        self.undo_button: QPushButton | None = None
        if outcome is not None and not outcome.helped:
            self.undo_button = QPushButton("Undo")
            self.undo_button.setEnabled(latest)
            self.undo_button.setToolTip(
                "Undo this repair" if latest else "Other edits came after this repair: undo them first"
            )
            self.undo_button.clicked.connect(lambda: self.undo_requested.emit(applied))
            layout.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignLeft)

    def text(self) -> str:
        """The line as the user reads it: "<repair>: <before → after…>"."""
        return f"{self.applied.label}: {self.result.text()}"


class QCPanel(QWidget):
    """The findings of the latest quality checks of the document's drafts (see the module docstring)."""

    #: The findings or whether they are current changed: read `act_findings()` and `is_current`.
    findings_changed = Signal()

    def __init__(
        self, document: DocumentController, drafts: DraftService, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self.service = QCService(self)
        self.result: QCResult | None = None
        self.is_current = True  # the result's film is the document's film
        self._wanted = False  # "Run checks" waits for drafts
        self._waiting = ""  # why a wanted run has not started
        self._requested = ""  # film signature of the run in flight
        self._signature: tuple[int, int, str] | None = None  # (project id, revision, signature) memo
        self._rows: list[FindingRow] = []
        self._outcome_rows: list[RepairOutcomeRow] = []
        self._applied: list[AppliedRepair] = []  # the repairs run here that are in effect, oldest first
        self._selected: int | None = None
        self.auto_timer = QTimer(self)
        self.auto_timer.setSingleShot(True)
        self.auto_timer.setInterval(AUTO_DELAY_MS)
        self.auto_timer.timeout.connect(self._on_auto_timer_timeout)
        self._retry_timer = QTimer(self)  # while a wanted run waits for the drafts
        self._retry_timer.setSingleShot(True)
        self._retry_timer.setInterval(RETRY_MS)
        self._retry_timer.timeout.connect(self._on_retry_timer_timeout)
        self._build()
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        drafts.act_status_changed.connect(self._on_drafts_act_status_changed)
        self.service.progress.connect(self._on_service_progress)
        self.service.finished.connect(self._on_service_finished)
        self._show_result()
        self.auto_timer.start()

    def _build(self) -> None:
        self.setStyleSheet(_STYLE)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        controls = QHBoxLayout()
        self.run_button = QPushButton("Run checks")
        self.run_button.setToolTip(
            "Check the drafts: flicker, lighting jumps, off-beat cuts, shimmer, overfit"
        )
        self.run_button.clicked.connect(self.run_checks)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        controls.addWidget(self.run_button)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.cancel_button)
        outer.addLayout(controls)
        self.state = QLabel()
        self.state.setObjectName("qcState")
        self.state.setWordWrap(True)
        self.summary = QLabel()
        self.metrics = QLabel()
        self.metrics.setWordWrap(True)
        for label in (self.state, self.summary, self.metrics):
            outer.addWidget(label)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # messages wrap instead
        host = QWidget()
        self._list = QVBoxLayout(host)
        self._list.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll.setWidget(host)
        outer.addWidget(scroll, 1)

    # -- public API ----------------------------------------------------------------------------------------

    def rows(self) -> list[FindingRow]:
        """The findings on screen, in the report's order."""
        return list(self._rows)

    def outcome_rows(self) -> list[RepairOutcomeRow]:
        """The repairs' lines on screen, the latest first."""
        return list(self._outcome_rows)

    def act_findings(self) -> dict[str, list[Finding]]:
        """The latest result's findings by act id (findings on no act are left out)."""
        findings: dict[str, list[Finding]] = {}
        report = self.result.report if self.result is not None else None
        for finding in report.findings if report is not None else []:
            if finding.act is not None:
                findings.setdefault(finding.act, []).append(finding)
        return findings

    @Slot()
    def run_checks(self) -> None:
        """Check the film now, or as soon as every act's draft is ready (cancels a run in progress)."""
        self._wanted = True
        self._start_if_ready()

    @Slot()
    def cancel(self) -> None:
        """Cancel the run in progress, or the run waiting for drafts."""
        self._wanted = False
        self._retry_timer.stop()
        self.service.cancel()
        self._show_state()

    def shutdown(self) -> None:
        """Stop the automatic runs, cancel a run and join the QC thread; safe to call twice."""
        self.auto_timer.stop()
        self._retry_timer.stop()
        self._wanted = False
        self.service.shutdown()

    # -- running -------------------------------------------------------------------------------------------

    def _film_signature(self) -> str:
        project, revision = self._document.project, self._document.history.revision
        if self._signature is None or self._signature[:2] != (id(project), revision):
            self._signature = (id(project), revision, film_signature(project))
        return self._signature[2]

    def _ready_drafts(self) -> list[StoredClip] | str:
        """Every act's draft proxy of its current state, in act order, or why they are not all there.

        Statuses describe the latest document only once the draft worker has taken it in: until it is
        idle, a "ready" may still be the previous state's (an edit made a moment ago)."""
        project = self._document.project
        if not project.acts:
            return "Nothing to check: the project has no acts"
        clips: list[StoredClip] = []
        for act in project.acts:
            status = self._drafts.status(act.id)
            clip = self._drafts.act_draft(act.id)
            if status.state == ActState.failed:
                return f"Waiting for drafts: act '{act.name}' failed ({status.message})"
            if status.state == ActState.ready and clip is not None:
                clips.append(clip)
        if len(clips) < len(project.acts):
            return f"Waiting for drafts: {len(clips)} of {len(project.acts)} ready"
        if not self._drafts.wait_idle(0.0):  # a zero timeout only looks: it never blocks
            return "Waiting for the draft worker to finish"
        return clips

    def _start_if_ready(self) -> None:
        """Send a run when every draft is ready; else remember why not (shown while a run is wanted)."""
        drafts = self._ready_drafts()
        if isinstance(drafts, str):
            self._waiting = drafts
            self._retry_timer.start()
        else:
            self._wanted, self._waiting = False, ""
            self._requested = self._film_signature()
            document = self._document
            revision = document.history.revision
            self.service.request(
                document.project, document.project_dir, revision, self._requested, drafts, self._drafts.cache
            )
        self._show_state()

    # -- showing -------------------------------------------------------------------------------------------

    def _show_outcomes(self) -> None:
        """The applied repairs' lines at the top of the list, the latest first."""
        for row in self._outcome_rows:
            self._list.removeWidget(row)
            row.deleteLater()
        self._outcome_rows = []
        history = self._document.history
        for position, applied in enumerate(reversed(self._applied)):
            row = RepairOutcomeRow(applied, history.is_latest(applied.command))
            row.undo_requested.connect(self._on_outcome_undo_requested)
            self._list.insertWidget(position, row)
            self._outcome_rows.append(row)

    def _take_outcomes(self, result: QCResult) -> None:
        """Measure each applied repair still waiting for its check again in `result`, when that result is of
        the film with the repair in effect."""
        report = result.report
        if report is None:
            return
        for applied in self._applied:
            if applied.outcome is None and result.revision >= applied.revision:
                applied.outcome = repair_outcome(applied.finding, applied.report, report)

    def _show_result(self) -> None:
        for row in self._rows:
            self._list.removeWidget(row)
            row.deleteLater()
        self._rows, self._selected = [], None
        self._show_outcomes()
        result = self.result
        report = result.report if result is not None else None
        if result is None or report is None:
            self.summary.setText("Not checked yet" if result is None else "")
            self.metrics.setText("")
        else:
            names = {act.id: act.name for act in result.project.acts}
            for index, finding in enumerate(report.findings):
                row = FindingRow(index, finding, names.get(finding.act or "", ""), result.repairs[index])
                row.activated.connect(self._on_row_activated)
                row.repair_requested.connect(self._on_row_repair_requested)
                self._list.addWidget(row)
                self._rows.append(row)
            fails = sum(1 for finding in report.findings if finding.severity == Severity.fail)
            warns = len(report.findings) - fails
            self.summary.setText(f"{fails} fail · {warns} warn · {'OK' if report.ok else 'not OK'}")
            self.metrics.setText(_metrics_line(report.metrics))
        self._update_current()
        self.findings_changed.emit()

    def _update_current(self) -> None:
        current = self.result is None or self.result.signature == self._film_signature()
        changed = current != self.is_current
        self.is_current = current
        for row in self._rows:
            row.set_current(current)
        self._show_state()
        if changed:
            self.findings_changed.emit()

    @Slot()
    def _show_state(self) -> None:
        busy = self.service.busy
        self.progress.setVisible(busy)
        self.cancel_button.setEnabled(busy or self._wanted)
        result = self.result
        if busy:
            text = "Checking the drafts…"
        elif self._wanted:
            text = self._waiting
        elif result is not None and result.error:
            text = f"The checks failed: {result.error}"
        elif not self.is_current:
            text = "Out of date: the film changed since these checks (run them again)"
        else:
            text = ""
        self.state.setText(text)
        self.state.setVisible(bool(text))
        self.state.setProperty("stale", not self.is_current)
        self.state.style().polish(self.state)

    # -- slots ---------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        history = self._document.history
        self._applied = [applied for applied in self._applied if history.is_applied(applied.command)]
        self._show_outcomes()  # a repair undone goes; the Undo buttons follow the last edit
        self._update_current()
        self.auto_timer.start()

    @Slot()
    def _on_document_replaced(self) -> None:
        self.service.cancel()
        self._retry_timer.stop()
        self.result, self._wanted, self._waiting, self._requested = None, False, "", ""
        self._applied = []
        self._show_result()
        self.auto_timer.start()

    @Slot(str)
    def _on_drafts_act_status_changed(self, act_id: str) -> None:
        self.auto_timer.start()  # "a few seconds after the drafts are ready"

    @Slot()
    def _on_retry_timer_timeout(self) -> None:
        if self._wanted:
            self._start_if_ready()

    @Slot()
    def _on_auto_timer_timeout(self) -> None:
        signature = self._film_signature()
        checked = self.result.signature if self.result is not None else None
        if signature != checked and not (self.service.busy and signature == self._requested):
            self.run_checks()

    @Slot(float)
    def _on_service_progress(self, fraction: float) -> None:
        self.progress.setValue(round(100 * fraction))

    @Slot(object)
    def _on_service_finished(self, result: QCResult) -> None:
        self.result = result
        self._take_outcomes(result)
        self._show_result()

    @Slot(int)
    def _on_row_activated(self, index: int) -> None:
        """Go to the finding: the playhead to its start, its act selected."""
        if self._selected is not None and self._selected < len(self._rows):
            self._rows[self._selected].set_selected(False)
        self._selected = index
        row = self._rows[index]
        row.set_selected(True)
        project = self._document.project
        self._document.set_playhead(seconds_to_frames(row.finding.start, project.settings.fps))
        if row.finding.act is not None and any(act.id == row.finding.act for act in project.acts):
            self._document.set_selection([row.finding.act])

    @Slot(int, int)
    def _on_row_repair_requested(self, index: int, number: int) -> None:
        result = self.result
        if result is None or result.report is None or not self.is_current:
            return
        repair = result.repairs[index][number]
        # A fresh copy each time: a command keeps what it replaced, and the same repair may run again after
        # an undo.
        command = copy.deepcopy(repair.command)
        if not self._document.execute(command):
            return
        finding, revision = result.report.findings[index], self._document.history.revision
        applied = AppliedRepair(repair.label, finding, result.report, command, revision)
        self._applied = [*self._applied, applied][-MAX_OUTCOMES:]
        self._show_outcomes()
        self.run_checks()  # as soon as the repaired drafts are ready: what did it achieve?

    @Slot(object)
    def _on_outcome_undo_requested(self, applied: AppliedRepair) -> None:
        if self._document.history.is_latest(applied.command):
            self._document.undo()


def _metrics_line(metrics: Mapping[str, object]) -> str:
    """The key figures: VBench's temporal-flickering score (1 = steady) and the mean cut offset from beats."""
    flicker = metrics.get("vbench_temporal_flickering")
    offsets = metrics.get("cut_offsets")
    offset = offsets.get("mean_ms") if isinstance(offsets, dict) else None
    flicker_text = f"{flicker:.4f}" if isinstance(flicker, float) else "—"
    offset_text = f"{offset:.0f} ms" if isinstance(offset, float) else "—"
    return f"VBench temporal flickering {flicker_text} · mean cut offset from beats {offset_text}"
