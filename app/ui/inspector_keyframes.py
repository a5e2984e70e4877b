"""The inspector's "Camera keys" section: the camera keys of one selected act, to add, edit and delete.

A key pins the camera's pose (centre x and y as fractions of the frame, zoom, turn) at a frame of the act;
between keys the camera eases from one to the next (`MotionSettings.key_at`), and while an act has keys they
replace its preset move. Each edit is one SetActField on the act's `motion` (one undo step). Keys outside
the act (kept by a split or a trim so the shot runs on unchanged) are not listed, only counted. A key's
time is in the act (its first frame is 00:00:00:00), as keys are stored; its tooltip gives the timeline time.
The selected key's fields are rows of the inspector's own form (`add_to`), so they line up with its fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.act import Act, CameraKey, MotionSettings
from app.model.commands import SetActField
from app.model.timebase import timecode
from app.ui.document import DocumentController
from app.ui.inspector_fields import tool_button

#: The tooltip of the preset move's controls while the keys replace them.
KEYS_REPLACE_PRESET = "camera keys replace the preset move"
NO_KEYS_HINT = (
    "No keys: the preset move above plays. Add Key at Playhead starts from a centred, unzoomed view "
    "(not from the preset move's pose there); then edit it here or drag it in the viewer (Shift+C)."
)
#: (CameraKey field, label, minimum, maximum, step, decimals, suffix): the ranges are CameraKey's.
KEY_FIELDS = (
    ("x", "X", -0.5, 0.5, 0.01, 3, ""),
    ("y", "Y", -0.5, 0.5, 0.01, 3, ""),
    ("zoom", "Zoom", 1.0, 8.0, 0.05, 2, "×"),
    ("rotation", "Turn", -180.0, 180.0, 1.0, 1, "°"),
)
_LABELS = {name: label for name, label, *_ in KEY_FIELDS}
_COLUMNS = ("Time in act", "X", "Y", "Zoom", "Turn")


def keys_inside(act: Act) -> list[CameraKey]:
    return [key for key in act.motion.keyframes if 0 <= key.frame < act.duration_frames]


def show_preset_controls(controls: Sequence[QWidget], acts: Sequence[Act]) -> None:
    """Disable the preset move's controls while every shown act has keys; say why whenever any has."""
    keyed = [act for act in acts if act.motion.keyframes]
    for control in controls:
        control.setEnabled(len(keyed) < len(acts) or not acts)
        control.setToolTip(KEYS_REPLACE_PRESET if keyed else "")


class CameraKeysSection(QWidget):
    """The camera keys of the single shown act (module doc); the panel calls `show_acts` on every refresh."""

    def __init__(self, document: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._act_id: str | None = None
        self._refreshing = False
        self._items: list[QTreeWidgetItem] = []  # the list's rows, one per key inside the act
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.keys = QTreeWidget()
        self.keys.setColumnCount(len(_COLUMNS))
        self.keys.setHeaderLabels(list(_COLUMNS))
        self.keys.setRootIsDecorated(False)
        self.keys.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.keys.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.keys.setToolTip("Double-click a key to move the playhead to it")
        self.keys.headerItem().setToolTip(
            0, "From the act's first frame (a key's tooltip: the timeline time)"
        )
        self.keys.setMaximumHeight(140)
        self.keys.currentItemChanged.connect(self._on_keys_current_item_changed)
        self.keys.itemDoubleClicked.connect(self._on_keys_item_double_clicked)
        layout.addWidget(self.keys)
        self.outside = QLabel()
        self.outside.setWordWrap(True)
        layout.addWidget(self.outside)
        buttons = QHBoxLayout()
        self.add_key = tool_button(
            "Add Key at Playhead", "Add a camera key at the playhead (the pose there now)"
        )
        self.add_key.clicked.connect(self._on_add_key_clicked)
        self.delete_key = tool_button("Delete Key", "Delete the selected camera key")
        self.delete_key.clicked.connect(self._on_delete_key_clicked)
        self.clear_keys = tool_button("Clear Keys", "Delete every camera key: the preset move plays again")
        self.clear_keys.clicked.connect(self._on_clear_keys_clicked)
        for button in (self.add_key, self.delete_key, self.clear_keys):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.fields: dict[str, QDoubleSpinBox] = {}
        for name, _, minimum, maximum, step, decimals, suffix in KEY_FIELDS:
            box = QDoubleSpinBox()
            box.setRange(minimum, maximum)
            box.setSingleStep(step)
            box.setDecimals(decimals)
            box.setSuffix(suffix)
            box.setKeyboardTracking(False)  # typing commits on Enter or leaving the box, arrows at once
            box.valueChanged.connect(lambda value, name=name: self._on_field_value_changed(name, value))
            self.fields[name] = box

    def add_to(self, form: QFormLayout) -> None:
        """Lay the section out in `form`: the key list and its buttons across the form, then one row per
        field of the selected key, labelled like the form's other rows."""
        form.addRow(self)
        for name, box in self.fields.items():
            form.addRow(_LABELS[name], box)

    # -- showing -------------------------------------------------------------------------------------------

    def act(self) -> Act | None:
        project = self._document.project
        return next((act for act in project.acts if act.id == self._act_id), None)

    def show_acts(self, acts: Sequence[Act]) -> None:
        """Show the keys of `acts` when it is one act; otherwise say that one act must be selected."""
        self._refreshing = True
        try:
            self._act_id = acts[0].id if len(acts) == 1 else None
            act = self.act()
            single = act is not None
            for widget in (self.keys, self.add_key):
                widget.setVisible(single)
            self._show_keys(act)
        finally:
            self._refreshing = False

    def _show_keys(self, act: Act | None) -> None:
        selected = self.selected_key()
        self.keys.clear()
        self._items = []
        if act is None:
            self.message.setText("Select one act to edit its camera keys")
            self.outside.setVisible(False)
            self._show_selected(None)
            return
        project = self._document.project
        fps = project.settings.fps
        start = project.act_starts()[project.index_of(act.id)]
        for key in keys_inside(act):
            values = (
                timecode(key.frame, fps),
                f"{key.x:+.3f}",
                f"{key.y:+.3f}",
                f"{key.zoom:.2f}",
                f"{key.rotation:+.1f}°",
            )
            item = QTreeWidgetItem(list(values))
            item.setData(0, Qt.ItemDataRole.UserRole, key.frame)
            item.setToolTip(0, f"{timecode(start + key.frame, fps)} on the timeline")
            self.keys.addTopLevelItem(item)
            self._items.append(item)
            if selected is not None and key.frame == selected.frame:
                self.keys.setCurrentItem(item)
        if self.keys.currentItem() is None and self._items:
            self.keys.setCurrentItem(self._items[0])
        outside = len(act.motion.keyframes) - len(keys_inside(act))
        keys, verb = ("1 key", "shapes") if outside == 1 else (f"{outside} keys", "shape")
        self.outside.setText(f"{keys} outside the act (from a split or trim) {verb} the move")
        self.outside.setVisible(outside > 0)
        self.message.setText("" if act.motion.keyframes else NO_KEYS_HINT)
        self.message.setVisible(not act.motion.keyframes)
        self.clear_keys.setEnabled(bool(act.motion.keyframes))
        self._show_selected(self.selected_key())

    def selected_key(self) -> CameraKey | None:
        """The key selected in the list (None when none is, or it no longer exists)."""
        act, item = self.act(), self.keys.currentItem()
        if act is None or item is None:
            return None
        frame = item.data(0, Qt.ItemDataRole.UserRole)
        return next((key for key in act.motion.keyframes if key.frame == frame), None)

    def _show_selected(self, key: CameraKey | None) -> None:
        was_refreshing, self._refreshing = self._refreshing, True
        try:
            shown = key or CameraKey(frame=0)  # disabled boxes show the neutral pose
            for name, box in self.fields.items():
                box.setEnabled(key is not None)
                box.setValue(getattr(shown, name))
        finally:
            self._refreshing = was_refreshing
        self.delete_key.setEnabled(key is not None)

    # -- editing -------------------------------------------------------------------------------------------

    def _set_motion(self, act: Act, motion: MotionSettings, label: str) -> None:
        if motion != act.motion:
            self._document.execute(SetActField(act.id, "motion", motion, label=label))

    def frame_at_playhead(self, act: Act) -> int:
        project = self._document.project
        return self._document.playhead - project.act_starts()[project.index_of(act.id)]

    @Slot()
    def _on_add_key_clicked(self) -> None:
        act = self.act()
        if act is None:
            return
        frame = self.frame_at_playhead(act)
        if not 0 <= frame < act.duration_frames:
            self._document.message.emit(f"Move the playhead into '{act.name}' to add a camera key there")
            return
        if any(key.frame == frame for key in act.motion.keyframes):
            self._document.message.emit("There is a camera key at the playhead already: edit it below")
        else:
            # The keyed camera's pose there now; without keys a centred, unzoomed view (see NO_KEYS_HINT).
            pose = act.motion.key_at(frame) if act.motion.keyframes else CameraKey(frame=frame)
            key = CameraKey(
                frame=frame,
                x=round(pose.x, 4),
                y=round(pose.y, 4),
                zoom=round(pose.zoom, 3),
                rotation=round(pose.rotation, 2),
            )
            self._set_motion(act, act.motion.with_key(key), "Add camera key")
        self._select_frame(frame)

    def _select_frame(self, frame: int) -> None:
        for item in self._items:
            if item.data(0, Qt.ItemDataRole.UserRole) == frame:
                self.keys.setCurrentItem(item)

    @Slot()
    def _on_delete_key_clicked(self) -> None:
        act, key = self.act(), self.selected_key()
        if act is not None and key is not None:
            self._set_motion(act, act.motion.without_key(key.frame), "Delete camera key")

    @Slot()
    def _on_clear_keys_clicked(self) -> None:
        act = self.act()
        if act is not None:
            self._set_motion(act, act.motion.model_copy(update={"keyframes": ()}), "Clear camera keys")

    def _on_field_value_changed(self, name: str, value: float) -> None:
        act, key = self.act(), self.selected_key()
        if self._refreshing or act is None or key is None:
            return
        edited = CameraKey.model_validate({**key.model_dump(), name: value})
        self._set_motion(act, act.motion.with_key(edited), f"Change camera key {_LABELS[name].lower()}")

    @Slot(object, object)
    def _on_keys_current_item_changed(self, current: Any, previous: Any) -> None:
        if not self._refreshing:
            self._show_selected(self.selected_key())

    @Slot(object, int)
    def _on_keys_item_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        act = self.act()
        if act is None:
            return
        project = self._document.project
        start = project.act_starts()[project.index_of(act.id)]
        self._document.set_playhead(start + int(item.data(0, Qt.ItemDataRole.UserRole)))
