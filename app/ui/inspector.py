"""The inspector: the inputs of the selected act(s), each edit committed as SetActField when editing finishes.

With several acts selected a change applies to all of them as one undo step, and fields whose values differ
show "Mixed" until the user sets them. The panel refreshes from the document after every change; its own
refresh never turns into edits (commits only come from user signals and are ignored while refreshing).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.engine.backends import backend_names, model_names
from app.engine.image_check import check_image
from app.engine.models.catalog import Task
from app.engine.models.registry import ModelRegistry
from app.errors import MediaError
from app.model.act import MAX_SEED, Act, CameraMove, Easing, FitMode, TransitionKind
from app.model.commands import Changes, SetActField
from app.model.media import MediaRef
from app.ui.document import DocumentController
from app.ui.files import open_file_names
from app.ui.inspector_colour import ColourSection
from app.ui.inspector_fields import (
    MIXED,
    NumberBox,
    ReferenceList,
    TextEdit,
    UnitSlider,
    WheelGuard,
    common_value,
    section_label,
    select_value,
    tool_button,
)
from app.ui.inspector_keyframes import CameraKeysSection, show_preset_controls

if TYPE_CHECKING:
    from app.engine.worker import ActStatus, DraftService

_NO_MODEL = ""  # combo data for "no model" (the placeholder slate / no refinement)
_STATE_WORDS = {"queued": "queued", "rendering": "rendering", "ready": "up to date", "failed": "failed"}


class _EditRefused(Exception):
    """A command of a grouped edit was refused; the document has shown why and the group rolls back."""


def _updated(settings: BaseModel, key: str, value: Any) -> BaseModel:
    """A validated copy of a frozen settings model (motion, transition) with one field changed."""
    return type(settings).model_validate({**settings.model_dump(), key: value})


def describe_status(status: ActStatus) -> str:
    """One line for the act's draft: up to date / rendering n % / queued / failed: message."""
    if status.state == "rendering":
        return f"Rendering draft {status.progress:.0%}"
    if status.state == "failed":
        return f"Failed: {status.message}"
    if status.state == "ready" and status.fallback:
        return f"Draft by the built-in motion backend instead: {status.fallback}"
    return f"Draft {_STATE_WORDS.get(status.state, status.state)}"


class InspectorPanel(QWidget):
    """Edits the acts in `document.selected_ids` (see the module docstring)."""

    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        parent: QWidget | None = None,
        registry: ModelRegistry | None = None,
    ) -> None:
        """`registry`: where the backend and model lists come from (default: the user's)."""
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._registry = registry
        self._shown_ids: list[str] = []  # the acts the fields show; edits go to these
        self._refreshing = False
        self._build()
        self._wheel_guard = WheelGuard(self._scroll.viewport(), self)
        for kind in (QAbstractSpinBox, QComboBox, QAbstractSlider):
            for field in self.form.findChildren(kind):
                self._wheel_guard.guard(field)
        document.selection_changed.connect(self._on_document_selection_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        drafts.act_status_changed.connect(self._on_drafts_act_status_changed)
        self._refresh()

    # -- building ------------------------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("actStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setContentsMargins(6, 4, 6, 4)
        outer.addWidget(self.status_label)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        # The form narrows with the dock (combos shrink) rather than scrolling sideways.
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(self._scroll, 1)
        self.form = QWidget()
        self._scroll.setWidget(self.form)
        form = QFormLayout(self.form)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # labels go above fields when narrow

        self.name = QLineEdit()
        self.name.editingFinished.connect(self._on_name_editing_finished)
        self.prompt = TextEdit()
        self.prompt.editing_finished.connect(lambda: self._commit_text(self.prompt, "prompt", "Edit prompt"))
        self.negative_prompt = TextEdit()
        self.negative_prompt.editing_finished.connect(
            lambda: self._commit_text(self.negative_prompt, "negative_prompt", "Edit negative prompt")
        )
        form.addRow("Name", self.name)
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative_prompt)

        form.addRow(section_label("Keyframe"))
        self.references = ReferenceList()
        self.references.files_dropped.connect(self._add_references)
        form.addRow("References", self.references)
        buttons = QHBoxLayout()
        self.add_reference = tool_button("Add…", "Add reference images (or drop image files on the list)")
        self.add_reference.clicked.connect(self._on_add_reference_clicked)
        self.remove_reference = tool_button("Remove", "Remove the selected reference")
        self.remove_reference.clicked.connect(self._on_remove_reference_clicked)
        self.move_reference_up = tool_button("↑", "Move the selected reference earlier")
        self.move_reference_up.clicked.connect(lambda: self._move_reference(-1))
        self.move_reference_down = tool_button("↓", "Move the selected reference later")
        self.move_reference_down.clicked.connect(lambda: self._move_reference(1))
        self._reference_buttons = (
            self.add_reference,
            self.remove_reference,
            self.move_reference_up,
            self.move_reference_down,
        )
        for button in self._reference_buttons:
            buttons.addWidget(button)
        form.addRow("", buttons)
        self.fit = self._combo(FitMode, lambda value: self._set_field("fit", lambda act: value, "Change fit"))
        form.addRow("Fit", self.fit)

        self.seed = NumberBox(MAX_SEED)
        self.seed.editingFinished.connect(self._on_seed_editing_finished)
        self.seed_locked = QCheckBox("Lock")
        self.seed_locked.setToolTip("A locked seed is kept when takes or variations re-roll seeds")
        self.seed_locked.clicked.connect(self._on_seed_locked_clicked)
        self.new_seed = tool_button(
            "New seed", "Pick a random seed for every selected act whose seed is not locked"
        )
        self.new_seed.clicked.connect(self._on_new_seed_clicked)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_locked)
        seed_row.addWidget(self.new_seed)
        form.addRow("Seed", seed_row)

        form.addRow(section_label("Motion"))
        self.camera = self._combo(CameraMove, lambda value: self._set_setting("motion", "camera", value))
        self.intensity = UnitSlider()
        self.intensity.committed.connect(lambda value: self._set_setting("motion", "intensity", value))
        self.easing = self._combo(Easing, lambda value: self._set_setting("motion", "easing", value))
        self.audio_reactivity = UnitSlider()
        self.audio_reactivity.committed.connect(
            lambda value: self._set_setting("motion", "audio_reactivity", value)
        )
        form.addRow("Camera", self.camera)
        form.addRow("Intensity", self.intensity)
        form.addRow("Easing", self.easing)
        form.addRow("Audio reactivity", self.audio_reactivity)
        self.react_sliders: dict[str, UnitSlider] = {}
        for field, label in (
            ("react_zoom", "  Zoom pulse"),
            ("react_shake", "  Shake"),
            ("react_flash", "  Flash"),
        ):
            slider = UnitSlider()
            slider.committed.connect(lambda value, field=field: self._set_setting("motion", field, value))
            self.react_sliders[field] = slider
            form.addRow(label, slider)
        self.react_release = NumberBox(48)
        self.react_release.setSuffix(" frames")
        self.react_release.setToolTip("How long a hit takes to fade: higher is smoother")
        self.react_release.editingFinished.connect(self._on_react_release_editing_finished)
        form.addRow("  Release", self.react_release)
        form.addRow(section_label("Camera keys"))
        self.camera_keys = CameraKeysSection(self._document)
        self.camera_keys.add_to(form)

        form.addRow(section_label("Transition to next act"))
        self.transition_kind = self._combo(
            TransitionKind, lambda value: self._set_setting("transition", "kind", value)
        )
        self.transition_frames = NumberBox(240)
        self.transition_frames.setSuffix(" frames")
        self.transition_frames.editingFinished.connect(self._on_transition_frames_editing_finished)
        self.dip_color = tool_button("", "Colour of a dip transition")
        self.dip_color.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.dip_color.clicked.connect(self._on_dip_color_clicked)
        form.addRow("Kind", self.transition_kind)
        form.addRow("Length", self.transition_frames)
        form.addRow("Dip colour", self.dip_color)

        form.addRow(section_label("Colour"))
        self.colour = ColourSection(self._document, self._drafts, self._set_field)
        form.addRow(self.colour)

        form.addRow(section_label("Backends"))
        self.draft_backend = self._combo(
            backend_names(self._registry),
            lambda value: self._set_field("draft_backend", lambda act: value, "Draft backend"),
        )
        self.final_backend = self._combo(
            backend_names(self._registry),
            lambda value: self._set_field("final_backend", lambda act: value, "Final backend"),
        )
        form.addRow("Draft", self.draft_backend)
        form.addRow("Final", self.final_backend)
        self._build_generation(form)

        self.notes = TextEdit()
        self.notes.editing_finished.connect(lambda: self._commit_text(self.notes, "notes", "Edit notes"))
        form.addRow(section_label("Notes"))
        form.addRow(self.notes)

    def _build_generation(self, form: QFormLayout) -> None:
        """Settings of the generative models (registered with `storybeat models add`)."""
        self.steps = NumberBox(200)
        self.steps.setToolTip("Denoising steps of generative models; 0 uses the model's default")
        self.steps.editingFinished.connect(self._on_steps_editing_finished)
        form.addRow("Steps", self.steps)
        self.keyframe_model = self._combo(
            [_NO_MODEL, *model_names(Task.text_to_image, self._registry)],
            lambda value: self._set_setting("generation", "keyframe_model", value or None),
        )
        self.keyframe_model.setItemText(0, "Placeholder slate")
        self.keyframe_model.setToolTip(
            "A text-to-image model makes the keyframe of an act without references"
        )
        form.addRow("Keyframe model", self.keyframe_model)
        self.refine_model = self._combo(
            [_NO_MODEL, *model_names(Task.image_to_image, self._registry)],
            lambda value: self._set_setting("generation", "refine_model", value or None),
        )
        self.refine_model.setItemText(0, "None")
        self.refine_model.setToolTip("An image-to-image model refines the keyframe before the final render")
        form.addRow("Refine model", self.refine_model)
        self.refine_strength = UnitSlider()
        self.refine_strength.committed.connect(
            lambda value: self._set_setting("generation", "refine_strength", value)
        )
        form.addRow("  Strength", self.refine_strength)
        self.start_from_previous = QCheckBox("Start from the previous act's last frame")
        self.start_from_previous.clicked.connect(
            lambda checked: self._set_setting("generation", "start_from_previous", checked)
        )
        self.end_on_next = QCheckBox("End on the next act's keyframe")
        self.end_on_next.clicked.connect(
            lambda checked: self._set_setting("generation", "end_on_next", checked)
        )
        form.addRow("Continuity", self.start_from_previous)
        form.addRow("", self.end_on_next)

    def _combo(self, values: type[StrEnum] | Sequence[str], commit: Callable[[str], None]) -> QComboBox:
        combo = QComboBox()
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(6)
        combo.setPlaceholderText(MIXED)  # shown while no item is current
        _fill_combo(combo, values)
        combo.activated.connect(lambda index: commit(combo.itemData(index)))
        return combo

    @Slot()
    def refresh_model_lists(self) -> None:
        """Offer the registry's models again (one was added, removed or renamed); what the combos show is
        kept where it still exists, and the acts' own values are shown again."""
        self._refreshing = True
        try:
            backends = backend_names(self._registry)
            keyframe = [_NO_MODEL, *model_names(Task.text_to_image, self._registry)]
            refine = [_NO_MODEL, *model_names(Task.image_to_image, self._registry)]
            for combo, values, none_text in (
                (self.draft_backend, backends, None),
                (self.final_backend, backends, None),
                (self.keyframe_model, keyframe, "Placeholder slate"),
                (self.refine_model, refine, "None"),
            ):
                current = combo.currentData() if combo.currentIndex() >= 0 else None
                combo.clear()
                _fill_combo(combo, values)
                if none_text is not None:
                    combo.setItemText(0, none_text)
                combo.setCurrentIndex(combo.findData(current) if current is not None else -1)
        finally:
            self._refreshing = False
        self._refresh(reselect=False)

    def set_scope_frame(self, frame: np.ndarray | None) -> None:
        """Show the histogram of this RGB uint8 draft frame in the colour scope (the inspector also fetches
        the selected act's frame from the draft service itself)."""
        self.colour.set_scope_frame(frame)

    # -- committing edits ----------------------------------------------------------------------------------

    def _acts(self) -> list[Act]:
        project = self._document.project
        present = {act.id: act for act in project.acts}
        return [present[act_id] for act_id in self._shown_ids if act_id in present]

    def _set_field(self, field_name: str, value_for: Callable[[Act], Any], label: str) -> None:
        """Set `field_name` of every shown act to value_for(act) as one undo step (unchanged acts skipped)."""
        if self._refreshing:
            return
        commands = [
            SetActField(act.id, field_name, value, label=label)
            for act in self._acts()
            if (value := value_for(act)) != getattr(act, field_name)
        ]
        if len(commands) == 1:
            self._document.execute(commands[0])
        elif commands:
            try:
                with self._document.group(label):
                    for command in commands:
                        if not self._document.execute(command):
                            raise _EditRefused
            except _EditRefused:
                self._refresh(reselect=False)  # the group rolled back silently: show the document again

    def _set_setting(self, field_name: str, key: str, value: Any) -> None:
        label = f"Change {key.replace('_', ' ')}"
        self._set_field(field_name, lambda act: _updated(getattr(act, field_name), key, value), label)

    def _commit_text(self, editor: TextEdit, field_name: str, label: str) -> None:
        text = editor.toPlainText()
        self._set_field(field_name, lambda act: text, label)

    @Slot()
    def _on_name_editing_finished(self) -> None:
        if self.name.isModified():
            self.name.setModified(False)
            name = self.name.text().strip()
            if name:
                self._set_field("name", lambda act: name, "Rename act")

    @Slot()
    def _on_seed_editing_finished(self) -> None:
        seed = self.seed.number()
        if seed is not None:
            self._set_field("seed", lambda act: seed, "Change seed")

    @Slot()
    def _on_seed_locked_clicked(self) -> None:
        locked = self.seed_locked.checkState() == Qt.CheckState.Checked
        self._set_field("seed_locked", lambda act: locked, "Lock seed" if locked else "Unlock seed")

    @Slot()
    def _on_new_seed_clicked(self) -> None:
        self._set_field(
            "seed", lambda act: act.seed if act.seed_locked else secrets.randbelow(MAX_SEED + 1), "New seed"
        )

    @Slot()
    def _on_steps_editing_finished(self) -> None:
        steps = self.steps.number()
        if steps is not None:
            self._set_setting("generation", "steps", steps or None)

    @Slot()
    def _on_react_release_editing_finished(self) -> None:
        frames = self.react_release.number()
        if frames is not None:
            self._set_setting("motion", "react_release_frames", frames)

    @Slot()
    def _on_transition_frames_editing_finished(self) -> None:
        frames = self.transition_frames.number()
        if frames is not None:
            self._set_setting("transition", "frames", frames)

    @Slot()
    def _on_dip_color_clicked(self) -> None:
        acts = self._acts()
        current = common_value(acts, lambda act: act.transition.color) or "#000000"
        color = QColorDialog.getColor(QColor(current), self, "Dip colour")
        if color.isValid():
            self._set_setting("transition", "color", color.name())

    # -- references ----------------------------------------------------------------------------------------

    @Slot()
    def _on_add_reference_clicked(self) -> None:
        names, _ = open_file_names(
            self, "Add reference images", str(self._document.project_dir), ReferenceList.file_filter()
        )
        self._add_references([Path(name) for name in names])

    @Slot(list)
    def _add_references(self, paths: list[Path]) -> None:
        """Append images to the references of every shown act (one undo step). Files that are not usable
        images (app.engine.image_check: a few milliseconds each, no decoding) are refused, each with one
        line saying why; the others are added."""
        if not paths or not self.references.isEnabled():
            return
        added: list[MediaRef] = []
        refused: list[str] = []
        for path in paths:
            try:
                check_image(path)
                added.append(MediaRef.for_file(path, self._document.project_dir))
            except MediaError as error:
                refused.append(str(error))
            except OSError as error:
                refused.append(f"{path}: cannot read the image ({error.strerror or error})")
        if refused:
            self._document.message.emit(_refusal(refused))
        if added:
            self._set_field("references", lambda act: [*act.references, *added], "Add references")

    def _edit_references(self, edit: Callable[[list[MediaRef], int], object], select: int = -1) -> None:
        """Apply `edit(references, current_row)` to the shared reference list, then select row `select`."""
        row = self.references.currentRow()
        shared = common_value(self._acts(), lambda act: act.references)
        if shared is None or not 0 <= row < len(shared):
            return
        references = list(shared)
        edit(references, row)
        self.references.pending_row = select
        self._set_field("references", lambda act: references, "Edit references")

    @Slot()
    def _on_remove_reference_clicked(self) -> None:
        self._edit_references(
            lambda references, row: references.pop(row), select=self.references.currentRow()
        )

    def _move_reference(self, offset: int) -> None:
        row = self.references.currentRow()

        def move(references: list[MediaRef], row: int) -> None:
            if 0 <= row + offset < len(references):
                references.insert(row + offset, references.pop(row))

        self._edit_references(move, select=row + offset)

    # -- refreshing ----------------------------------------------------------------------------------------

    @Slot()
    def _on_document_selection_changed(self) -> None:
        # A text field the user is still typing in belongs to the acts shown so far: commit it to them first.
        self._on_name_editing_finished()
        for editor in (self.prompt, self.negative_prompt, self.notes):
            editor.finish_editing()
        self._refresh()

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        # Keep the shown acts: a pending edit still belongs to them (selection_changed follows if not).
        if changes.acts & set(self._shown_ids) or changes.timing:
            self._refresh(reselect=False)

    @Slot()
    def _on_document_replaced(self) -> None:
        self.references.clear_thumbnails()
        self._refresh()

    @Slot(str)
    def _on_drafts_act_status_changed(self, act_id: str) -> None:
        if act_id in self._shown_ids:
            self._refresh_status(self._acts())

    def _refresh(self, reselect: bool = True) -> None:
        """Show the document's values; `reselect` first switches to the acts selected now."""
        self._refreshing = True
        try:
            if reselect:
                self._shown_ids = list(self._document.selected_ids)
            acts = self._acts()
            self._refresh_status(acts)
            self._scroll.setVisible(bool(acts))
            if acts:
                self._show_values(acts)
        finally:
            self._refreshing = False

    def _refresh_status(self, acts: list[Act]) -> None:
        if not acts:
            text, state = "No act selected", ""
        elif len(acts) == 1:
            status = self._drafts.status(acts[0].id)
            text, state = describe_status(status), str(status.state)
        else:
            states = Counter(str(self._drafts.status(act.id).state) for act in acts)
            parts = [f"{count} {_STATE_WORDS.get(state, state)}" for state, count in sorted(states.items())]
            text, state = f"{len(acts)} acts: {', '.join(parts)}", "failed" if "failed" in states else ""
        self.status_label.setText(text)
        # The stylesheet colours the label by state (QLabel#actStatus[actState="failed"]).
        self.status_label.setProperty("actState", state)
        self.status_label.style().polish(self.status_label)

    def _show_values(self, acts: list[Act]) -> None:
        def common(getter: Callable[[Act], Any]) -> Any:
            return common_value(acts, getter)

        name = common(lambda act: act.name)
        self.name.setText(name or "")
        self.name.setPlaceholderText(MIXED if name is None else "")
        self.name.setModified(False)
        self.prompt.set_text(common(lambda act: act.prompt))
        self.negative_prompt.set_text(common(lambda act: act.negative_prompt))
        self.notes.set_text(common(lambda act: act.notes))
        self.references.show_references(common(lambda act: act.references), self._document.project_dir)
        for button in self._reference_buttons:
            button.setEnabled(self.references.isEnabled())
        select_value(self.fit, common(lambda act: act.fit))
        self.seed.set_number(common(lambda act: act.seed))
        locked = common(lambda act: act.seed_locked)
        if locked is None:
            self.seed_locked.setCheckState(Qt.CheckState.PartiallyChecked)
        else:
            self.seed_locked.setTristate(False)
            self.seed_locked.setChecked(bool(locked))
        self.new_seed.setEnabled(any(not act.seed_locked for act in acts))
        select_value(self.camera, common(lambda act: act.motion.camera))
        self.intensity.set_value(common(lambda act: act.motion.intensity))
        show_preset_controls((self.camera, self.intensity), acts)
        self.camera_keys.show_acts(acts)
        select_value(self.easing, common(lambda act: act.motion.easing))
        self.audio_reactivity.set_value(common(lambda act: act.motion.audio_reactivity))
        for field, slider in self.react_sliders.items():
            slider.set_value(common(partial(_motion_value, field)))
        self.react_release.set_number(common(lambda act: act.motion.react_release_frames))
        select_value(self.transition_kind, common(lambda act: act.transition.kind))
        self.transition_frames.set_number(common(lambda act: act.transition.frames))
        color = common(lambda act: act.transition.color)
        self.dip_color.setText(color or MIXED)
        swatch = QPixmap(14, 14)
        swatch.fill(QColor(color) if color else Qt.GlobalColor.transparent)
        self.dip_color.setIcon(QIcon(swatch))
        self.colour.show_acts(acts)
        select_value(self.draft_backend, common(lambda act: act.draft_backend))
        select_value(self.final_backend, common(lambda act: act.final_backend))
        steps = common(lambda act: act.generation.steps or 0)
        self.steps.set_number(steps)
        select_value(self.keyframe_model, common(lambda act: act.generation.keyframe_model or _NO_MODEL))
        select_value(self.refine_model, common(lambda act: act.generation.refine_model or _NO_MODEL))
        self.refine_strength.set_value(common(lambda act: act.generation.refine_strength))
        for box, getter in (
            (self.start_from_previous, lambda act: act.generation.start_from_previous),
            (self.end_on_next, lambda act: act.generation.end_on_next),
        ):
            value = common(getter)
            if value is None:
                box.setCheckState(Qt.CheckState.PartiallyChecked)
            else:
                box.setTristate(False)
                box.setChecked(bool(value))


def _refusal(reasons: Sequence[str]) -> str:
    """One status-bar line for the files refused as references: the reason for the first, and how many
    more were refused."""
    more = len(reasons) - 1
    if more == 0:
        return reasons[0]
    return f"{reasons[0]} (and {more} more file{'s' if more > 1 else ''} not added)"


def _fill_combo(combo: QComboBox, values: type[StrEnum] | Sequence[str]) -> None:
    for value in values:
        combo.addItem(str(value).replace("_", " ").capitalize(), str(value))


def _motion_value(field: str, act: Act) -> float:
    return float(getattr(act.motion, field))
