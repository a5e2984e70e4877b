"""The Models window and its service: rows with fit badges, rename / remove / add / register, scanned
folders, the inspector's lists following the registry, and downloads from a fake Hub on 127.0.0.1 through
the real child process (progress, finish and register, cancel and resume, discard, a gated repository)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.models.fit import FitLevel, GpuInfo
from app.engine.models.pull import partial_bytes
from app.engine.models.registry import ModelRegistry
from app.engine.worker import DraftService
from app.errors import InputError
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.models_service import ModelsService
from app.ui.models_window import (
    FIT_COLOURS,
    NO_GPU,
    SCAN_FOLDERS_KEY,
    Column,
    ModelsWindow,
    RemoveModelDialog,
    format_size,
)
from app.ui.preferences import Preferences
from tests.engine.fake_hub import FakeHub, point_at
from tests.engine.test_registry import write_fake_model
from tests.engine.tiny_models import save_tiny_sd

WAIT_MS = 20_000
PULL_MS = 120_000  # a pull validates the folder, which imports diffusers the first time
REPO = "someone/tiny-sd"
_GIB = 1024**3
RTX_4090 = GpuInfo("NVIDIA GeForce RTX 4090", 24 * _GIB, int(23.5 * _GIB))


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "config" / "models.json", models_dir=tmp_path / "models")


@pytest.fixture
def gpu() -> list[GpuInfo | None]:
    """What the fake nvidia-smi reports (tests set gpu[0])."""
    return [None]


@pytest.fixture
def service(registry: ModelRegistry, gpu: list[GpuInfo | None], tmp_path: Path) -> Iterator[ModelsService]:
    made = ModelsService(registry, gpu_probe=lambda: gpu[0], hf_cache=tmp_path / "hf-cache")
    yield made
    made.shutdown()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _open(qtbot: QtBot, service: ModelsService, settings: QSettings) -> ModelsWindow:
    window = ModelsWindow(service, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: service.rows is not None and not service.scanning, timeout=WAIT_MS)
    return window


@pytest.fixture
def window(qtbot: QtBot, service: ModelsService, settings: QSettings) -> ModelsWindow:
    return _open(qtbot, service, settings)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    return shown


class Answers:
    """Stands in for QInputDialog.getText: records (title, default text) and types the next reply."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.replies: list[str] = []

    def get_text(
        self, parent: QWidget, title: str, label: str, *args: object, text: str = ""
    ) -> tuple[str, bool]:
        self.asked.append((title, text))
        return (self.replies.pop(0), True) if self.replies else ("", False)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    typed = Answers()
    monkeypatch.setattr(QInputDialog, "getText", typed.get_text)
    return typed


@pytest.fixture
def changes(service: ModelsService) -> list[None]:
    """One entry per `changed` signal of the service."""
    seen: list[None] = []
    service.changed.connect(lambda: seen.append(None))
    return seen


def _settle(qtbot: QtBot, service: ModelsService, timeout: int = WAIT_MS) -> None:
    qtbot.waitUntil(lambda: not service.busy and not service.scanning, timeout=timeout)


# -- rows ---------------------------------------------------------------------------------------------------


def test_a_registered_folder_shows_with_a_cpu_fit_badge_and_the_header_says_no_gpu(
    qtbot: QtBot, service: ModelsService, settings: QSettings, registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.add("fake", write_fake_model(tmp_path / "elsewhere" / "fake-sd"))
    window = _open(qtbot, service, settings)
    assert window.gpu_label.text() == NO_GPU
    assert window.row_names(window.registered_table) == ["fake"]
    badge = window.cell(window.registered_table, "fake", Column.fit)
    assert badge.text() == "CPU only: slow"
    assert badge.toolTip().startswith("no NVIDIA GPU found: generation runs on the CPU")
    assert badge.foreground().color().name() == FIT_COLOURS[FitLevel.cpu_only]
    assert (
        window.cell(window.registered_table, "fake", Column.tasks).text() == "image to image, text to image"
    )
    folder = str((tmp_path / "elsewhere" / "fake-sd").resolve())
    assert window.cell(window.registered_table, "fake", Column.status).text() == folder
    assert "svd-xt" in window.row_names(window.catalog_table)
    assert window.cell(window.catalog_table, "flux-schnell", Column.licence).text() == "Apache-2.0 · gated"
    assert window.cell(window.catalog_table, "svd-xt", Column.size).text() == "4.2 GB"
    assert set(window.buttons(window.catalog_table, "svd-xt")) == {"Download"}


def test_with_a_24_gb_gpu_the_header_names_it_and_small_models_fit(
    window: ModelsWindow, service: ModelsService, gpu: list[GpuInfo | None], qtbot: QtBot
) -> None:
    gpu[0] = RTX_4090
    window.refresh_button.click()
    qtbot.waitUntil(
        lambda: window.gpu_label.text() == "NVIDIA GeForce RTX 4090 · 23.5 GB free", timeout=WAIT_MS
    )
    _settle(qtbot, service)
    badge = window.cell(window.catalog_table, "svd-xt", Column.fit)
    assert badge.text() == "Fits" and "23.5 GB free on NVIDIA GeForce RTX 4090" in badge.toolTip()
    assert badge.foreground().color().name() == FIT_COLOURS[FitLevel.fits]
    assert window.cell(window.catalog_table, "wan2.2-i2v-a14b", Column.fit).text() != "Fits"


def test_a_catalog_download_asks_first_with_size_licence_gating_and_free_disk(
    window: ModelsWindow, service: ModelsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def question(parent: QWidget, title: str, text: str) -> QMessageBox.StandardButton:
        asked.append((title, text))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    window.buttons(window.catalog_table, "svd-xt")["Download"].click()
    title, text = asked[-1]
    assert title.startswith("Download Stable Video Diffusion")
    assert "4.2 GB to download" in text and "Licence: Stability AI Community License" in text
    assert "Free disk space in" in text and "Gated" not in text
    window.buttons(window.catalog_table, "flux-schnell")["Download"].click()
    assert "Gated: accept its terms on the Hub (https://" in asked[-1][1] and "hf auth login" in asked[-1][1]
    assert service.downloads == {}  # answered No: nothing started


# -- registered models --------------------------------------------------------------------------------------


def test_rename_updates_the_registry_the_table_and_emits_changed(
    qtbot: QtBot,
    service: ModelsService,
    settings: QSettings,
    registry: ModelRegistry,
    tmp_path: Path,
    answers: Answers,
    warnings: list[str],
) -> None:
    registry.add("fake", write_fake_model(tmp_path / "fake-sd"))
    window = _open(qtbot, service, settings)
    answers.replies.extend(["renamed"])
    with qtbot.waitSignal(service.changed, timeout=WAIT_MS):
        window.buttons(window.registered_table, "fake")["Rename"].click()
    assert answers.asked[-1] == ("Rename model", "fake")
    assert [entry.name for entry in registry.entries()] == ["renamed"]
    qtbot.waitUntil(lambda: window.row_names(window.registered_table) == ["renamed"], timeout=WAIT_MS)

    answers.replies.extend(["Not Valid!"])
    window.buttons(window.registered_table, "renamed")["Rename"].click()
    assert len(warnings) == 1 and "is not valid" in warnings[0] and "\n" not in warnings[0]
    assert [entry.name for entry in registry.entries()] == ["renamed"]


@pytest.mark.parametrize("delete", [True, False])
def test_remove_inside_the_models_folder_may_delete_the_files(
    qtbot: QtBot,
    service: ModelsService,
    settings: QSettings,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
    delete: bool,
) -> None:
    folder = write_fake_model(registry.models_dir / "fake")
    registry.add("fake", folder)
    window = _open(qtbot, service, settings)
    offered: list[bool] = []

    def exec_(dialog: RemoveModelDialog) -> int:
        offered.append(dialog.delete_files.isEnabled())
        dialog.delete_files.setChecked(delete)
        return QMessageBox.StandardButton.Yes.value

    monkeypatch.setattr(RemoveModelDialog, "exec", exec_)
    with qtbot.waitSignal(service.changed, timeout=WAIT_MS):
        window.buttons(window.registered_table, "fake")["Remove"].click()
    assert offered == [True] and registry.entries() == []
    _settle(qtbot, service)
    assert folder.exists() is not delete
    assert window.row_names(window.registered_table) == []


def test_remove_of_a_folder_elsewhere_never_offers_to_delete_it(
    qtbot: QtBot,
    service: ModelsService,
    settings: QSettings,
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = write_fake_model(tmp_path / "mine" / "fake-sd")
    registry.add("fake", folder)
    window = _open(qtbot, service, settings)
    offered: list[bool] = []

    def exec_(dialog: RemoveModelDialog) -> int:
        offered.append(dialog.delete_files.isEnabled())
        return QMessageBox.StandardButton.Yes.value

    monkeypatch.setattr(RemoveModelDialog, "exec", exec_)
    with qtbot.waitSignal(service.changed, timeout=WAIT_MS):
        window.buttons(window.registered_table, "fake")["Remove"].click()
    assert offered == [False] and registry.entries() == [] and folder.is_dir()
    with pytest.raises(InputError, match="not inside"):
        registry.add("again", folder)
        service.remove("again", delete_files=True)
    assert folder.is_dir() and registry.find("again") is not None  # refused before anything changed


def test_add_folder_validates_on_the_worker_and_shows_a_bad_folder_in_one_line(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answers: Answers,
    warnings: list[str],
) -> None:
    good = write_fake_model(tmp_path / "My Model")
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    picked = [str(good), str(bad)]
    monkeypatch.setattr("app.ui.models_window.existing_directory", lambda *args: picked.pop(0))
    answers.replies.extend(["mine", "broken"])
    with qtbot.waitSignal(service.changed, timeout=PULL_MS):
        window.add_folder_button.click()
    assert answers.asked[-1] == ("Add model", "my-model")  # the folder's name made valid
    assert registry.find("mine") is not None
    qtbot.waitUntil(lambda: window.row_names(window.registered_table) == ["mine"], timeout=WAIT_MS)

    window.add_folder_button.click()
    qtbot.waitUntil(lambda: bool(warnings), timeout=WAIT_MS)
    assert "no model_index.json" in warnings[0] and "\n" not in warnings[0]
    assert registry.find("broken") is None


# -- found on disk ------------------------------------------------------------------------------------------


def test_scan_folder_is_remembered_and_a_found_model_registers(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    settings: QSettings,
    registry: ModelRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answers: Answers,
) -> None:
    downloads = tmp_path / "downloads"
    write_fake_model(downloads / "Fancy_SD")
    monkeypatch.setattr("app.ui.models_window.existing_directory", lambda *args: str(downloads))
    window.scan_folder_button.click()
    qtbot.waitUntil(lambda: window.row_names(window.found_table) == ["Fancy_SD"], timeout=WAIT_MS)
    assert settings.value(SCAN_FOLDERS_KEY) in ([str(downloads)], str(downloads))
    assert (
        window.found_hint.text() == f"Found in the Hugging Face cache ({tmp_path / 'hf-cache'}), {downloads}."
    )

    answers.replies.extend(["fancy"])
    with qtbot.waitSignal(service.changed, timeout=PULL_MS):
        window.buttons(window.found_table, "Fancy_SD")["Register"].click()
    assert answers.asked[-1] == ("Register model", "fancy_sd")
    assert registry.find("fancy") is not None
    qtbot.waitUntil(
        lambda: window.cell(window.found_table, "Fancy_SD", Column.status).text() == "Registered as fancy",
        timeout=WAIT_MS,
    )
    assert window.buttons(window.found_table, "Fancy_SD") == {}

    again = ModelsWindow(ModelsService(registry), settings)  # a later session scans the folder again
    qtbot.addWidget(again)
    assert again._service.scan_folders == [downloads]
    again._service.shutdown()


# -- the inspector follows the registry ---------------------------------------------------------------------


def test_the_inspector_lists_follow_added_renamed_and_removed_models(
    qtbot: QtBot, service: ModelsService, settings: QSettings, tmp_path: Path
) -> None:
    editor = MainWindow(
        DocumentController(),
        DraftService(StageCache(tmp_path / "cache")),
        settings,
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        models=service,
    )
    try:
        combo = editor.inspector.keyframe_model

        def offered() -> list[str]:
            return [combo.itemData(index) for index in range(combo.count())]

        assert offered() == [""]
        with qtbot.waitSignal(service.changed, timeout=PULL_MS):
            service.add("tiny", write_fake_model(tmp_path / "fake-sd"))
        assert offered() == ["", "tiny"]
        assert "tiny" in [editor.inspector.refine_model.itemData(i) for i in range(2)]
        combo.setCurrentIndex(1)
        with qtbot.waitSignal(service.changed, timeout=WAIT_MS):
            service.rename("tiny", "tiny2")
        assert offered() == ["", "tiny2"]
        combo.setCurrentIndex(1)
        service.remove("tiny2")
        assert offered() == [""] and combo.currentIndex() == -1
        assert editor.open_models_window() is editor.open_models_window()  # one window
        _settle(qtbot, service)
    finally:
        editor.shutdown()
        editor.close()
        editor.deleteLater()


# -- downloads ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_sd(tmp_path_factory.mktemp("hub") / "tiny-sd")


@pytest.fixture
def hub(tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    served = FakeHub(repos={REPO: tiny_repo}, licenses={REPO: "openrail++"})
    yield point_at(served, monkeypatch, tmp_path / "hf-home")
    served.close()


def test_a_download_shows_progress_then_registers(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    registry: ModelRegistry,
    hub: FakeHub,
    changes: list[None],
) -> None:
    hub.bytes_per_second = 200_000
    download = window.pull(REPO, "tiny")
    assert download is not None and window.row_names(window.catalog_table)[-1] == "tiny"
    assert window.cell(window.catalog_table, "tiny", Column.title).text() == REPO

    def shows_speed() -> bool:
        bar = window.progress_bar("tiny")
        text = bar.format() if bar is not None else ""
        return (
            bar is not None
            and bar.value() > 0
            and re.fullmatch(r"\d+ kB of \d+ kB · \d+ kB/s · \d+ s left", text) is not None
        )

    qtbot.waitUntil(shows_speed, timeout=WAIT_MS)
    assert set(window.buttons(window.catalog_table, "tiny")) == {"Cancel"}
    assert window.cell(window.catalog_table, "tiny", Column.licence).text() == "openrail++"
    qtbot.waitUntil(lambda: download.state == "done", timeout=PULL_MS)
    assert registry.find("tiny") is not None and changes
    assert (registry.models_dir / "tiny" / "model_index.json").is_file()
    qtbot.waitUntil(lambda: "tiny" in window.row_names(window.registered_table), timeout=WAIT_MS)
    assert "tiny" not in window.row_names(window.catalog_table)  # registered: no longer a download row
    _settle(qtbot, service)


def test_cancel_keeps_the_partial_files_and_the_row_offers_resume_then_discard(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    registry: ModelRegistry,
    hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.bytes_per_second = 100_000
    download = window.pull(REPO, "tiny")
    assert download is not None
    qtbot.waitUntil(lambda: download.events.done > 50_000, timeout=WAIT_MS)
    window.buttons(window.catalog_table, "tiny")["Cancel"].click()
    qtbot.waitUntil(lambda: download.state == "cancelled", timeout=WAIT_MS)
    _settle(qtbot, service)
    kept = partial_bytes(registry, "tiny")
    assert kept > 0 and registry.entries() == []
    buttons = window.buttons(window.catalog_table, "tiny")
    resume = next(text for text in buttons if text.startswith("Resume ("))
    assert resume.endswith(" downloaded)") and buttons["Discard"].toolTip() == "Discard partial download"
    assert window.cell(window.catalog_table, "tiny", Column.status).text().startswith("Cancelled: ")

    asked: list[str] = []

    def question(parent: QWidget, title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(title)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    buttons[resume].click()
    assert asked == [f"Resume {REPO}?"] and download.state == "cancelled"  # No: nothing restarted

    window.buttons(window.catalog_table, "tiny")["Discard"].click()
    _settle(qtbot, service)
    assert partial_bytes(registry, "tiny") == 0 and "tiny" not in window.row_names(window.catalog_table)


def test_a_resumed_download_asks_only_for_what_is_missing(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    registry: ModelRegistry,
    hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.bytes_per_second = 100_000
    download = window.pull(REPO, "tiny")
    assert download is not None
    qtbot.waitUntil(lambda: download.events.done > 50_000, timeout=WAIT_MS)
    service.cancel_pull("tiny")
    qtbot.waitUntil(lambda: download.state == "cancelled", timeout=WAIT_MS)
    _settle(qtbot, service)
    hub.bytes_per_second = None
    hub.requests.clear()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    resume = next(text for text in window.buttons(window.catalog_table, "tiny") if text.startswith("Resume"))
    with qtbot.waitSignal(service.changed, timeout=PULL_MS):
        window.buttons(window.catalog_table, "tiny")[resume].click()
    assert registry.find("tiny") is not None
    assert any(header for _, header in hub.requests if header)  # HTTP Range: it resumed
    _settle(qtbot, service)


def test_a_gated_repository_says_so_in_one_line(
    qtbot: QtBot, window: ModelsWindow, service: ModelsService, registry: ModelRegistry, hub: FakeHub
) -> None:
    hub.gated.add(REPO)
    download = window.pull(REPO, "tiny")
    assert download is not None
    qtbot.waitUntil(lambda: download.state == "failed", timeout=WAIT_MS)
    status = window.cell(window.catalog_table, "tiny", Column.status).text()
    assert "is gated: accept its licence at" in status and "\n" not in status
    assert set(window.buttons(window.catalog_table, "tiny")) == {"Retry"}
    assert registry.entries() == []
    _settle(qtbot, service)


def test_a_bad_repository_id_or_a_taken_name_is_refused_before_any_download(
    window: ModelsWindow, service: ModelsService, registry: ModelRegistry, warnings: list[str], tmp_path: Path
) -> None:
    assert window.pull("not a repo!", "x") is None
    registry.add("taken", write_fake_model(tmp_path / "fake-sd"))
    assert window.pull(REPO, "taken") is None
    assert "not a Hugging Face repository id" in warnings[0] and "already registered" in warnings[1]
    assert service.downloads == {}


def test_closing_the_window_keeps_downloading_and_quitting_stops_it_keeping_the_files_for_later(
    qtbot: QtBot,
    window: ModelsWindow,
    service: ModelsService,
    registry: ModelRegistry,
    hub: FakeHub,
    settings: QSettings,
    tmp_path: Path,
) -> None:
    hub.bytes_per_second = 100_000
    download = window.pull(REPO, "tiny")
    assert download is not None
    qtbot.waitUntil(lambda: download.events.done > 50_000, timeout=WAIT_MS)
    window.close()
    assert window.isHidden() and download.state == "running"
    service.shutdown()  # what quitting the editor does
    assert download.state == "cancelled" and partial_bytes(registry, "tiny") > 0
    assert registry.entries() == []

    later = ModelsService(registry, gpu_probe=lambda: None, hf_cache=tmp_path / "hf-cache")  # next start
    try:
        reopened = _open(qtbot, later, settings)
        assert reopened.cell(reopened.catalog_table, "tiny", Column.title).text() == REPO
        assert reopened.cell(reopened.catalog_table, "tiny", Column.licence).text() == "openrail++"
        resume = [
            text for text in reopened.buttons(reopened.catalog_table, "tiny") if text.startswith("Resume")
        ]
        assert resume == [f"Resume ({format_size(partial_bytes(registry, 'tiny'))} downloaded)"]
    finally:
        later.shutdown()
