"""The curated model catalog: the shipped file loads and covers every family Storybeat runs, and a bad
catalog is refused with one line naming the file and the failing field."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.engine.models.catalog import PIPELINES, Family, Task
from app.engine.models.curated import CATALOG_PATH, Catalog, find_curated, load_catalog
from app.errors import InputError

_HEX40 = re.compile(r"[0-9a-f]{40}")


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def test_the_shipped_catalog_is_the_resources_file_and_loads(shipped: Catalog) -> None:
    shipped_file = Path(__file__).resolve().parents[2] / "resources" / "models" / "catalog.json"
    assert shipped_file == CATALOG_PATH
    assert len(shipped.models) >= 8


def test_shipped_ids_are_unique(shipped: Catalog) -> None:
    assert len(set(shipped.ids)) == len(shipped.ids)


def test_every_shipped_pipeline_is_in_the_allow_list(shipped: Catalog) -> None:
    assert all(model.pipeline in PIPELINES for model in shipped.models)


@pytest.mark.parametrize(
    ("family", "task"),
    [
        (Family.svd, Task.image_to_video),
        (Family.ltx, Task.image_to_video),
        (Family.wan, Task.image_to_video),
        (Family.cogvideox, Task.image_to_video),
        (Family.sdxl, Task.text_to_image),
        (Family.flux, Task.text_to_image),
        (Family.stable_diffusion, Task.text_to_image),
    ],
)
def test_the_catalog_covers_each_family(shipped: Catalog, family: Family, task: Task) -> None:
    assert any(
        PIPELINES[model.pipeline].family is family and PIPELINES[model.pipeline].task is task
        for model in shipped.models
    )


def test_revisions_are_pinned_commits_or_declared_unconfirmed(shipped: Catalog) -> None:
    for model in shipped.models:
        if model.revision is None:
            assert "revision" in model.unconfirmed, model.id
        else:
            assert _HEX40.fullmatch(model.revision), model.id


def test_gated_models_have_a_licence_url(shipped: Catalog) -> None:
    gated = [model for model in shipped.models if model.gated]
    assert gated  # FLUX.1 [schnell] asks for accepted terms
    assert all(model.license_url and model.license_url.startswith("https://") for model in gated)


def test_shipped_natives_fit_their_pipelines(shipped: Catalog) -> None:
    for model in shipped.models:
        spec = PIPELINES[model.pipeline]
        assert model.native.width % spec.size_multiple == 0, model.id
        assert model.native.height % spec.size_multiple == 0, model.id
        if model.native.frames is not None:
            assert spec.frames.nearest_at_least(model.native.frames) == model.native.frames, model.id


def test_tasks_come_from_the_pipeline_spec(shipped: Catalog) -> None:
    assert find_curated("sdxl-base").tasks == {Task.text_to_image, Task.image_to_image}
    assert find_curated("svd-xt").tasks == {Task.image_to_video}


def test_find_curated_names_the_known_ids_when_unknown(shipped: Catalog) -> None:
    assert find_curated("flux-schnell").repo_id == "black-forest-labs/FLUX.1-schnell"
    with pytest.raises(InputError) as caught:
        find_curated("no-such-model")
    message = str(caught.value)
    assert "'no-such-model'" in message
    assert all(model_id in message for model_id in shipped.ids)


# -- refusing bad catalogs -----------------------------------------------------------------------------


def _valid_model() -> dict[str, Any]:
    return {
        "id": "tiny-video",
        "title": "Tiny video",
        "repo_id": "owner/tiny-video",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "pipeline": "StableVideoDiffusionPipeline",
        "variant": "fp16",
        "download_bytes": 1234,
        "vram_gib": {"full": 8.0, "model_offload": 6.0, "sequential_offload": 2.0},
        "license": "Apache-2.0",
        "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
        "gated": False,
        "native": {"width": 1024, "height": 576, "fps": 7, "frames": 25},
        "source": "test fixture",
        "unconfirmed": ["vram_gib.full"],
        "notes": "",
    }


def _write(tmp_path: Path, models: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": 1, "models": models, **top}), encoding="utf-8")
    return path


def test_a_valid_written_catalog_loads(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, [_valid_model()]))
    assert catalog.ids == ["tiny-video"]
    model = catalog.models[0]
    assert not model.is_confirmed("vram_gib.full")
    assert model.is_confirmed("vram_gib.sequential_offload")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(model: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = model
        for name in parents:
            target = target[name]
        target[last] = value

    return change


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda model: model.pop(name)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (_set("pipeline", "StableDiffusion3Pipeline"), "models.0.pipeline", "not supported"),
        (_set("revision", "main"), "models.0.revision", "40 lowercase hex"),
        (_set("revision", "0123456789ABCDEF0123456789ABCDEF01234567"), "models.0.revision", "hex"),
        (_set("revision", None), "models.0", "revision"),
        (_set("unconfirmed", ["vram"]), "models.0.unconfirmed", "'vram' is not a field"),
        (_set("unconfirmed", ["native.depth"]), "models.0.unconfirmed", "'native.depth'"),
        (_set("vram_gib.model_offload", 9.0), "models.0.vram_gib", "full >= model_offload"),
        (_set("vram_gib.sequential_offload", 7.0), "models.0.vram_gib", "model_offload >= sequential"),
        (_set("vram_gib.sequential_offload", 0), "models.0.vram_gib.sequential_offload", "greater than 0"),
        (_set("homepage", "https://example.com"), "models.0.homepage", "Extra inputs"),
        (_set("native.bitrate", 5), "models.0.native.bitrate", "Extra inputs"),
        (_set("id", "motion"), "models.0.id", "reserved"),
        (_set("id", "Tiny Video"), "models.0.id", "not valid"),
        (_set("repo_id", "tiny-video"), "models.0.repo_id", "owner"),
        (_set("download_bytes", 0), "models.0.download_bytes", "greater than 0"),
        (_set("download_bytes", "1234"), "models.0.download_bytes", "integer"),
        (_set("license_url", "http://example.com/licence"), "models.0.license_url", "https://"),
        (_set("notes", "two\nlines"), "models.0.notes", "one line"),
        (_set("native.fps", None), "models.0", "fps and frames"),
        (_set("native.frames", 26), "models.0", "native frames 26"),
        (_set("native.width", 1000), "models.0", "multiple of 64"),
        (_drop("source"), "models.0.source", "Field required"),
    ],
)
def test_a_bad_model_is_refused_with_one_line_naming_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, words: str
) -> None:
    model = _valid_model()
    change(model)
    path = _write(tmp_path, [model])
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: field {field} (model {model['id']!r}): ")
    assert words in message


def test_a_gated_model_without_licence_url_is_refused(tmp_path: Path) -> None:
    model = _valid_model() | {"gated": True, "license_url": None}
    with pytest.raises(InputError, match=r"field models\.0 .*gated models need a license_url"):
        load_catalog(_write(tmp_path, [model]))


def test_a_still_image_model_must_not_claim_a_frame_rate(tmp_path: Path) -> None:
    model = _valid_model() | {"pipeline": "StableDiffusionXLPipeline"}
    with pytest.raises(InputError, match="must be null for a still-image pipeline"):
        load_catalog(_write(tmp_path, [model]))
    model["native"] = {"width": 1024, "height": 1024, "fps": None, "frames": None}
    assert load_catalog(_write(tmp_path, [model])).models[0].tasks == {
        Task.text_to_image,
        Task.image_to_image,
    }


def test_a_null_revision_listed_as_unconfirmed_is_accepted(tmp_path: Path) -> None:
    model = _valid_model() | {"revision": None, "unconfirmed": ["revision"]}
    assert load_catalog(_write(tmp_path, [model])).models[0].revision is None


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    second = _valid_model() | {"title": "Another"}
    path = _write(tmp_path, [_valid_model(), second])
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert str(caught.value) == f"{path}: field models: duplicate model id 'tiny-video'"


def test_an_unknown_top_level_key_or_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"field comment: Extra inputs are not permitted"):
        load_catalog(_write(tmp_path, [_valid_model()], comment="hi"))
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": 2, "models": [_valid_model()]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"field format: "):
        load_catalog(path)


def test_every_problem_after_the_first_is_counted(tmp_path: Path) -> None:
    model = _valid_model() | {"pipeline": "NopePipeline", "revision": "main"}
    with pytest.raises(InputError, match=r"\(and 1 more\)$"):
        load_catalog(_write(tmp_path, [model]))


def test_unreadable_or_malformed_files_are_one_line_input_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(InputError, match=rf"^{re.escape(str(missing))}: cannot read the model catalog"):
        load_catalog(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1, "models": [', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_catalog(broken)
    assert str(caught.value).startswith(f"{broken}: not valid JSON (")
    assert "\n" not in str(caught.value)
