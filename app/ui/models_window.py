"""The Models window: the curated catalog (download, with progress, cancel and resume), the registered models
(rename, remove, add a folder) and the models found on disk (register, scan another folder), each row with
its size, licence and a fit badge for this machine's GPU.

A view over `ModelsService`, which does the work: the rows arrive from its worker thread ("Scanning…"
meanwhile) and downloads run as its child processes, so closing this window (it only hides) stops nothing;
quitting the editor terminates running downloads and keeps what they fetched for a resume.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from pathlib import Path

from PySide6.QtCore import QSettings, Slot
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.engine.models.fit import FitLevel, GpuInfo
from app.engine.models.manager import ModelRow
from app.engine.models.pull import StoppedPull
from app.engine.models.registry import default_name_for
from app.errors import InputError
from app.ui.files import existing_directory
from app.ui.models_service import ModelDownload, ModelRows, ModelsService

_GIB = 1024**3
_MIB = 1024**2
#: QSettings key of the extra folders the Found tab scans.
SCAN_FOLDERS_KEY = "models/scan_folders"
#: Fit badge colours, readable on the dark theme.
FIT_COLOURS = {
    FitLevel.fits: "#6cc070",
    FitLevel.offload: "#d8b545",
    FitLevel.tight: "#e08a3c",
    FitLevel.too_big: "#e05a4f",
    FitLevel.cpu_only: "#9fa2a8",
}
NO_GPU = "No NVIDIA GPU found: generative models run on the CPU (slow)"


class Column(IntEnum):
    title = 0
    tasks = 1
    size = 2
    licence = 3
    fit = 4
    status = 5
    actions = 6


#: What a row's status says and the widget with its buttons (None: no buttons).
_Actions = Callable[[ModelRow], tuple[str, QWidget | None]]
_HEADERS = ("Model", "Tasks", "Size", "Licence", "Fit", "Status", "")


def format_size(size: int | None) -> str:
    """Bytes as binary gigabytes ("4.2 GB", as fit badges and GPUs count them); small sizes in MB."""
    if size is None:
        return "—"
    if size >= _GIB // 10:
        return f"{size / _GIB:.1f} GB"
    if size >= _MIB:
        return f"{round(size / _MIB)} MB"
    return f"{max(1, round(size / 1024))} kB"


def format_gpu(gpu: GpuInfo | None) -> str:
    return f"{gpu.name} · {gpu.free_bytes / _GIB:.1f} GB free" if gpu is not None else NO_GPU


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def format_progress(download: ModelDownload) -> str:
    """ "1.2 of 4.2 GB · 12.3 MB/s · 3 min 10 s left" as far as the child has told."""
    events = download.events
    if events.total is None:
        return "Starting…"
    parts = [f"{format_size(events.done)} of {format_size(events.total)}"]
    if events.speed is not None:
        speed = events.speed
        parts.append(f"{speed / 1e6:.1f} MB/s" if speed >= 1e6 else f"{round(speed / 1e3)} kB/s")
    if events.seconds_left is not None:
        parts.append(f"{format_duration(events.seconds_left)} left")
    return " · ".join(parts)


class RemoveModelDialog(QMessageBox):
    """Asks before a model is forgotten; "also delete its files" only for folders inside the models folder."""

    def __init__(self, name: str, path: Path, deletable: bool, models_dir: Path, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remove model")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText(f"Remove the model {name}?")
        self.setInformativeText(f"Storybeat forgets it; its folder stays unless you delete it:\n{path}")
        self.delete_files = QCheckBox("Also delete its files")
        self.delete_files.setEnabled(deletable)
        if not deletable:
            self.delete_files.setToolTip(f"Only folders inside {models_dir} are deleted from here")
        self.setCheckBox(self.delete_files)
        self.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        yes = self.button(QMessageBox.StandardButton.Yes)
        yes.setText("Remove")
        self.setDefaultButton(QMessageBox.StandardButton.Cancel)

    def ask(self) -> bool:
        return bool(self.exec() == QMessageBox.StandardButton.Yes.value)


def _table() -> QTableWidget:
    table = QTableWidget(0, len(_HEADERS))
    table.setHorizontalHeaderLabels(_HEADERS)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(Column.status, QHeaderView.ResizeMode.Stretch)
    # Long titles and licence names are cut short (the tooltip has them whole): the badge, status and
    # buttons stay in view.
    for column, width in ((Column.title, 210), (Column.licence, 170)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        table.setColumnWidth(column, width)
    header.setSectionResizeMode(Column.actions, QHeaderView.ResizeMode.Fixed)  # see _fit_actions
    return table


def _fit_actions(table: QTableWidget) -> None:
    """Widen the buttons column to its widest cell (the header does not size by cell widgets)."""
    cells = (table.cellWidget(row, Column.actions) for row in range(table.rowCount()))
    table.setColumnWidth(Column.actions, max((cell.sizeHint().width() for cell in cells if cell), default=0))


def _item(text: str, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _pull_row(name: str, download: ModelDownload | None, stopped: StoppedPull | None) -> ModelRow:
    """A catalog-table row for a pull (running, or stopped in this or an earlier session) of a repository
    the catalog does not list."""
    if download is not None:
        events = download.events
        repo_id, total, licence, gated = download.request.repo_id, events.total, events.license, events.gated
    else:
        assert stopped is not None
        repo_id, total, licence, gated = stopped.repo_id, stopped.total_bytes, stopped.license, stopped.gated
    return ModelRow(
        kind="catalog",
        name=name,
        title=repo_id,
        pipeline=None,
        tasks=(),
        size_bytes=total,
        license=licence,
        gated=gated,
        fit=None,
        path=None,
        registered_as=None,
        partial_bytes=stopped.partial_bytes if stopped is not None else 0,
        notes=f"not in the catalog; registers as {name}",
    )


def _cell(*widgets: QWidget) -> QWidget:
    cell = QWidget()
    layout = QHBoxLayout(cell)
    layout.setContentsMargins(2, 1, 2, 1)
    layout.setSpacing(4)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QProgressBar) else 0)
    if not any(isinstance(widget, QProgressBar) for widget in widgets):
        layout.addStretch(1)  # buttons keep their size in a column made wide by a progress bar
    return cell


def _button(text: str, slot: Callable[[], object], tooltip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    if tooltip:
        button.setToolTip(tooltip)
    return button


class ModelsWindow(QDialog):
    """Non-modal; one instance per editor window (see MainWindow.open_models_window)."""

    def __init__(self, service: ModelsService, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setModal(False)
        self.resize(1280, 560)
        self._service = service
        self._settings = settings
        self._progress: dict[str, QProgressBar] = {}  # running downloads' bars in the catalog table
        self._names: dict[QTableWidget, list[str]] = {}  # each table's row names, top to bottom

        self.gpu_label = QLabel("Looking for a GPU…")
        self.gpu_label.setObjectName("modelsGpu")
        self.status_label = QLabel()
        self.status_label.setObjectName("hint")
        self.refresh_button = _button("Refresh", self._service.refresh, "Scan for models and the GPU again")
        header = QHBoxLayout()
        header.addWidget(self.gpu_label, 1)
        header.addWidget(self.status_label)
        header.addWidget(self.refresh_button)

        self.tabs = QTabWidget()
        self.catalog_table = _table()
        self.registered_table = _table()
        self.found_table = _table()
        self.pull_by_id_button = _button(
            "Download by repository id…", self._on_pull_by_id_clicked, "Any diffusers model on the Hub"
        )
        self.models_dir_label = QLabel()
        self.models_dir_label.setObjectName("hint")
        self.tabs.addTab(
            self._page(self.catalog_table, self.models_dir_label, self.pull_by_id_button), "Catalog"
        )
        self.add_folder_button = _button("Add folder…", self._on_add_folder_clicked)
        self.registered_hint = QLabel()
        self.registered_hint.setObjectName("hint")
        self.tabs.addTab(
            self._page(self.registered_table, self.registered_hint, self.add_folder_button), "Registered"
        )
        self.scan_folder_button = _button("Scan folder…", self._on_scan_folder_clicked)
        self.found_hint = QLabel()
        self.found_hint.setObjectName("hint")
        self.found_hint.setWordWrap(True)
        self.tabs.addTab(
            self._page(self.found_table, self.found_hint, self.scan_folder_button), "Found on disk"
        )

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)

        if not service.scan_folders:
            service.scan_folders = self.scan_folders()
        service.rows_ready.connect(self._on_service_rows_ready)
        service.scanning_changed.connect(self._on_service_scanning_changed)
        service.download_changed.connect(self._on_service_download_changed)
        service.failed.connect(self._on_service_failed)
        self._show_rows(service.rows)
        self._on_service_scanning_changed(service.scanning)

    def _page(self, table: QTableWidget, hint: QLabel, button: QPushButton) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(table, 1)
        footer = QHBoxLayout()
        footer.addWidget(hint, 1)
        footer.addWidget(button)
        layout.addLayout(footer)
        return page

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._service.refresh()  # free VRAM and the folders change while the window is hidden

    # -- what tests and the menu use -------------------------------------------------------------------

    def pull(self, repo_id: str, name: str | None = None) -> ModelDownload | None:
        """Start downloading `repo_id` as `name` (no question asked); a bad id or name is shown and None
        returned."""
        try:
            download = self._service.start_pull(repo_id, name)
        except InputError as error:
            self._warn("Cannot download", str(error))
            return None
        self.tabs.setCurrentIndex(0)
        return download

    def row_names(self, table: QTableWidget) -> list[str]:
        return list(self._names.get(table, []))

    def cell(self, table: QTableWidget, name: str, column: Column) -> QTableWidgetItem:
        item = table.item(self._names[table].index(name), column)
        assert item is not None
        return item

    def buttons(self, table: QTableWidget, name: str) -> dict[str, QPushButton]:
        """The action buttons of row `name`, by their text."""
        cell = table.cellWidget(self._names[table].index(name), Column.actions)
        found = cell.findChildren(QPushButton) if cell is not None else []
        return {button.text(): button for button in found}

    def progress_bar(self, name: str) -> QProgressBar | None:
        return self._progress.get(name)

    def scan_folders(self) -> list[Path]:
        stored = self._settings.value(SCAN_FOLDERS_KEY, [])
        values = [stored] if isinstance(stored, str) else stored if isinstance(stored, list) else []
        return [Path(value) for value in values if isinstance(value, str) and value]

    def add_scan_folder(self, folder: Path) -> None:
        folders = self.scan_folders()
        if folder not in folders:
            folders.append(folder)
            self._settings.setValue(SCAN_FOLDERS_KEY, [str(path) for path in folders])
        self._service.scan_folders = folders
        self.tabs.setCurrentIndex(2)
        self._service.refresh()

    # -- rows ------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_service_rows_ready(self, rows: ModelRows) -> None:
        self._show_rows(rows)

    @Slot(bool)
    def _on_service_scanning_changed(self, scanning: bool) -> None:
        self.status_label.setText("Scanning…" if scanning else "")
        self.refresh_button.setEnabled(not scanning)

    def _show_rows(self, rows: ModelRows | None) -> None:
        models_dir = self._service.registry.models_dir
        self.models_dir_label.setText(f"Downloads go to {models_dir}")
        self.registered_hint.setText(
            f"Removing a model deletes its files only if you ask and they are in {models_dir}"
        )
        if rows is not None:
            self.gpu_label.setText(format_gpu(rows.gpu))
            self.gpu_label.setToolTip(
                f"{rows.gpu.name}: {rows.gpu.total_bytes / _GIB:.1f} GB in all" if rows.gpu else ""
            )
        self._fill_catalog()
        self._fill(self.registered_table, rows.registered if rows else [], self._registered_actions)
        self._fill(self.found_table, rows.found if rows else [], self._found_actions)
        self.found_hint.setText(self._found_hint(rows))

    def _found_hint(self, rows: ModelRows | None) -> str:
        if rows is None:
            return ""
        places = [f"the Hugging Face cache ({rows.hf_cache})" if rows.hf_cache else "the Hugging Face cache"]
        places += [str(folder) for folder in self._service.scan_folders]
        found = "Found" if rows.found else "Nothing found"
        return "\n".join([f"{found} in {', '.join(places)}.", *rows.warnings])

    def _fill(self, table: QTableWidget, rows: list[ModelRow], actions: _Actions) -> None:
        table.setRowCount(0)
        self._names[table] = []
        for row in rows:
            status, widget = actions(row)
            self._add_row(table, row, status, widget)
        table.resizeRowsToContents()
        _fit_actions(table)

    def _add_row(self, table: QTableWidget, row: ModelRow, status: str, actions: QWidget | None) -> None:
        index = table.rowCount()
        table.insertRow(index)
        self._names.setdefault(table, []).append(row.name)
        tooltip = "\n".join(
            part for part in (row.title, row.pipeline, str(row.path) if row.path else "", row.notes) if part
        )
        table.setItem(index, Column.title, _item(row.title, tooltip))
        table.setItem(index, Column.tasks, _item(", ".join(task.replace("_", " ") for task in row.tasks)))
        table.setItem(index, Column.size, _item(format_size(row.size_bytes)))
        licence, gated = row.license or "—", row.gated
        table.setItem(
            index,
            Column.licence,
            _item(
                f"{licence} · gated" if gated else licence,
                f"{licence}: gated, the Hub asks you to accept its terms and log in (hf auth login) first"
                if gated
                else licence,
            ),
        )
        fit_item = _item("—", "The weights could not be read" if row.path is not None else "")
        if row.fit is not None:
            fit_item = _item(row.fit.badge, row.fit.detail)
            fit_item.setForeground(QColor(FIT_COLOURS[row.fit.level]))
        table.setItem(index, Column.fit, fit_item)
        table.setItem(index, Column.status, _item(status, status))
        if actions is not None:
            table.setCellWidget(index, Column.actions, actions)

    def _fill_catalog(self) -> None:
        table = self.catalog_table
        table.setRowCount(0)
        self._names[table] = []
        self._progress.clear()
        rows = self._service.rows.catalog if self._service.rows else []
        for row in rows:
            status, widget = self._download_actions(row.name, row)
            self._add_row(table, row, status, widget)
        listed = {row.name for row in rows}
        stopped = self._service.rows.stopped if self._service.rows else {}
        for name in [*self._service.downloads, *stopped]:  # pulls of repositories not in the catalog
            if name not in listed:
                listed.add(name)
                status, widget = self._download_actions(name, None)
                pull_row = _pull_row(name, self._service.downloads.get(name), stopped.get(name))
                self._add_row(table, pull_row, status, widget)
        table.resizeRowsToContents()
        _fit_actions(table)

    def _partial(self, name: str) -> int:
        """Bytes a stopped pull of `name` left, as of the latest scan."""
        rows = self._service.rows
        stopped = rows.stopped.get(name) if rows is not None else None
        return stopped.partial_bytes if stopped is not None else 0

    def _download_actions(self, name: str, row: ModelRow | None) -> tuple[str, QWidget | None]:
        download = self._service.downloads.get(name)
        if download is not None and download.state == "running":
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setMinimumWidth(260)
            self._progress[name] = bar
            self._update_bar(bar, download)
            cancel = _button("Cancel", lambda: self._service.cancel_pull(name), "Stop; what arrived is kept")
            return "", _cell(bar, cancel)  # the bar says it all
        if download is not None and download.state == "finishing":
            return "Checking and registering…", None
        if row is not None and row.registered_as is not None:
            return f"Registered as {row.registered_as}", None
        partial = self._partial(name)
        status = ""
        if download is not None and download.state == "failed":
            status = download.error
        elif download is not None and download.state == "cancelled":
            status = f"Cancelled: {format_size(partial)} kept" if partial else "Cancelled"
        elif partial:
            status = f"Stopped: {format_size(partial)} downloaded"
        if partial:
            resume = _button(
                f"Resume ({format_size(partial)} downloaded)", lambda: self._on_download_clicked(name)
            )
            discard = _button("Discard", lambda: self._on_discard_clicked(name), "Discard partial download")
            return status, _cell(resume, discard)
        label = "Retry" if download is not None else "Download"
        return status, _cell(_button(label, lambda: self._on_download_clicked(name)))

    def _update_bar(self, bar: QProgressBar, download: ModelDownload) -> None:
        fraction = download.fraction
        bar.setValue(round(1000 * fraction) if fraction is not None else 0)
        bar.setFormat(format_progress(download))
        bar.setToolTip(download.request.repo_id)

    def _registered_actions(self, row: ModelRow) -> tuple[str, QWidget | None]:
        name = row.name
        rename = _button("Rename", lambda: self._on_rename_clicked(name))
        remove = _button("Remove", lambda: self._on_remove_clicked(row))
        return f"{row.notes}: {row.path}" if row.notes else str(row.path), _cell(rename, remove)

    def _found_actions(self, row: ModelRow) -> tuple[str, QWidget | None]:
        if row.registered_as is not None:
            return f"Registered as {row.registered_as}", None
        register = _button("Register", lambda: self._on_register_clicked(row))
        register.setEnabled(bool(row.tasks))
        return row.notes, _cell(register)

    @Slot(str)
    def _on_service_download_changed(self, name: str) -> None:
        download = self._service.downloads.get(name)
        bar = self._progress.get(name)
        if download is not None and download.state == "running" and bar is not None:
            self._update_bar(bar, download)
            rows = self._service.rows
            if rows is None or name not in rows.curated:  # the plan tells its size and licence
                row = _pull_row(name, download, None)
                self.cell(self.catalog_table, name, Column.size).setText(format_size(row.size_bytes))
                licence = self.cell(self.catalog_table, name, Column.licence)
                licence.setText(f"{row.license or '—'}{' · gated' if row.gated else ''}")
        else:
            self._fill_catalog()

    @Slot(str)
    def _on_service_failed(self, message: str) -> None:
        self._warn("Models", message)

    def _warn(self, title: str, message: str) -> None:
        self.status_label.setText(message.splitlines()[0] if message else "")
        QMessageBox.warning(self, title, message)

    # -- catalog ---------------------------------------------------------------------------------------

    def _on_download_clicked(self, name: str) -> None:
        rows = self._service.rows
        curated = rows.curated.get(name) if rows is not None else None
        download = self._service.downloads.get(name)
        stopped = rows.stopped.get(name) if rows is not None else None
        if curated is not None:
            repo_id, revision, variant = curated.repo_id, curated.revision, curated.variant
            size: int | None = curated.download_bytes
            licence: str | None = curated.license
            gated, url = curated.gated, curated.license_url
            title = curated.title
        elif download is not None:
            request = download.request
            repo_id, revision, variant = request.repo_id, request.revision, request.variant
            size, licence, gated, url = (
                download.events.total,
                download.events.license,
                download.events.gated,
                None,
            )
            title = repo_id
        elif stopped is not None:
            repo_id, revision, variant = stopped.repo_id, stopped.revision, stopped.variant
            size, licence, gated, url = stopped.total_bytes, stopped.license, stopped.gated, None
            title = repo_id
        else:
            return
        partial = self._partial(name)
        lines = [f"{repo_id}: {format_size(size)} to download"]
        if partial:
            lines[0] = f"{repo_id}: {format_size(size)} in all, {format_size(partial)} already downloaded"
        lines.append(f"Licence: {licence or 'not stated'}")
        if gated:
            lines.append(
                "Gated: accept its terms on the Hub"
                + (f" ({url})" if url else "")
                + " and log in with `hf auth login` first"
            )
        free = rows.free_bytes if rows is not None else None
        where = self._service.registry.models_dir
        lines.append(f"Free disk space in {where}: {format_size(free) if free is not None else 'unknown'}")
        verb = "Resume" if partial else "Download"
        answer = QMessageBox.question(self, f"{verb} {title}?", "\n".join(lines))
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self._service.start_pull(repo_id, name, revision, variant)
        except InputError as error:
            self._warn("Cannot download", str(error))

    def _on_discard_clicked(self, name: str) -> None:
        try:
            self._service.discard_partial(name)
        except InputError as error:
            self._warn("Cannot discard", str(error))

    def _on_pull_by_id_clicked(self) -> None:
        repo_id, ok = QInputDialog.getText(
            self, "Download a model", "Hugging Face repository id (owner/name):"
        )
        repo_id = repo_id.strip()
        if not ok or not repo_id:
            return
        name = self._ask_name("Download a model", repo_id)
        if name is not None:
            self.pull(repo_id, name)

    def _ask_name(self, title: str, source: str) -> str | None:
        try:
            default = default_name_for(source)
        except InputError:
            default = ""
        name, ok = QInputDialog.getText(self, title, "Register it as:", text=default)
        return name.strip() if ok and name.strip() else None

    # -- registered and found ------------------------------------------------------------------------

    def _on_rename_clicked(self, name: str) -> None:
        new_name, ok = QInputDialog.getText(self, "Rename model", f"New name for {name}:", text=name)
        new_name = new_name.strip()
        if not ok or not new_name or new_name == name:
            return
        try:
            self._service.rename(name, new_name)
        except InputError as error:
            self._warn("Cannot rename", str(error))

    def _on_remove_clicked(self, row: ModelRow) -> None:
        path = row.path or Path()
        dialog = RemoveModelDialog(
            row.name, path, self._service.can_delete_files(path), self._service.registry.models_dir, self
        )
        if not dialog.ask():
            return
        try:
            self._service.remove(row.name, delete_files=dialog.delete_files.isChecked())
        except InputError as error:
            self._warn("Cannot remove", str(error))

    def _on_add_folder_clicked(self) -> None:
        folder = existing_directory(self, "Add a diffusers model folder", str(Path.home()))
        if not folder:
            return
        name = self._ask_name("Add model", Path(folder).name)
        if name is not None:
            self._service.add(name, Path(folder))
            self.status_label.setText(f"Checking {folder}…")

    def _on_register_clicked(self, row: ModelRow) -> None:
        if row.path is None:
            return
        name = self._ask_name("Register model", row.name)
        if name is not None:
            self._service.add(name, row.path)
            self.status_label.setText(f"Checking {row.path}…")

    def _on_scan_folder_clicked(self) -> None:
        folder = existing_directory(self, "Scan a folder for models", str(Path.home()))
        if folder:
            self.add_scan_folder(Path(folder))
