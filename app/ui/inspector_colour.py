"""The inspector's colour section: exposure, contrast, saturation, temperature and a .cube LUT of the selected
act(s), a "Reset colour" button, and a histogram scope of the act's current draft frame.

Edits go through the panel's `set_field` (one SetActField per act, grouped into one undo step), so they behave
like every other inspector field: committed when a drag ends, "Mixed" where the selected acts differ.
The scope reads one stored draft frame (what the viewer does per repaint) and bins it in app.engine.scopes
(about a millisecond at draft size), at most every SCOPE_INTERVAL_MS and only while the scope is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF, QShowEvent
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QWidget

from app.engine.grade import load_cube_lut
from app.engine.scopes import Histogram, histogram
from app.errors import MediaError
from app.model.act import Act, GradeSettings
from app.model.media import MediaRef
from app.ui.document import DocumentController
from app.ui.files import open_file_name
from app.ui.inspector_fields import MIXED, UnitSlider, common_value, tool_button

if TYPE_CHECKING:
    from app.engine.worker import DraftService

#: The panel's edit: set a field of every shown act to value_for(act) as one undo step, under a label.
SetField = Callable[[str, Callable[[Act], Any], str], None]

#: (grade field, label, minimum, maximum, slider positions): the ranges are GradeSettings'.
COLOUR_SLIDERS = (
    ("exposure", "Exposure", -4.0, 4.0, 160),
    ("contrast", "Contrast", 0.0, 3.0, 300),
    ("saturation", "Saturation", 0.0, 3.0, 300),
    ("temperature", "Temperature", -1.0, 1.0, 200),
)
#: The grade fields "Reset colour" restores (the finishing fields, grain and the like, are not colour).
COLOUR_FIELDS = ("exposure", "contrast", "saturation", "temperature", "lut")
LUT_FILTER = "3D LUTs (*.cube)"
SCOPE_BINS = 64
SCOPE_INTERVAL_MS = 100


def _graded(grade: GradeSettings, update: dict[str, Any]) -> GradeSettings:
    """A validated copy of `grade` with `update` applied."""
    return GradeSettings.model_validate({**grade.model_dump(), **update})


def _grade_value(field: str, act: Act) -> float:
    return float(getattr(act.grade, field))


def _colour_defaults() -> dict[str, Any]:
    defaults = GradeSettings()
    return {field: getattr(defaults, field) for field in COLOUR_FIELDS}


class HistogramScope(QWidget):
    """Paints a Histogram: luma as grey bars, red, green and blue as lines, all scaled to the peak bin."""

    BACKGROUND = QColor("#161616")
    LUMA = QColor("#b4b4b4")
    CHANNELS = (QColor(230, 70, 70, 200), QColor(70, 200, 90, 200), QColor(80, 130, 240, 200))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.histogram: Histogram | None = None
        self.setMinimumSize(128, 72)
        self.setToolTip("Luminance (grey) and RGB histogram of the act's draft frame")

    def sizeHint(self) -> QSize:
        return QSize(256, 90)

    def set_histogram(self, value: Histogram | None) -> None:
        """Show `value`; None shows that there is no draft frame yet."""
        self.histogram = value
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.BACKGROUND)
        found = self.histogram
        if found is None or found.peak == 0:
            painter.setPen(self.LUMA)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No draft frame yet")
            return
        width, height, peak = self.width(), self.height(), found.peak
        step = width / found.bins
        for index, count in enumerate(found.luma):
            bar = height * int(count) / peak
            painter.fillRect(QRectF(index * step, height - bar, step, bar), self.LUMA)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for colour, counts in zip(self.CHANNELS, (found.red, found.green, found.blue), strict=True):
            painter.setPen(QPen(colour, 1.5))
            points = [
                QPointF((index + 0.5) * step, height - height * int(count) / peak)
                for index, count in enumerate(counts)
            ]
            painter.drawPolyline(QPolygonF(points))


class ColourSection(QWidget):
    """The colour fields of the inspector (module doc); the panel calls `show_acts` after every refresh."""

    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        set_field: SetField,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._set_field = set_field
        self._act_ids: list[str] = []
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.sliders: dict[str, UnitSlider] = {}
        for field, label, minimum, maximum, steps in COLOUR_SLIDERS:
            slider = UnitSlider(minimum=minimum, maximum=maximum, steps=steps)
            slider.committed.connect(lambda value, field=field: self._set_grade(field, value))
            self.sliders[field] = slider
            form.addRow(label, slider)
        self.lut_name = QLabel()
        self.choose_lut = tool_button("Choose…", "Apply a 3D LUT (.cube file) after the sliders")
        self.choose_lut.clicked.connect(self._on_choose_lut_clicked)
        self.clear_lut = tool_button("Clear", "Remove the LUT")
        self.clear_lut.clicked.connect(lambda: self._set_grade("lut", None, "Remove LUT"))
        lut_row = QHBoxLayout()
        lut_row.addWidget(self.lut_name, 1)
        lut_row.addWidget(self.choose_lut)
        lut_row.addWidget(self.clear_lut)
        form.addRow("LUT", lut_row)
        self.reset = tool_button(
            "Reset colour", "Exposure, contrast, saturation, temperature and LUT back to neutral"
        )
        self.reset.clicked.connect(self._on_reset_clicked)
        form.addRow("", self.reset)
        self.scope = HistogramScope()
        form.addRow(self.scope)
        self._scope_timer = QTimer(self)
        self._scope_timer.setSingleShot(True)
        self._scope_timer.setInterval(SCOPE_INTERVAL_MS)
        self._scope_timer.timeout.connect(self._on_scope_timer_timeout)
        drafts.frames_changed.connect(self._schedule_scope)
        document.playhead_changed.connect(self._schedule_scope)

    # -- showing -------------------------------------------------------------------------------------------

    def show_acts(self, acts: list[Act]) -> None:
        """Show the grades of `acts` (the panel's refresh: not an edit) and follow their draft frames."""
        for field, slider in self.sliders.items():
            slider.set_value(common_value(acts, partial(_grade_value, field)))
        lut = common_value(acts, lambda act: act.grade.lut)
        if any(act.grade.lut != acts[0].grade.lut for act in acts):
            self.lut_name.setText(MIXED)
        else:
            self.lut_name.setText("None" if lut is None else Path(lut.path).name)
        self.lut_name.setToolTip("" if lut is None else lut.path)
        self.clear_lut.setEnabled(any(act.grade.lut is not None for act in acts))
        defaults = _colour_defaults()
        self.reset.setEnabled(
            any(getattr(act.grade, field) != value for act in acts for field, value in defaults.items())
        )
        ids = [act.id for act in acts]
        if ids != self._act_ids:
            self._act_ids = ids
            self._schedule_scope()

    def set_scope_frame(self, frame: np.ndarray | None) -> None:
        """Show the histogram of an (H, W, 3) uint8 RGB draft frame (GUI thread, ~1 ms at draft size)."""
        self.scope.set_histogram(None if frame is None else histogram(frame, SCOPE_BINS))

    def scope_frame(self) -> np.ndarray | None:
        """The draft frame the scope describes: the playhead's when it is on a shown act (the one under it),
        else the middle frame of the first shown act; None when there is no draft yet."""
        project = self._document.project
        present = {act.id: act for act in project.acts}
        shown = [act_id for act_id in self._act_ids if act_id in present]
        if not shown:
            return None
        starts = dict(zip((act.id for act in project.acts), project.act_starts(), strict=True))
        playhead = self._document.playhead
        for act_id in shown:
            start = starts[act_id]
            if start <= playhead < start + present[act_id].duration_frames:
                return self._drafts.frame(playhead)
        first = shown[0]
        return self._drafts.frame(starts[first] + present[first].duration_frames // 2)

    @Slot()
    def _schedule_scope(self) -> None:
        # Not restarted while pending: during playback the scope still updates every interval.
        if not self._scope_timer.isActive():
            self._scope_timer.start()

    @Slot()
    def _on_scope_timer_timeout(self) -> None:
        if self.scope.isVisible():
            self.set_scope_frame(self.scope_frame())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._schedule_scope()  # frames that arrived while hidden were skipped

    # -- editing -------------------------------------------------------------------------------------------

    def _set_grade(self, field: str, value: Any, label: str | None = None) -> None:
        self._set_field(
            "grade",
            lambda act: _graded(act.grade, {field: value}),
            label or f"Change {field}",
        )

    @Slot()
    def _on_reset_clicked(self) -> None:
        defaults = _colour_defaults()
        self._set_field("grade", lambda act: _graded(act.grade, defaults), "Reset colour")

    @Slot()
    def _on_choose_lut_clicked(self) -> None:
        name, _ = open_file_name(self, "Choose a LUT", str(self._document.project_dir), LUT_FILTER)
        if name:
            self.apply_lut(Path(name))

    def apply_lut(self, path: Path) -> None:
        """Use the .cube file at `path` as the LUT of the shown acts (one undo step), or refuse it with one
        status line saying why. Parsing a .cube takes milliseconds (numpy reads the table)."""
        try:
            load_cube_lut(path)
            lut = MediaRef.for_file(path, self._document.project_dir)
        except MediaError as error:
            self._document.message.emit(str(error))
            return
        except OSError as error:
            self._document.message.emit(f"{path}: cannot read the LUT ({error.strerror or error})")
            return
        self._set_grade("lut", lut, "Change LUT")
