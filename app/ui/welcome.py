"""The first-run welcome: what this machine can run, one model worth downloading first, and the demo.

Shown once, on the editor's first start (a QSettings flag), never in screenshot mode and never while
$STORYBEAT_NO_WELCOME is set (tests and CI set it). Nothing is downloaded from here: "Open Models…" only
opens the Models window. The GPU is asked for on the models service's worker (nvidia-smi can take seconds).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.engine.models.manager import recommend
from app.ui.models_service import ModelRows, ModelsService
from app.ui.models_window import format_gpu, format_size

#: QSettings key set once the welcome was shown.
WELCOME_SHOWN_KEY = "welcome/shown"
#: Set (to anything) to never show the welcome: tests, CI, scripted runs.
NO_WELCOME_ENV = "STORYBEAT_NO_WELCOME"
CPU_ADVICE = (
    "The built-in motion backend works on any CPU: open the demo project to see what it does. "
    "Generative models can be added later from Models…"
)


def should_welcome(settings: QSettings) -> bool:
    """Whether this start is the first (the flag is unset) and nothing asked for quiet."""
    if os.environ.get(NO_WELCOME_ENV):
        return False
    return not settings.value(WELCOME_SHOWN_KEY, False, type=bool)


def mark_welcomed(settings: QSettings) -> None:
    settings.setValue(WELCOME_SHOWN_KEY, True)
    settings.sync()


def advice(rows: ModelRows) -> str:
    """What to try first on this machine: a catalog model that fits its GPU, or the built-in backend."""
    if rows.gpu is None:
        return CPU_ADVICE
    best = recommend(rows.catalog)
    if best is None:
        return "No catalog image-to-video model fits this GPU's free memory. " + CPU_ADVICE
    gated = " (gated: the Hub asks you to accept its terms)" if best.gated else ""
    fit = f"{best.fit.badge}: {best.fit.detail}." if best.fit else ""
    return (
        f"Recommended first model: {best.title} — a {format_size(best.size_bytes)} download, "
        f"licence {best.license}{gated}. {fit} Nothing is downloaded until you click Download in Models…"
    )


class WelcomeDialog(QDialog):
    """Non-modal; each button closes it. The editor connects the two request signals."""

    open_demo_requested = Signal()
    open_models_requested = Signal()

    def __init__(self, service: ModelsService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Storybeat")
        self.setModal(False)
        self.setMinimumWidth(520)
        intro = QLabel(
            "Lay out a film as acts on a timeline over your music; Storybeat turns each act's pictures and "
            "prompt into moving pictures, with drafts while you edit and a full-quality render on export."
        )
        intro.setWordWrap(True)
        self.gpu_label = QLabel("Looking for an NVIDIA GPU…")
        font = self.gpu_label.font()
        font.setBold(True)
        self.gpu_label.setFont(font)
        self.gpu_label.setWordWrap(True)
        self.advice_label = QLabel()
        self.advice_label.setWordWrap(True)
        self.demo_button = QPushButton("Open the demo project")
        self.demo_button.clicked.connect(self._on_demo_button_clicked)
        self.models_button = QPushButton("Open Models…")
        self.models_button.clicked.connect(self._on_models_button_clicked)
        self.skip_button = QPushButton("Skip")
        self.skip_button.clicked.connect(self.reject)
        self.demo_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.demo_button, self.models_button, self.skip_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addWidget(self.gpu_label)
        layout.addWidget(self.advice_label)
        layout.addStretch(1)
        layout.addLayout(buttons)

        service.rows_ready.connect(self._on_service_rows_ready)
        if service.rows is not None:
            self._on_service_rows_ready(service.rows)
        else:
            service.refresh()

    @Slot(object)
    def _on_service_rows_ready(self, rows: ModelRows) -> None:
        self.gpu_label.setText(
            f"GPU: {format_gpu(rows.gpu)} of {rows.gpu.total_bytes / 1024**3:.1f} GB"
            if rows.gpu is not None
            else format_gpu(None)
        )
        self.advice_label.setText(advice(rows))

    @Slot()
    def _on_demo_button_clicked(self) -> None:
        self.accept()
        self.open_demo_requested.emit()

    @Slot()
    def _on_models_button_clicked(self) -> None:
        self.accept()
        self.open_models_requested.emit()
