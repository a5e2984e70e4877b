"""Shared test set-up: every test gets its own stage cache and config folder (model registry), never the
user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("stage-cache")
    monkeypatch.setenv("STORYBEAT_CACHE_DIR", str(cache))
    yield cache


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("STORYBEAT_CONFIG_DIR", str(config))
    monkeypatch.setenv("STORYBEAT_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    return config


@pytest.fixture(autouse=True)
def _no_welcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first-run welcome stays away unless a test asks for it (editors started as subprocesses too)."""
    monkeypatch.setenv("STORYBEAT_NO_WELCOME", "1")
