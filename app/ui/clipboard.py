"""Copy, paste, duplicate and paste attributes: the system clipboard on one side, the document's commands on
the other (app.model.copy_paste decides what a paste means)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QObject
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.model.act import Act
from app.model.copy_paste import (
    ACTS_MIME_TYPE,
    AttributeGroup,
    CopiedActs,
    DuplicateActs,
    PasteActs,
    PasteAttributes,
    decode_acts,
    encode_acts,
)
from app.model.errors import EditError
from app.ui.document import DocumentController


class ActClipboard(QObject):
    """Puts the selected acts on the system clipboard and pastes acts (or their settings) from it."""

    def __init__(self, document: DocumentController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document

    @staticmethod
    def _clipboard() -> QClipboard:
        return QGuiApplication.clipboard()

    def copy(self) -> bool:
        """Copy the selected acts (their JSON under ACTS_MIME_TYPE, their names as plain text)."""
        document = self.document
        try:
            text = encode_acts(document.project, document.selected_ids, document.project_dir)
        except EditError as error:
            document.message.emit(str(error))
            return False
        selected = set(document.selected_ids)
        names = [act.name for act in document.project.acts if act.id in selected]
        data = QMimeData()
        data.setData(ACTS_MIME_TYPE, QByteArray(text.encode("utf-8")))
        data.setText("\n".join(names))
        self._clipboard().setMimeData(data)
        document.message.emit(f"Copied {len(names)} act{'s' if len(names) != 1 else ''}")
        return True

    def copied(self) -> CopiedActs | None:
        """The acts on the clipboard rebased for this project; None (and a status message) when there are
        none. Plain text holding act JSON is accepted too (pasted from a text editor or another tool)."""
        data = self._clipboard().mimeData()
        if data is not None and data.hasFormat(ACTS_MIME_TYPE):
            text = bytes(data.data(ACTS_MIME_TYPE).data()).decode("utf-8", errors="replace")
        else:
            text = data.text() if data is not None else ""
        try:
            return decode_acts(text, self.document.project_dir)
        except EditError as error:
            self.document.message.emit(f"Cannot paste: {error}")
            return None

    def paste_index(self) -> int:
        """Where pasted acts go: after the last selected act, else after the act under the playhead, else
        at the end of the track."""
        project = self.document.project
        positions = {act.id: index for index, act in enumerate(project.acts)}
        selected = [positions[i] for i in self.document.selected_ids if i in positions]
        if selected:
            return max(selected) + 1
        at = project.act_at(self.document.playhead)
        return len(project.acts) if at is None else at + 1

    def paste(self) -> bool:
        copied = self.copied()
        if copied is None:
            return False
        command = PasteActs(list(copied.acts), self.paste_index(), list(copied.templates))
        if not self.document.execute(command):
            return False
        self.document.set_selection(command.new_ids)
        return True

    def duplicate(self) -> bool:
        command = DuplicateActs(list(self.document.selected_ids))
        if not self.document.execute(command):
            return False
        self.document.set_selection(command.new_ids)
        return True

    def paste_attributes(self, source: Act, groups: frozenset[AttributeGroup]) -> bool:
        """Paste the chosen groups of `source`'s settings (a copied act) onto the selected acts."""
        return self.document.execute(PasteAttributes(list(self.document.selected_ids), source, groups))


_GROUP_LABELS = {
    AttributeGroup.motion: "&Motion (camera move, audio reactivity)",
    AttributeGroup.look: "&Look (style prompt, grade, LUT, finish)",
    AttributeGroup.generation: "&Generation (settings and backends)",
}


class PasteAttributesDialog(QDialog):
    """Asks which groups of settings to paste; `groups()` is the answer."""

    def __init__(self, source_name: str, target_count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paste Attributes")
        layout = QVBoxLayout(self)
        acts = f"{target_count} selected act{'s' if target_count != 1 else ''}"
        layout.addWidget(QLabel(f"Paste from '{source_name}' onto {acts}:"))
        self.checks: dict[AttributeGroup, QCheckBox] = {}
        for group, label in _GROUP_LABELS.items():
            check = QCheckBox(label)
            check.setChecked(True)
            check.toggled.connect(self._on_check_toggled)
            layout.addWidget(check)
            self.checks[group] = check
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def groups(self) -> frozenset[AttributeGroup]:
        return frozenset(group for group, check in self.checks.items() if check.isChecked())

    def _on_check_toggled(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.groups()))
