"""Field widgets of the inspector: each can show "Mixed" for a multi-act selection and reports finished edits.

They hold no document logic: the InspectorPanel decides what an edit means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QCoreApplication, QEvent, QMimeData, QObject, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QIcon,
    QImageReader,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSlider,
    QToolButton,
    QWidget,
)

from app.model.media import MediaRef

MIXED = "Mixed"
THUMBNAIL_SIZE = QSize(64, 36)

Item = TypeVar("Item")
Value = TypeVar("Value")


def common_value(items: Sequence[Item], getter: Callable[[Item], Value]) -> Value | None:
    """getter's value when every item gives the same one; None when they differ or there are no items."""
    if not items:
        return None
    first = getter(items[0])
    return first if all(getter(item) == first for item in items[1:]) else None


class WheelGuard(QObject):
    """Scrolling the inspector must not edit the act under the pointer: a spin box, combo box or slider takes
    the wheel only once it has keyboard focus (clicked or tabbed to); until then it scrolls the form."""

    def __init__(self, scroll_viewport: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._viewport = scroll_viewport

    def guard(self, field: QWidget) -> None:
        field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone never gives it focus
        field.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            QCoreApplication.sendEvent(self._viewport, event)  # scroll the form instead
            return True
        return False


class TextEdit(QPlainTextEdit):
    """Multi-line text that emits `editing_finished` when it loses focus after the user changed it."""

    editing_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self.setMaximumHeight(96)

    def set_text(self, text: str | None) -> None:
        """Show `text`; None shows an empty field marked "Mixed". Not an edit."""
        self.setPlainText(text or "")
        self.setPlaceholderText(MIXED if text is None else "")
        self.document().setModified(False)

    def finish_editing(self) -> None:
        """Emit `editing_finished` if the user changed the text since it was last set or finished."""
        if self.document().isModified():
            self.document().setModified(False)
            self.editing_finished.emit()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.finish_editing()


class NumberBox(QDoubleSpinBox):
    """A whole number in 0..maximum that can show "Mixed".

    A double spin box because seeds go up to 2**32 - 1, past QSpinBox's 32-bit signed range. "Mixed" is the
    value -1 shown as special text; the range only reaches -1 while mixed.
    """

    def __init__(self, maximum: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(0)
        self._maximum = maximum
        self.set_number(0)

    def set_number(self, value: int | None) -> None:
        """Show `value`, or "Mixed" for None. Not an edit (editingFinished is not emitted)."""
        self.setSpecialValueText(MIXED if value is None else "")
        self.setRange(-1 if value is None else 0, self._maximum)
        self.setValue(-1 if value is None else value)

    def number(self) -> int | None:
        """The number shown, None while "Mixed"."""
        value = round(self.value())
        return None if value < 0 else value


class UnitSlider(QWidget):
    """A value in minimum..maximum (default 0..1) on a slider of `steps` positions, its number beside it.

    `committed(value)` is emitted when a drag ends or when the keyboard or wheel changes the value, never per
    pixel of a drag and never for `set_value`.
    """

    committed = Signal(float)
    STEPS = 100

    def __init__(
        self,
        parent: QWidget | None = None,
        minimum: float = 0.0,
        maximum: float = 1.0,
        steps: int = STEPS,
    ) -> None:
        super().__init__(parent)
        self._minimum = minimum
        self._span = maximum - minimum
        self._steps = steps
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, steps)
        self.slider.setPageStep(max(1, steps // 10))
        self.label = QLabel(self)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(MIXED) + 4)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._setting = False
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.slider.sliderReleased.connect(self._on_slider_released)

    def value(self) -> float:
        # Rounded so that a position gives the number its label shows (0.1, not 0.30000000000000004).
        return round(self._minimum + self.slider.value() * self._span / self._steps, 6)

    def set_value(self, value: float | None) -> None:
        """Show `value` (minimum..maximum), or "Mixed" for None (the slider at minimum). Not an edit."""
        self._setting = True
        try:
            shown = self._minimum if value is None else value
            self.slider.setValue(round((shown - self._minimum) / self._span * self._steps))
            self.label.setText(MIXED if value is None else f"{value:.2f}")
        finally:
            self._setting = False

    @Slot(int)
    def _on_slider_value_changed(self, position: int) -> None:
        if self._setting:
            return
        self.label.setText(f"{self.value():.2f}")
        if not self.slider.isSliderDown():
            self.committed.emit(self.value())

    @Slot()
    def _on_slider_released(self) -> None:
        self.committed.emit(self.value())


def select_value(combo: QComboBox, value: str | None) -> None:
    """Make `value` current (added when not offered, e.g. a backend not installed here); None: Mixed."""
    if value is None:
        combo.setCurrentIndex(-1)
        return
    index = combo.findData(str(value))
    if index < 0:
        combo.addItem(str(value), str(value))
        index = combo.count() - 1
    combo.setCurrentIndex(index)


def section_label(title: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName("inspectorSection")
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def tool_button(text: str, tooltip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tooltip)
    return button


@cache
def image_suffixes() -> frozenset[str]:
    """File suffixes (".jpg", …) of the image formats this Qt build can read."""
    return frozenset(
        f".{bytes(name.data()).decode().lower()}" for name in QImageReader.supportedImageFormats()
    )


def image_paths(mime: QMimeData) -> list[Path]:
    """The local image files in a drag's data, in order (other URLs and files are ignored)."""
    paths = (Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile())
    return [path for path in paths if path.suffix.lower() in image_suffixes()]


class ReferenceList(QListWidget):
    """Reference images with small thumbnails; image files dropped on it are reported by `files_dropped`."""

    files_dropped = Signal(list)  # list[Path]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(THUMBNAIL_SIZE)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setMaximumHeight(4 * (THUMBNAIL_SIZE.height() + 6))
        self._icons: dict[Path, QIcon] = {}
        #: The row to select after the next `show_references` (set before an edit that moves rows).
        self.pending_row = -1

    @staticmethod
    def file_filter() -> str:
        """A QFileDialog name filter for the readable image formats."""
        return f"Images ({' '.join(f'*{suffix}' for suffix in sorted(image_suffixes()))})"

    def show_references(self, references: Sequence[MediaRef] | None, project_dir: Path) -> None:
        """List `references`; None (the selected acts differ) shows "Mixed" and disables editing."""
        row = self.pending_row if self.pending_row >= 0 else self.currentRow()
        self.pending_row = -1
        self.clear()
        self.setEnabled(references is not None)
        if references is None:
            self.addItem(f"{MIXED}: select one act to edit its references")
            return
        for reference in references:
            path = reference.resolve(project_dir)
            exists = path.is_file()
            item = QListWidgetItem(self._icon(path) if exists else QIcon(), Path(reference.path).name)
            item.setToolTip(reference.path if exists else f"{reference.path} (missing)")
            if not exists:
                item.setText(f"{item.text()} (missing)")
            self.addItem(item)
        if references:
            self.setCurrentRow(min(max(row, 0), len(references) - 1))

    def clear_thumbnails(self) -> None:
        self._icons.clear()

    def _icon(self, path: Path) -> QIcon:
        icon = self._icons.get(path)
        if icon is None:
            # The reader decodes straight to the small size (JPEG scales while decoding): cheap enough here.
            reader = QImageReader(str(path))
            size = reader.size()
            if size.isValid():
                reader.setScaledSize(size.scaled(THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
            icon = QIcon() if image.isNull() else QIcon(QPixmap.fromImage(image))
            self._icons[path] = icon
        return icon

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if image_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if image_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = image_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()
