"""The template browser's management side: the user's library (save the selected acts as a template,
duplicate, edit, rename, delete, import and export bundles) and the offers to update acts to a newer version
of their template.

Every library change goes through TemplateLibrary (which writes atomically and refuses built-ins); this module
only asks the user (dialogs), reports refusals in a message box with the library's one-line error, and
announces what changed so the browser can show it. The questions go through Qt's static dialogs and
`exec()`, which tests replace (monkeypatch) to answer without a modal loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.templates import (
    LibraryTemplate,
    TemplateInstalled,
    TemplateLibrary,
    embed_template,
    export_bundle,
    import_bundle,
    template_files_from_act,
    template_from_acts,
)
from app.errors import InputError
from app.model.act import Act
from app.model.template import EmbeddedTemplate
from app.model.template_commands import UpdateTemplate, acts_with_older_version
from app.ui.document import DocumentController
from app.ui.files import open_file_name, save_file_name

if TYPE_CHECKING:
    import numpy as np

    from app.engine.worker import DraftService

_BUNDLE_FILTER = "Template bundles (*.zip)"
_T = TypeVar("_T")


@dataclass(frozen=True)
class TemplateDetails:
    """What the user names and describes a template with (tags: lowercase words, see Template.tags)."""

    name: str
    tags: tuple[str, ...] = ()
    description: str = ""
    style_prompt: str = ""
    negative_prompt: str = ""


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated tags as typed, trimmed, lowercased, empty ones and repeats dropped."""
    return tuple(dict.fromkeys(tag.strip().lower() for tag in text.split(",") if tag.strip()))


class TemplateDetailsDialog(QDialog):
    """Name, tags and description of a template; with `prompts`, also its style and negative prompts."""

    def __init__(
        self, title: str, initial: TemplateDetails, prompts: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.name = QLineEdit(initial.name)
        self.tags = QLineEdit(", ".join(initial.tags))
        self.tags.setPlaceholderText("e.g. noir, moody, black and white")
        self.description = QPlainTextEdit(initial.description)
        self.style_prompt = QPlainTextEdit(initial.style_prompt)
        self.negative_prompt = QPlainTextEdit(initial.negative_prompt)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Tags", self.tags)
        form.addRow("Description", self.description)
        if prompts:
            form.addRow("Style prompt", self.style_prompt)
            form.addRow("Negative prompt", self.negative_prompt)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.name.textChanged.connect(self._on_name_text_changed)
        self._on_name_text_changed(self.name.text())

    def details(self) -> TemplateDetails:
        return TemplateDetails(
            name=self.name.text().strip(),
            tags=parse_tags(self.tags.text()),
            description=self.description.toPlainText().strip(),
            style_prompt=self.style_prompt.toPlainText().strip(),
            negative_prompt=self.negative_prompt.toPlainText().strip(),
        )

    @Slot(str)
    def _on_name_text_changed(self, text: str) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(text.strip()))


class LibraryActions(QObject):
    """The library-management actions (shared by the Templates menu and the browser's context menu).

    `current()` says which template the browser shows as current (call `update_enabled` when it or the
    selection changes); `changed(id)` is emitted after every change with the id of the template made or
    changed ("" after a delete).
    """

    changed = Signal(str)

    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        library: TemplateLibrary,
        current: Callable[[], LibraryTemplate | None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._library = library
        self._current = current
        self._parent = parent
        self.save_selection_action = self._action("&Save Selection as Template…", self.save_selection)
        self.duplicate_action = self._action("D&uplicate Template", self.duplicate)
        self.edit_action = self._action("&Edit Template…", self.edit)
        self.rename_action = self._action("Re&name Template…", self.rename)
        self.delete_action = self._action("&Delete Template", self.delete)
        self.import_action = self._action("&Import Bundle…", self.import_bundle)
        self.export_action = self._action("E&xport Bundle…", self.export_bundle)

    def _action(self, text: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(lambda checked=False: slot())
        return action

    def update_enabled(self) -> None:
        """Enable what applies to the current template (built-ins can only be duplicated and exported)."""
        entry = self._current()
        self.save_selection_action.setEnabled(bool(self._document.selected_ids))
        for action in (self.duplicate_action, self.export_action):
            action.setEnabled(entry is not None)
        for action in (self.edit_action, self.rename_action, self.delete_action):
            action.setEnabled(entry is not None and not entry.builtin)
            action.setToolTip("" if entry is None or not entry.builtin else "Built in: duplicate it first")

    # -- the actions -----------------------------------------------------------------------------------------

    def save_selection(self) -> LibraryTemplate | None:
        """Ask for a name, tags and a description, then save the selected acts' look as a user template."""
        acts = self._selected_acts()
        if not acts:
            self._document.message.emit("Select the acts whose look to save as a template")
            return None
        details = self._ask("Save as template", TemplateDetails(acts[0].name), prompts=False)
        return self.save_acts(acts, details) if details is not None else None

    def save_acts(self, acts: list[Act], details: TemplateDetails) -> LibraryTemplate | None:
        """Save the look of `acts` as a new user template; its thumbnail is the first act's draft frame in
        the middle of the act when that draft is ready (else it has none until one is saved)."""

        def save() -> LibraryTemplate:
            template_id = self._library.new_id(details.name)
            template = template_from_acts(acts, template_id, details.name, details.tags, details.description)
            files = template_files_from_act(acts[0], self._document.project_dir)
            saved = self._library.save(template, files)
            picture = self._draft_picture(acts[0])
            return saved if picture is None else self._library.save_thumbnail(template_id, picture)

        return self._changing("Cannot save the template", save, "Saved template '{}'")

    def duplicate(self) -> LibraryTemplate | None:
        """A user copy of the current template (any, built-ins included) named "<name> copy"."""
        entry = self._current()
        if entry is None:
            return None
        name = f"{entry.template.name} copy"
        return self._changing(
            "Cannot duplicate the template",
            lambda: self._library.duplicate(entry.template.id, name),
            "Duplicated as '{}'",
        )

    def edit(self) -> LibraryTemplate | None:
        """Edit the current user template's name, tags, description and prompts (saved as a new version)."""
        entry = self._current()
        if entry is None:
            return None
        template = entry.template
        initial = TemplateDetails(
            template.name,
            template.tags,
            template.description,
            template.style_prompt,
            template.negative_prompt,
        )
        edited = self._ask(f"Edit template '{template.name}'", initial, prompts=True)
        if edited is None:
            return None
        changes: dict[str, Any] = {
            field: value
            for field, value in vars(edited).items()
            if value != getattr(initial, field) and not (field == "name" and not value)
        }
        if not changes:
            return entry
        return self._changing(
            "Cannot edit the template",
            lambda: self._library.edit(template.id, **changes),
            "Saved template '{}' as a new version",
        )

    def rename(self) -> LibraryTemplate | None:
        """Give the current user template a new display name (a new version; its id stays)."""
        entry = self._current()
        if entry is None:
            return None
        name, ok = QInputDialog.getText(
            self._parent, "Rename template", "Name:", QLineEdit.EchoMode.Normal, entry.template.name
        )
        if not ok or not name.strip() or name.strip() == entry.template.name:
            return None
        return self._changing(
            "Cannot rename the template",
            lambda: self._library.rename(entry.template.id, name.strip()),
            "Renamed to '{}'",
        )

    def delete(self) -> bool:
        """Delete the current user template after asking; built-ins are refused with the library's reason."""
        entry = self._current()
        if entry is None:
            return False
        if not entry.builtin:
            answer = QMessageBox.question(
                self._parent,
                "Delete template",
                f"Delete the template '{entry.template.name}' from your library? Projects that use it keep "
                "their copy.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False

        def remove() -> bool:
            self._library.delete(entry.template.id)
            return True

        if not self._guarded("Cannot delete the template", remove):
            return False
        self._document.message.emit(f"Deleted template '{entry.template.name}'")
        self.changed.emit("")
        return True

    def import_bundle(self) -> LibraryTemplate | None:
        """Install a template bundle (.zip) chosen by the user; one already installed is replaced only when
        the user agrees. A bad bundle is refused with its one-line reason and changes nothing."""
        name, _ = open_file_name(self._parent, "Import template bundle", str(Path.home()), _BUNDLE_FILTER)
        if not name:
            return None
        path = Path(name)
        entry: LibraryTemplate | None
        try:
            entry = import_bundle(path, self._library)
        except TemplateInstalled as error:
            if not self._confirm_replace(str(error)):
                return None
            entry = self._guarded(
                "Cannot import the bundle", lambda: import_bundle(path, self._library, replace=True)
            )
        except InputError as error:
            QMessageBox.warning(self._parent, "Cannot import the bundle", str(error))
            return None
        except OSError as error:
            QMessageBox.warning(self._parent, "Cannot import the bundle", _os_message(error))
            return None
        if entry is None:
            return None
        self._document.message.emit(f"Imported template '{entry.template.name}' v{entry.template.version}")
        self.changed.emit(entry.template.id)
        return entry

    def export_bundle(self) -> Path | None:
        """Write the current template as a .zip bundle where the user says."""
        entry = self._current()
        if entry is None:
            return None
        start = str(Path.home() / f"{entry.template.id}.zip")
        name, _ = save_file_name(self._parent, "Export template bundle", start, _BUNDLE_FILTER)
        if not name:
            return None
        path = Path(name) if name.lower().endswith(".zip") else Path(f"{name}.zip")
        written = self._guarded(
            "Cannot export the bundle", lambda: export_bundle(entry.template.id, self._library, path)
        )
        if written is not None:
            self._document.message.emit(f"Exported '{entry.template.name}' to {written}")
        return written

    # -- helpers ---------------------------------------------------------------------------------------------

    def _selected_acts(self) -> list[Act]:
        by_id = {act.id: act for act in self._document.project.acts}
        return [by_id[act_id] for act_id in self._document.selected_ids if act_id in by_id]

    def _draft_picture(self, act: Act) -> np.ndarray | None:
        """The act's draft frame in its middle, when its draft is up to date (never a stale look)."""
        if self._drafts.status(act.id).state != "ready":
            return None
        project = self._document.project
        start = project.act_starts()[project.acts.index(act)]
        return self._drafts.frame(start + act.duration_frames // 2)

    def _ask(self, title: str, initial: TemplateDetails, prompts: bool) -> TemplateDetails | None:
        """The details the user entered, or None when they cancelled."""
        dialog = TemplateDetailsDialog(title, initial, prompts, self._parent)
        try:
            return dialog.details() if dialog.exec() else None
        finally:
            dialog.deleteLater()

    def _confirm_replace(self, reason: str) -> bool:
        answer = QMessageBox.question(self._parent, "Replace template", f"{reason}. Replace it?")
        return answer == QMessageBox.StandardButton.Yes

    def _guarded(self, title: str, work: Callable[[], _T]) -> _T | None:
        """Run `work`; a refusal (InputError) or a file error is shown in a message box and gives None."""
        try:
            return work()
        except InputError as error:
            QMessageBox.warning(self._parent, title, str(error))
        except OSError as error:
            QMessageBox.warning(self._parent, title, _os_message(error))
        return None

    def _changing(
        self, title: str, work: Callable[[], LibraryTemplate], report: str
    ) -> LibraryTemplate | None:
        """Run a library change; on success report it (`report` formatted with the template's name)."""
        entry = self._guarded(title, work)
        if entry is not None:
            self._document.message.emit(report.format(entry.template.name))
            self.changed.emit(entry.template.id)
        return entry


def _os_message(error: OSError) -> str:
    return f"{error.filename}: {error.strerror or error}" if error.filename else str(error)


# -- updates ------------------------------------------------------------------------------------------------


def embedded_copy(document: DocumentController, entry: LibraryTemplate) -> EmbeddedTemplate | None:
    """The template copied beside the project, ready to embed (None, with a message, when it cannot be).

    An untitled project has no folder of its own yet; a template with files (a LUT, reference frames) waits
    until it is saved rather than scattering copies into whatever folder Storybeat was started from."""
    carries_files = entry.template.lut is not None or bool(entry.template.references)
    if document.path is None and carries_files:
        document.message.emit(
            f"Save the project first: '{entry.template.name}' copies its files beside the project file"
        )
        return None
    try:
        return embed_template(entry, document.project_dir)
    except InputError as error:
        document.message.emit(str(error))
    except OSError as error:
        document.message.emit(f"Cannot copy the template's files: {_os_message(error)}")
    return None


def describe_update(entry: LibraryTemplate, acts: Sequence[Act]) -> str:
    """ "3 acts use 'Noir' v1 — v2 is available" for the acts linked to older versions of the template."""
    versions = sorted({act.template.version for act in acts if act.template is not None})
    used = ", ".join(f"v{version}" for version in versions)
    verb = "act uses" if len(acts) == 1 else "acts use"
    return f"{len(acts)} {verb} '{entry.template.name}' {used} — v{entry.template.version} is available"


class UpdateBar(QFrame):
    """One template's update offer: the text of `describe_update` and an Update button."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("UpdateBar { background: #2d3440; border-radius: 3px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.button = QPushButton("Update")
        self.button.setToolTip("Update these acts; fields you changed by hand keep your values")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)


class UpdateOffers(QWidget):
    """A bar for every library template that acts of the project use in an older version."""

    def __init__(self, document: DocumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._entries: Mapping[str, LibraryTemplate] = {}
        self.bars: dict[str, UpdateBar] = {}  # template id -> its bar
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def refresh(self, entries: Mapping[str, LibraryTemplate]) -> None:
        """Compare the project's acts with the library's templates `entries` (by id) and show the offers."""
        self._entries = entries
        project = self._document.project
        wanted: dict[str, str] = {}
        for template_id, entry in entries.items():
            ids = set(acts_with_older_version(project, template_id, entry.template.version))
            if ids:
                wanted[template_id] = describe_update(entry, [act for act in project.acts if act.id in ids])
        for template_id in list(self.bars):
            if wanted.get(template_id) != self.bars[template_id].label.text():
                self.bars.pop(template_id).deleteLater()
        for template_id, text in wanted.items():
            if template_id not in self.bars:
                bar = UpdateBar(text, self)
                bar.button.clicked.connect(lambda checked=False, t=template_id: self.update_acts(t))
                self._layout.addWidget(bar)
                self.bars[template_id] = bar
        self.setVisible(bool(self.bars))

    def update_acts(self, template_id: str) -> bool:
        """Move the acts that use older versions of the template to the library's version as one undo step;
        the status bar says how many fields the user had changed and kept."""
        entry = self._entries.get(template_id)
        project = self._document.project
        ids = acts_with_older_version(project, template_id, entry.template.version) if entry else []
        embedded = embedded_copy(self._document, entry) if entry is not None and ids else None
        if entry is None or embedded is None:
            return False
        command = UpdateTemplate(ids, embedded)
        if not self._document.execute(command):
            return False
        kept = sum(len(fields) for fields in command.kept.values())
        acts = "1 act" if len(ids) == 1 else f"{len(ids)} acts"
        fields = "1 field" if kept == 1 else f"{kept} fields"
        self._document.message.emit(
            f"Updated {acts} to '{entry.template.name}' v{entry.template.version}; kept {fields} you changed"
        )
        return True
