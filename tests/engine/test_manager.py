"""The model manager's rows: catalog, registered and found models with fit badges, and the recommendation
the first-run welcome makes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.engine.models.curated import load_catalog
from app.engine.models.fit import FitLevel, GpuInfo
from app.engine.models.manager import catalog_rows, found_rows, recommend, registered_rows
from app.engine.models.memory import weights_bytes
from app.engine.models.pull import staging_folder
from app.engine.models.registry import ModelRegistry
from tests.engine.test_registry import write_fake_model

_GIB = 1024**3
BIG_GPU = GpuInfo("NVIDIA RTX 4090", 24 * _GIB, 24 * _GIB)
SMALL_GPU = GpuInfo("NVIDIA RTX 3050", 4 * _GIB, 4 * _GIB)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "config" / "models.json", models_dir=tmp_path / "models")


def test_catalog_rows_follow_the_catalog_and_this_machine(registry: ModelRegistry) -> None:
    without_gpu = catalog_rows(registry, None)
    assert [row.name for row in without_gpu] == load_catalog().ids
    assert {row.fit.level for row in without_gpu if row.fit} == {FitLevel.cpu_only}
    with_gpu = {row.name: row for row in catalog_rows(registry, BIG_GPU)}
    svd = with_gpu["svd-xt"]
    assert svd.fit is not None and svd.fit.level == FitLevel.fits and "NVIDIA RTX 4090" in svd.fit.detail
    assert svd.size_bytes == load_catalog().find("svd-xt").download_bytes
    assert with_gpu["wan2.2-i2v-a14b"].fit.level != FitLevel.fits  # a 14B pair of experts does not fit whole


def test_the_recommendation_is_the_smallest_image_to_video_model_that_fits(registry: ModelRegistry) -> None:
    recommended = recommend(catalog_rows(registry, BIG_GPU))
    assert recommended is not None and recommended.name == "svd-xt"
    assert "image_to_video" in recommended.tasks
    assert recommend(catalog_rows(registry, None)) is None  # no GPU: the motion backend, not a download
    tight = recommend(catalog_rows(registry, SMALL_GPU))
    assert tight is None or (tight.fit is not None and tight.fit.level in (FitLevel.offload, FitLevel.tight))


def test_catalog_rows_show_a_registered_copy_and_a_stopped_download(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.add("svd-xt", write_fake_model(tmp_path / "svd"))
    staging = staging_folder(registry, "sdxl-base")
    staging.mkdir(parents=True)
    (staging / "model_index.json.part").write_bytes(b"x" * 1000)
    rows = {row.name: row for row in catalog_rows(registry, None)}
    assert rows["svd-xt"].registered_as == "svd-xt" and rows["svd-xt"].path == (tmp_path / "svd").resolve()
    assert rows["sdxl-base"].partial_bytes == 1000 and rows["sdxl-base"].registered_as is None


def test_registered_rows_read_the_weights_and_say_when_a_folder_is_gone(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    folder = write_fake_model(tmp_path / "sd")
    registry.add("sd", folder)
    [row] = registered_rows(registry, BIG_GPU)
    assert row.size_bytes == weights_bytes(folder, "float16") and row.fit is not None
    assert row.tasks == ("image_to_image", "text_to_image") and row.notes == ""
    shutil.rmtree(folder)
    [gone] = registered_rows(registry, BIG_GPU)
    assert gone.fit is None and gone.notes == "folder missing"


def test_found_rows_mark_what_is_registered_and_what_is_unsupported(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    models = tmp_path / "my-models"
    write_fake_model(models / "sd")
    controlnet = write_fake_model(models / "controlnet")
    index = controlnet / "model_index.json"
    index.write_text(
        index.read_text().replace("StableDiffusionPipeline", "StableDiffusionControlNetPipeline")
    )
    registry.add("mine", models / "sd")
    rows = {row.name: row for row in found_rows(registry, None, [models], hf_cache=tmp_path / "no-cache")}
    assert rows["sd"].registered_as == "mine" and rows["sd"].notes == ""
    assert rows["controlnet"].registered_as is None and "not supported" in rows["controlnet"].notes
    assert rows["controlnet"].tasks == ()
