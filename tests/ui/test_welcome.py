"""The first-run welcome: the GPU or its absence, the model it recommends, its buttons, shown once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.cli.common import DEMO_PROJECT
from app.engine.cache import StageCache
from app.engine.models import fit
from app.engine.models.curated import load_catalog
from app.engine.models.fit import GpuInfo
from app.engine.models.registry import ModelRegistry
from app.engine.worker import DraftService
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.models_service import ModelsService
from app.ui.models_window import NO_GPU, ModelsWindow
from app.ui.preferences import Preferences
from app.ui.welcome import NO_WELCOME_ENV, WELCOME_SHOWN_KEY, WelcomeDialog

WAIT_MS = 20_000
_GIB = 1024**3


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ModelsService]:
    registry = ModelRegistry(tmp_path / "models.json", models_dir=tmp_path / "models")
    made = ModelsService(registry, hf_cache=tmp_path / "hf-cache")  # the GPU from fit.detect_gpu
    yield made
    made.shutdown()


def _welcome(qtbot: QtBot, service: ModelsService) -> WelcomeDialog:
    dialog = WelcomeDialog(service)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.advice_label.text()), timeout=WAIT_MS)
    return dialog


def test_without_an_nvidia_gpu_it_says_so_and_offers_the_built_in_backend(
    qtbot: QtBot, service: ModelsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "detect_gpu", lambda: None)
    dialog = _welcome(qtbot, service)
    assert dialog.gpu_label.text() == NO_GPU
    assert "built-in motion backend works on any CPU" in dialog.advice_label.text()
    assert "Recommended" not in dialog.advice_label.text()


def test_with_24_gb_free_it_recommends_a_catalog_model_that_fits(
    qtbot: QtBot, service: ModelsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "detect_gpu", lambda: GpuInfo("NVIDIA GeForce RTX 4090", 24 * _GIB, 24 * _GIB))
    dialog = _welcome(qtbot, service)
    assert dialog.gpu_label.text() == "GPU: NVIDIA GeForce RTX 4090 · 24.0 GB free of 24.0 GB"
    svd = load_catalog().find("svd-xt")  # the smallest image-to-video model, and it fits fully
    text = dialog.advice_label.text()
    assert text.startswith(f"Recommended first model: {svd.title} — a 4.2 GB download, licence {svd.license}")
    assert "Fits: needs ~" in text and "Nothing is downloaded until you click Download" in text


def test_each_button_closes_it_and_asks_for_what_it_says(
    qtbot: QtBot, service: ModelsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "detect_gpu", lambda: None)
    dialog = _welcome(qtbot, service)
    with qtbot.waitSignal(dialog.open_demo_requested, timeout=WAIT_MS):
        dialog.demo_button.click()
    assert dialog.isHidden()

    dialog.show()
    with qtbot.waitSignal(dialog.open_models_requested, timeout=WAIT_MS):
        dialog.models_button.click()
    assert dialog.isHidden()

    dialog.show()
    asked: list[str] = []
    dialog.open_demo_requested.connect(lambda: asked.append("demo"))
    dialog.open_models_requested.connect(lambda: asked.append("models"))
    dialog.skip_button.click()
    assert dialog.isHidden() and asked == [] and service.downloads == {}


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path, service: ModelsService) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        DocumentController(),
        DraftService(StageCache(tmp_path / "cache")),
        settings,
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        models=service,
    )
    window.show()
    yield window
    window.shutdown()
    window.document.history.mark_saved()
    window.close()
    window.deleteLater()


def test_the_editor_shows_it_once_and_never_while_tests_ask_for_quiet(
    qtbot: QtBot, editor: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "detect_gpu", lambda: None)
    assert editor.offer_welcome() is None  # tests/conftest.py sets STORYBEAT_NO_WELCOME
    assert not editor.settings.value(WELCOME_SHOWN_KEY, False, type=bool)

    monkeypatch.delenv(NO_WELCOME_ENV)
    dialog = editor.offer_welcome()
    assert dialog is not None and dialog.isVisible()
    assert editor.settings.value(WELCOME_SHOWN_KEY, False, type=bool)
    qtbot.waitUntil(lambda: bool(dialog.advice_label.text()), timeout=WAIT_MS)

    with qtbot.waitSignal(editor.document.replaced, timeout=WAIT_MS):
        dialog.demo_button.click()
    assert editor.document.path == DEMO_PROJECT and len(editor.document.project.acts) > 0

    assert editor.offer_welcome() is None  # once
    reopened = QSettings(editor.settings.fileName(), QSettings.Format.IniFormat)
    assert reopened.value(WELCOME_SHOWN_KEY, False, type=bool)  # remembered for the next start
    qtbot.waitUntil(lambda: not editor.models.busy and not editor.models.scanning, timeout=WAIT_MS)


def test_open_models_from_the_welcome_shows_the_models_window(
    qtbot: QtBot, editor: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fit, "detect_gpu", lambda: None)
    monkeypatch.delenv(NO_WELCOME_ENV)
    dialog = editor.offer_welcome()
    assert dialog is not None
    assert editor.findChildren(ModelsWindow) == []
    dialog.models_button.click()
    shown = editor.findChildren(ModelsWindow)
    assert len(shown) == 1 and shown[0].isVisible() and shown[0].windowTitle() == "Models"
    models = shown[0]
    assert editor.open_models_window() is models  # one window
    qtbot.waitUntil(lambda: not editor.models.busy and not editor.models.scanning, timeout=WAIT_MS)
    assert models.row_names(models.catalog_table)  # the catalog arrived from the worker
    assert editor.models.downloads == {}  # nothing downloads without a click
