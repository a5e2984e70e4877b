"""File ▸ Export…: where to write the film, in which format, size and quality, which stretch, draft or final.

The dialog starts from the export settings the project remembers (`Project.export`) and hands back the
chosen ones (`options()`, `output()`); the main window remembers them in the document and queues the
export. An export that cannot be written (no file name, a folder that does not exist, a name that does not
fit the format) is refused here: Export is disabled and the line under it says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from app.engine.render import export_target
from app.model import ExportOptions, ExportRange, Project
from app.model.timebase import timecode
from app.ui.document import DocumentController
from app.ui.files import save_file_name

#: (format, name shown, file suffix: "" for the PNG folder).
FORMATS = (
    ("h264", "H.264 MP4", ".mp4"),
    ("h265", "H.265 MP4", ".mp4"),
    ("prores", "ProRes MOV", ".mov"),
    ("png", "PNG sequence", ""),
)
#: Output heights offered (pixels); None: the project size (a draft: the preview size).
HEIGHTS = (None, 2160, 1080, 720, 540, 360)
#: Quality names and the H.264/H.265 CRF each stands for (lower is better and bigger).
QUALITIES = (("Best", 14), ("High", 18), ("Good", 23), ("Small file", 28))
_SUFFIXES = {suffix for _, _, suffix in FORMATS if suffix}
NO_IN_OUT_TIP = "Mark an in point (I) and an out point (O) on the timeline first"
#: The file field is at least this many characters wide, so a usual path shows whole.
OUTPUT_CHARACTERS = 60


def output_problem(output: Path | None, fmt: str) -> str | None:
    """Why an export in format `fmt` cannot be written to `output` (one line), or None when it can."""
    if output is None:
        return "Choose a file to export to"
    if not output.parent.is_dir():
        return f"The folder {output.parent} does not exist"
    name, suffix = next((name, suffix) for key, name, suffix in FORMATS if key == fmt)
    if not suffix:
        if output.suffix.lower() in _SUFFIXES:
            return f"{name}s are written to a folder: drop {output.suffix} from the name"
        return None
    if output.suffix.lower() != suffix:
        return f"{name} exports are {suffix} files"
    if output.is_dir():
        return f"{output} is a folder, not a {suffix} file"
    return None


def _with_suffix(text: str, suffix: str) -> str:
    """`text` with its export suffix (if any) replaced by `suffix`."""
    path = Path(text)
    if path.suffix.lower() in _SUFFIXES:
        path = path.with_suffix("")
    return f"{path}{suffix}" if text else text


class ExportDialog(QDialog):
    def __init__(self, document: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._project: Project = document.project
        self._project_dir = document.project_dir.resolve()
        remembered = self._project.export
        stem = document.path.stem if document.path else "Untitled"

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("File to export to")
        self.output_edit.setMinimumWidth(
            self.output_edit.fontMetrics().horizontalAdvance("x" * OUTPUT_CHARACTERS)
        )
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.format_combo = QComboBox()
        for key, name, _ in FORMATS:
            self.format_combo.addItem(name, key)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(remembered.format)))
        self.resolution_combo = QComboBox()
        for height in HEIGHTS:
            self.resolution_combo.addItem("", height)
        self.resolution_combo.setCurrentIndex(max(0, self.resolution_combo.findData(remembered.height)))
        self.quality_combo = QComboBox()
        for name, crf in QUALITIES:
            self.quality_combo.addItem(name, crf)
        if self.quality_combo.findData(remembered.crf) < 0:  # set outside this dialog
            self.quality_combo.addItem(f"Custom (CRF {remembered.crf})", remembered.crf)
        self.quality_combo.setCurrentIndex(self.quality_combo.findData(remembered.crf))
        crfs = ", ".join(f"{name} {crf}" for name, crf in QUALITIES)
        self.quality_combo.setToolTip(f"H.264/H.265 quality as CRF: {crfs} (lower is better and bigger)")

        marked = self._project.in_out.clipped(self._project.duration_frames) if self._project.in_out else None
        fps = self._project.settings.fps
        self.whole_radio = QRadioButton(f"Whole film ({timecode(self._project.duration_frames, fps)})")
        self.in_out_radio = QRadioButton(
            f"In to out ({timecode(marked.length, fps)})" if marked is not None else "In to out"
        )
        self.in_out_radio.setEnabled(marked is not None)
        if marked is None:
            self.in_out_radio.setToolTip(NO_IN_OUT_TIP)
        in_out = marked is not None and remembered.range is ExportRange.in_out
        (self.in_out_radio if in_out else self.whole_radio).setChecked(True)
        self.final_radio = QRadioButton("Final (full quality)")
        self.draft_radio = QRadioButton("Draft (fast)")
        (self.draft_radio if remembered.draft else self.final_radio).setChecked(True)

        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.reason_label = QLabel()
        self.reason_label.setObjectName("hint")
        self.reason_label.setWordWrap(True)
        buttons = QDialogButtonBox()
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        form = QFormLayout(self)
        form.addRow("File", self._row(self.output_edit, self.browse_button))
        form.addRow("Format", self.format_combo)
        form.addRow("Resolution", self.resolution_combo)
        form.addRow("Quality", self.quality_combo)
        form.addRow("Range", self._row(*self._group(self.whole_radio, self.in_out_radio)))
        form.addRow("Render", self._row(*self._group(self.final_radio, self.draft_radio)))
        form.addRow(buttons)
        form.addRow(self.reason_label)

        suffix = FORMATS[self.format_combo.currentIndex()][2]
        output = self._resolved(remembered.output) if remembered.output else self._project_dir / stem
        self.output_edit.setText(_with_suffix(str(output), suffix))  # the cursor ends up after the file name
        self.output_edit.textChanged.connect(self._update_export_allowed)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.draft_radio.toggled.connect(self._update_resolutions)
        self._update_resolutions()
        self._on_format_changed()

    def _row(self, *widgets: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
        layout.addStretch(0)
        return row

    def _group(self, *radios: QRadioButton) -> tuple[QRadioButton, ...]:
        group = QButtonGroup(self)
        for radio in radios:
            group.addButton(radio)
        return radios

    # -- what was chosen -----------------------------------------------------------------------------------

    @property
    def format(self) -> str:
        return str(self.format_combo.currentData())

    def output(self) -> Path | None:
        """The file (or PNG folder) to write, relative names taken from the project folder; None: no name."""
        text = self.output_edit.text().strip()
        return self._resolved(text) if text else None

    def options(self) -> ExportOptions:
        """The chosen settings, the output stored relative to the project folder when it lies inside it."""
        output = self.output()
        stored: str | None = None
        if output is not None:
            inside = output.is_relative_to(self._project_dir)
            stored = output.relative_to(self._project_dir).as_posix() if inside else str(output)
        return ExportOptions(
            format=self.format,
            height=self.resolution_combo.currentData(),
            crf=self.quality_combo.currentData(),
            range=ExportRange.in_out if self.in_out_radio.isChecked() else ExportRange.whole,
            draft=self.draft_radio.isChecked(),
            output=stored,
        )

    def _resolved(self, text: str) -> Path:
        return (self._project_dir / Path(text).expanduser()).resolve()

    # -- keeping the form consistent -----------------------------------------------------------------------

    @Slot()
    def _on_format_changed(self) -> None:
        suffix = FORMATS[self.format_combo.currentIndex()][2]
        self.output_edit.setText(_with_suffix(self.output_edit.text().strip(), suffix))
        self.quality_combo.setEnabled(self.format in ("h264", "h265"))
        self._update_export_allowed()

    @Slot()
    def _update_resolutions(self) -> None:
        draft = self.draft_radio.isChecked()
        for index, height in enumerate(HEIGHTS):
            target = export_target(self._project, draft, height)
            size = f"{target.width}×{target.height}"
            name = ("Preview size" if draft else "Project size") if height is None else f"{height}p"
            self.resolution_combo.setItemText(index, f"{name} ({size})")

    @Slot()
    def _update_export_allowed(self) -> None:
        problem = output_problem(self.output(), self.format)
        self.export_button.setEnabled(problem is None)
        self.reason_label.setText(problem or "")
        self.reason_label.setVisible(problem is not None)

    @Slot()
    def _on_browse_clicked(self) -> None:
        _, name, suffix = FORMATS[self.format_combo.currentIndex()]
        pattern = f"{name} (*{suffix})" if suffix else f"{name} (folder)"
        start = str(self.output() or self._project_dir)
        chosen, _ = save_file_name(self, "Export", start, pattern)
        if chosen:
            self.output_edit.setText(_with_suffix(chosen, suffix))
