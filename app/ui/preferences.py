"""User preferences (stored with QSettings) and the dialog that edits them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.engine.cache import DEFAULT_LIMIT_BYTES, default_cache_dir
from app.ui.files import existing_directory

_GB = 1024**3


@dataclass(frozen=True)
class Preferences:
    cache_dir: Path
    cache_limit_gb: int
    models_dir: Path
    draft_backend: str
    final_backend: str
    audio_device: str  # "" = the system default output

    @classmethod
    def defaults(cls) -> Preferences:
        return cls(
            cache_dir=default_cache_dir(),
            cache_limit_gb=DEFAULT_LIMIT_BYTES // _GB,
            models_dir=Path(platformdirs.user_data_dir("storybeat")) / "models",
            draft_backend="motion",
            final_backend="motion",
            audio_device="",
        )

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        base = cls.defaults()

        def text(key: str, default: str) -> str:
            value = settings.value(key, default)
            return value if isinstance(value, str) else default

        try:
            limit = int(str(settings.value("cache/limit_gb", base.cache_limit_gb)))
        except ValueError:
            limit = base.cache_limit_gb
        return cls(
            cache_dir=Path(text("cache/dir", str(base.cache_dir))),
            cache_limit_gb=max(1, limit),
            models_dir=Path(text("models/dir", str(base.models_dir))),
            draft_backend=text("backends/draft", base.draft_backend),
            final_backend=text("backends/final", base.final_backend),
            audio_device=text("audio/device", base.audio_device),
        )

    def save(self, settings: QSettings) -> None:
        settings.setValue("cache/dir", str(self.cache_dir))
        settings.setValue("cache/limit_gb", self.cache_limit_gb)
        settings.setValue("models/dir", str(self.models_dir))
        settings.setValue("backends/draft", self.draft_backend)
        settings.setValue("backends/final", self.final_backend)
        settings.setValue("audio/device", self.audio_device)


def _output_devices() -> list[str]:
    """Names of audio output devices; empty when PortAudio or devices are missing."""
    try:
        import sounddevice

        return [d["name"] for d in sounddevice.query_devices() if d.get("max_output_channels", 0) > 0]
    except Exception:  # no PortAudio library, no devices: the list is simply empty
        return []


class PreferencesDialog(QDialog):
    def __init__(self, preferences: Preferences, backends: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._initial = preferences
        self._cache_dir = QLineEdit(str(preferences.cache_dir))
        self._cache_limit = QSpinBox()
        self._cache_limit.setRange(1, 10_000)
        self._cache_limit.setSuffix(" GB")
        self._cache_limit.setValue(preferences.cache_limit_gb)
        self._models_dir = QLineEdit(str(preferences.models_dir))
        self._draft = QComboBox()
        self._final = QComboBox()
        for combo, value in (
            (self._draft, preferences.draft_backend),
            (self._final, preferences.final_backend),
        ):
            combo.addItems(backends)
            combo.setCurrentText(value)
        self._device = QComboBox()
        self._device.addItem("System default", "")
        for name in _output_devices():
            self._device.addItem(name, name)
        self._device.setCurrentIndex(max(0, self._device.findData(preferences.audio_device)))

        form = QFormLayout(self)
        form.addRow("Cache folder", self._with_browse(self._cache_dir))
        form.addRow("Cache size limit", self._cache_limit)
        form.addRow("Models folder", self._with_browse(self._models_dir))
        form.addRow("Default draft backend", self._draft)
        form.addRow("Default final backend", self._final)
        form.addRow("Audio output", self._device)
        note = QLabel("Cache and audio changes apply the next time Storybeat starts.")
        note.setObjectName("hint")
        form.addRow(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _with_browse(self, field: QLineEdit) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(field))
        layout.addWidget(button)
        return row

    def _browse(self, field: QLineEdit) -> None:
        folder = existing_directory(self, "Choose folder", field.text())
        if folder:
            field.setText(folder)

    def preferences(self) -> Preferences:
        return replace(
            self._initial,
            cache_dir=Path(self._cache_dir.text().strip() or self._initial.cache_dir),
            cache_limit_gb=self._cache_limit.value(),
            models_dir=Path(self._models_dir.text().strip() or self._initial.models_dir),
            draft_backend=self._draft.currentText(),
            final_backend=self._final.currentText(),
            audio_device=str(self._device.currentData() or ""),
        )
