"""The template browser: find a look in the template library and apply it to acts, preview it on the
selected act, update acts to newer versions of their template, and manage the user's library.

Applying embeds the template in the project (its files copied beside the project) and runs ApplyTemplate —
grouped with ApplyPacing when the user also wants the template's cuts — as one undoable edit. The preview is
the selected act as that edit would leave it, rendered by the draft worker (`DraftService
.set_variant_preview`, asked for only while the browser is on screen) and looped here at the project rate.
Cards drag onto the timeline's acts as TEMPLATE_MIME carrying the template id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.templates import LibraryTemplate, TemplateLibrary
from app.engine.templates.library import matching
from app.errors import RenderError
from app.model.commands import Changes
from app.model.media import MediaRef
from app.model.pacing import ApplyPacing, parse_pacing
from app.model.template import EmbeddedTemplate
from app.model.template_commands import ApplyTemplate
from app.ui.document import DocumentController
from app.ui.template_dialogs import LibraryActions, UpdateOffers, embedded_copy
from app.ui.timeline.dropped_images import TEMPLATE_MIME
from app.ui.viewer import wrap_rgb

if TYPE_CHECKING:
    from app.engine.clip import StoredClip
    from app.engine.worker import DraftService

CARD_PICTURE = QSize(144, 81)  # pixels
PREVIEW_WIDTH = 256  # pixels; the height follows the project's aspect
#: Typing pauses this long (ms) before the library is searched: each search reads every template folder.
SEARCH_DELAY_MS = 150
_ID_ROLE = Qt.ItemDataRole.UserRole


class _Refused(Exception):
    """A command of a grouped edit was refused; the document has shown why and the group rolls back."""


def preview_embedding(entry: LibraryTemplate) -> EmbeddedTemplate:
    """The template as applying it would embed it, but with its files referenced where they lie in the
    library (absolute paths): previewing copies nothing into the project folder."""
    template = entry.template

    def where(name: str) -> MediaRef:
        return MediaRef(path=entry.path(name).resolve().as_posix())

    return EmbeddedTemplate(
        template=template,
        lut=where(template.lut) if template.lut is not None else None,
        references=tuple(where(name) for name in template.references),
    )


class TemplateCardList(QListWidget):
    """Template cards (thumbnail, name, version, tags, "built-in") that drag as TEMPLATE_MIME."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(CARD_PICTURE)
        self.setGridSize(QSize(CARD_PICTURE.width() + 12, CARD_PICTURE.height() + 64))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def mimeTypes(self) -> list[str]:
        return [TEMPLATE_MIME]

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        # Copy only: a move accepted by the drop target would make the view remove the dragged card.
        super().startDrag(Qt.DropAction.CopyAction)

    def mimeData(self, items: Sequence[QListWidgetItem]) -> QMimeData:
        mime = QMimeData()
        if items:
            mime.setData(TEMPLATE_MIME, QByteArray(str(items[0].data(_ID_ROLE)).encode()))
        return mime


class TemplatePreview(QLabel):
    """The selected act as a template would leave it, looped at the project rate once the worker has
    rendered it; until then (or without an act or a template) a line saying why there is no picture."""

    def __init__(
        self, document: DocumentController, drafts: DraftService, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self.active = False  # on screen: the worker is asked for the preview only then
        self._wanted = False  # an act and a template are chosen
        self._why = ""
        self._clip: StoredClip | None = None
        self.shown_index: int | None = None  # body frame on screen, None while there is no picture
        self._frame = 0  # the loop position, in frames
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setStyleSheet("background: #0d0e10; color: #8b8e94;")
        drafts.variant_ready.connect(self._on_drafts_variant_ready)
        drafts.variant_status_changed.connect(self._on_drafts_variant_status_changed)

    def request(self, act_id: str | None, entry: LibraryTemplate | None, why: str) -> None:
        """Preview `entry` on act `act_id` (when both are given), else show `why`."""
        self._wanted, self._why = act_id is not None and entry is not None, why
        if self.active and act_id is not None and entry is not None:
            self._drafts.set_variant_preview(act_id, preview_embedding(entry))
        else:
            self._drafts.set_variant_preview(None, None)
        settings = self._document.project.settings
        self.setFixedHeight(max(24, round(PREVIEW_WIDTH * settings.height / settings.width)))
        self._on_drafts_variant_ready()

    @Slot()
    def _on_drafts_variant_ready(self) -> None:
        clip = self._drafts.variant_clip() if self._wanted and self.active else None
        if clip is not self._clip:
            self._clip, self._frame = clip, 0
        self._show_picture()
        interval = max(1, round(1000 / self._document.project.settings.fps))
        if clip is None:
            self._timer.stop()
        elif not self._timer.isActive() or self._timer.interval() != interval:
            self._timer.start(interval)  # only a new rate restarts it: edits must not stall the loop

    @Slot()
    def _show_picture(self) -> None:
        """The frame at the loop position, else the status line."""
        pixmap = self._pixmap(self._frame % self._clip.length) if self._clip is not None else None
        if pixmap is not None and self._clip is not None:
            self.shown_index = self._frame % self._clip.length
            self.setPixmap(pixmap)
            return
        self.shown_index = None
        status = self._drafts.variant_status()
        if not self._wanted:
            self.setText(self._why)
        elif status.state == "failed":
            self.setText(f"Preview failed: {status.message}")
        elif status.state == "rendering":
            self.setText(f"Rendering preview… {status.progress:.0%}")
        else:
            self.setText("Rendering preview…")

    @Slot()
    def _on_drafts_variant_status_changed(self) -> None:
        if self._clip is None:  # a picture on screen stays until the new one is ready
            self._show_picture()

    def _pixmap(self, index: int) -> QPixmap | None:
        assert self._clip is not None
        try:
            rgb = self._clip.frame(index)
        except (OSError, RenderError):
            return None  # the cache dropped the preview meanwhile: the status line stands in
        _, image = wrap_rgb(rgb)
        size, mode = QSize(PREVIEW_WIDTH, self.height()), Qt.TransformationMode.SmoothTransformation
        # The pixmap owns its pixels: `rgb` may go now.
        return QPixmap.fromImage(image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode))

    @Slot()
    def _on_timer_timeout(self) -> None:
        self._frame += 1
        self._show_picture()


class TemplateBrowser(QWidget):
    """The Templates panel (see the module docstring)."""

    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        library: TemplateLibrary,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self.library = library
        self._entries: dict[str, LibraryTemplate] = {}
        self._icons: dict[tuple[str, int], QIcon] = {}  # (thumbnail path, mtime) -> icon
        self.manage = LibraryActions(document, drafts, library, self.current_entry, self)
        self._build()
        self.manage.changed.connect(self._on_manage_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_changed)
        document.selection_changed.connect(self._on_document_selection_changed)
        self.reload()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search templates…")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._refill_cards)
        self.search.textChanged.connect(self._search_timer.start)
        self.tags = QListWidget()  # checkable chips; every checked tag is required
        self.tags.setFlow(QListView.Flow.LeftToRight)
        self.tags.setWrapping(True)
        self.tags.setMaximumHeight(56)
        self.tags.setToolTip("Show only templates with every checked tag")
        self.tags.itemChanged.connect(self._refill_cards)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #f0a030;")
        self.updates = UpdateOffers(self._document)
        self.cards = TemplateCardList()
        self.cards.currentItemChanged.connect(self._on_cards_current_item_changed)
        self.cards.itemDoubleClicked.connect(self._on_cards_item_double_clicked)
        self.cards.customContextMenuRequested.connect(self._on_cards_context_menu_requested)
        self.preview = TemplatePreview(self._document, self._drafts)
        self.recut = QCheckBox("Also re-cut to the template's pacing")
        self.recut.setToolTip("Re-time all acts with the template's pacing preset in the same undo step")
        self.apply_button = QPushButton("Apply to selection")
        self.apply_button.clicked.connect(self.apply_to_selection)
        more = QToolButton()
        more.setText("Library")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setMenu(self._manage_menu(QMenu(more)))
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button, 1)
        buttons.addWidget(more)
        layout.addWidget(self.search)
        layout.addWidget(self.tags)
        layout.addWidget(self.problems)
        layout.addWidget(self.updates)
        layout.addWidget(self.cards, 1)
        layout.addWidget(self.preview)
        layout.addWidget(self.recut)
        layout.addLayout(buttons)

    def _manage_menu(self, menu: QMenu) -> QMenu:
        manage = self.manage
        menu.addActions(
            [manage.duplicate_action, manage.edit_action, manage.rename_action, manage.delete_action]
        )
        menu.addSeparator()
        menu.addActions([manage.save_selection_action, manage.import_action, manage.export_action])
        return menu

    # -- the library and the cards -----------------------------------------------------------------------

    def reload(self) -> None:
        """Read the library again (after a change on disk) and refresh tags, cards, problems and updates."""
        self._entries = {entry.template.id: entry for entry in self.library.all()}
        problems = self.library.problems
        self.problems.setText("\n".join(f"⚠ {problem}" for problem in problems))
        self.problems.setVisible(bool(problems))
        checked = set(self.checked_tags())
        self.tags.blockSignals(True)
        self.tags.clear()
        for tag in sorted({tag for entry in self._entries.values() for tag in entry.template.tags}):
            item = QListWidgetItem(tag, self.tags)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if tag in checked else Qt.CheckState.Unchecked)
        self.tags.blockSignals(False)
        self._refill_cards()
        self.updates.refresh(self._entries)

    def checked_tags(self) -> list[str]:
        items = (self.tags.item(row) for row in range(self.tags.count()))
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def shown_ids(self) -> list[str]:
        """The ids of the cards shown, in order."""
        return [str(self.cards.item(row).data(_ID_ROLE)) for row in range(self.cards.count())]

    def current_entry(self) -> LibraryTemplate | None:
        item = self.cards.currentItem()
        return self._entries.get(str(item.data(_ID_ROLE))) if item is not None else None

    def select_template(self, template_id: str) -> None:
        """Make the card of `template_id` current (when it is shown)."""
        for row in range(self.cards.count()):
            if self.cards.item(row).data(_ID_ROLE) == template_id:
                self.cards.setCurrentRow(row)
                return

    @Slot()
    def _refill_cards(self) -> None:
        current = self.current_entry()
        self.cards.blockSignals(True)
        self.cards.clear()
        # The entries read by `reload`: filtering them re-reads no folder (no image decoding per keystroke).
        for entry in matching(self._entries.values(), self.search.text(), self.checked_tags()):
            template = entry.template
            lines = [template.name, f"v{template.version}" + (" · built-in" if entry.builtin else "")]
            if template.tags:
                lines.append(", ".join(template.tags))
            item = QListWidgetItem(self._icon(entry), "\n".join(lines), self.cards)
            item.setData(_ID_ROLE, template.id)
            item.setToolTip(template.description or template.name)
        self.cards.blockSignals(False)
        if current is not None:
            self.select_template(current.template.id)
        self._on_current_changed()

    def _icon(self, entry: LibraryTemplate) -> QIcon:
        path = entry.thumbnail_path
        key = (str(path), path.stat().st_mtime_ns if path is not None else 0)
        if key not in self._icons:
            pixmap = QPixmap(str(path)) if path is not None else QPixmap()
            if pixmap.isNull():
                pixmap = QPixmap(CARD_PICTURE)
                pixmap.fill(QColor("#1b1d21"))
            mode = Qt.TransformationMode.SmoothTransformation
            self._icons[key] = QIcon(pixmap.scaled(CARD_PICTURE, Qt.AspectRatioMode.KeepAspectRatio, mode))
        return self._icons[key]

    # -- applying and updating ---------------------------------------------------------------------------

    def apply_to_selection(self) -> bool:
        """Apply the current template to the selected acts (see `apply_template`)."""
        entry = self.current_entry()
        if entry is None:
            self._document.message.emit("Choose a template first")
            return False
        if not self._document.selected_ids:
            self._document.message.emit("Select the acts to apply the template to")
            return False
        return self.apply_template(entry.template.id, list(self._document.selected_ids))

    @Slot(str, list)
    def apply_template(self, template_id: str, act_ids: list[str]) -> bool:
        """Embed the template in the project and apply it to `act_ids` as one undo step — with the template's
        pacing too when "re-cut" is checked, the template has a preset and the project has beats. A refusal
        is shown as a message and changes nothing; returns whether the edit was made."""
        entry = self._entries.get(template_id)
        if entry is None:
            self._document.message.emit(f"No template '{template_id}' in the library")
            return False
        embedded = embedded_copy(self._document, entry)
        if embedded is None:
            return False
        apply = ApplyTemplate(act_ids, embedded)
        preset = entry.template.pacing.preset
        if not self.recut.isChecked() or preset is None:
            applied = self._document.execute(apply)
            if applied:
                self._document.message.emit(apply.summary)  # says which of the user's settings were kept
            return applied
        project = self._document.project
        if not project.beats.beat_frames(project.settings.fps):
            applied = self._document.execute(apply)
            if applied:
                self._document.message.emit(f"{apply.summary}; the cuts were left alone: no beats yet")
            return applied
        name, params = parse_pacing(preset)
        pacing = ApplyPacing(name, **params)
        try:
            with self._document.group(f"{apply.label} with its pacing"):
                if not self._document.execute(apply) or not self._document.execute(pacing):
                    raise _Refused
        except _Refused:
            return False
        if pacing.result is not None:
            self._document.message.emit(f"{apply.summary}. {pacing.result.summary}")
        return True

    # -- the preview -------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.preview.active

    def set_active(self, active: bool) -> None:
        """Whether the panel is on screen (connect the dock's visibilityChanged): only then is the preview
        rendered and played, leaving the worker to the act drafts otherwise. Coming on screen reads the
        library again, catching templates imported meanwhile from the command line."""
        self.preview.active = active
        if active:
            self.reload()
        else:
            self._request_preview()

    def _request_preview(self) -> None:
        entry, ids = self.current_entry(), self._document.selected_ids
        if entry is None:
            self.preview.request(None, None, "Choose a template to preview it on the selected act")
        elif len(ids) != 1:
            self.preview.request(None, None, "Select one act to preview the template on it")
        else:
            self.preview.request(ids[0], entry, "")

    # -- slots -------------------------------------------------------------------------------------------

    def _on_current_changed(self) -> None:
        entry = self.current_entry()
        has_preset = entry is not None and entry.template.pacing.preset is not None
        self.recut.setEnabled(has_preset)
        self.apply_button.setEnabled(entry is not None and bool(self._document.selected_ids))
        self.manage.update_enabled()
        self._request_preview()

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_cards_current_item_changed(
        self, current: QListWidgetItem | None, previous: QListWidgetItem | None
    ) -> None:
        self._on_current_changed()

    @Slot(QListWidgetItem)
    def _on_cards_item_double_clicked(self, item: QListWidgetItem) -> None:
        self.select_template(str(item.data(_ID_ROLE)))
        self.apply_to_selection()

    @Slot(QPoint)
    def _on_cards_context_menu_requested(self, position: QPoint) -> None:
        item = self.cards.itemAt(position)
        if item is None:
            return
        self.cards.setCurrentItem(item)
        menu = QMenu(self)
        apply = menu.addAction("Apply to Selection")
        apply.setEnabled(bool(self._document.selected_ids))
        apply.triggered.connect(self.apply_to_selection)
        menu.addSeparator()
        self._manage_menu(menu).exec(self.cards.viewport().mapToGlobal(position))

    @Slot(str)
    def _on_manage_changed(self, template_id: str) -> None:
        self.reload()
        if template_id:
            self.select_template(template_id)

    def _on_document_changed(self, changes: Changes | None = None) -> None:
        """After an edit, an undo or another project: offers, buttons and the preview follow."""
        self.updates.refresh(self._entries)
        self._on_current_changed()

    @Slot()
    def _on_document_selection_changed(self) -> None:
        self._on_current_changed()
