"""DraftService with generative backends: a registered tiny model's denoising steps show as progress; an
act naming a model this machine lacks is drafted by the built-in backend and flagged with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import pytest
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.models.registry import ModelRegistry
from app.engine.worker import ActState, DraftService
from app.model import Act, GenerationSettings, MediaRef, Project, ProjectSettings
from tests.engine.tiny_models import save_tiny_svd

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
WAIT_MS = 60_000


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    image = cv2.imread(str(sorted(DEMO.glob("0*.jpg"))[0]))
    assert image is not None
    cv2.imwrite(str(folder / "still.jpg"), cv2.resize(image, (96, 64)))
    return folder


@pytest.fixture
def drafts(qtbot: QtBot, tmp_path: Path) -> Iterator[DraftService]:
    service = DraftService(StageCache(tmp_path / "cache"))
    yield service
    service.shutdown()


def _project(backend: str) -> Project:
    act = Act(
        id="act",
        name="Sea",
        duration_frames=8,
        references=[MediaRef(path="still.jpg")],
        draft_backend=backend,
        generation=GenerationSettings(steps=6),
    )
    return Project(settings=ProjectSettings(fps=Fraction(8), width=64, height=64), acts=[act])


def test_denoising_steps_show_as_progress(
    qtbot: QtBot, drafts: DraftService, project_dir: Path, tmp_path: Path
) -> None:
    ModelRegistry().add("svd", save_tiny_svd(tmp_path / "svd"))
    seen: list[float] = []

    def record(act_id: str) -> None:
        status = drafts.status(act_id)
        if status.state is ActState.rendering:
            seen.append(status.progress)

    drafts.act_status_changed.connect(record)
    drafts.set_project(_project("svd"), project_dir, 1)
    qtbot.waitUntil(lambda: drafts.status("act").state is ActState.ready, timeout=WAIT_MS)
    assert drafts.status("act").fallback == ""
    # Steps fill most of the bar before any frame is stored, and the bar only moves forward.
    assert any(0.1 < value <= 0.8 for value in seen), seen
    assert seen == sorted(seen)
    assert drafts.frame(0) is not None


def test_a_model_missing_here_is_drafted_by_motion_and_flagged(
    qtbot: QtBot, drafts: DraftService, project_dir: Path
) -> None:
    drafts.set_project(_project("studio-model"), project_dir, 1)
    qtbot.waitUntil(lambda: drafts.status("act").state is ActState.ready, timeout=WAIT_MS)
    assert "studio-model" in drafts.status("act").fallback
    assert drafts.frame(3) is not None
