"""The model registry: folder validation (every refusal), the registry file, pulling, and a real load."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from diffusers import StableDiffusionImg2ImgPipeline, StableVideoDiffusionPipeline
from safetensors.torch import save_file

from app.engine.models.loader import load_pipeline
from app.engine.models.registry import ModelEntry, ModelRegistry, validate_model_folder
from app.errors import InputError
from tests.engine.tiny_models import save_tiny_sd, save_tiny_svd

_FAKE_INDEX: dict[str, Any] = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.42.1",
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
}


def write_fake_model(folder: Path) -> Path:
    """A folder that passes validation without being loadable: real layout, configs and safetensors files
    (one small tensor each), but not the weights a UNet or VAE needs."""
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps(_FAKE_INDEX))
    for component, weights in (
        ("unet", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
        ("text_encoder", "model"),
    ):
        (folder / component).mkdir()
        (folder / component / "config.json").write_text(json.dumps({"_class_name": component}))
        save_file(
            {"weight": torch.arange(4, dtype=torch.float32)}, folder / component / f"{weights}.safetensors"
        )
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text('{"_class_name": "PNDMScheduler"}')
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer_config.json").write_text("{}")
    (folder / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    return folder


def _set_component(folder: Path, component: str, value: object) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    index[component] = value
    (folder / "model_index.json").write_text(json.dumps(index))


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    return write_fake_model(tmp_path / "fake-sd")


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "config" / "models.json", models_dir=tmp_path / "pulled")


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_svd(tmp_path_factory.mktemp("svd") / "tiny-svd")


# -- validation ------------------------------------------------------------------------------


def test_a_complete_folder_is_accepted_with_its_pipeline_and_a_revision(fake_model: Path) -> None:
    pipeline, revision = validate_model_folder(fake_model)
    assert pipeline == "StableDiffusionPipeline"
    assert len(revision) == 64 and int(revision, 16) >= 0


def _remove_vae(folder: Path) -> None:
    shutil.rmtree(folder / "vae")


def _pickle_only_unet(folder: Path) -> None:
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")


def _link_out(folder: Path) -> None:
    outside = folder.parent / "elsewhere.safetensors"
    shutil.copy(folder / "vae" / "diffusion_pytorch_model.safetensors", outside)
    (folder / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    os.symlink(outside, folder / "vae" / "diffusion_pytorch_model.safetensors")


REFUSALS: dict[str, tuple[Callable[[Path], object], str]] = {
    "no model_index.json": (lambda f: (f / "model_index.json").unlink(), "no model_index.json"),
    "broken model_index.json": (lambda f: (f / "model_index.json").write_text("{oops"), "not valid JSON"),
    "class outside the allow-list": (
        lambda f: _set_component(f, "_class_name", "StableDiffusionControlNetPipeline"),
        "'StableDiffusionControlNetPipeline' is not supported (allowed: ",
    ),
    "component folder missing": (
        _remove_vae,
        "component 'vae' is listed in model_index.json but has no folder",
    ),
    "component without config": (lambda f: (f / "unet" / "config.json").unlink(), "no config file"),
    "broken component config": (lambda f: (f / "unet" / "config.json").write_text("["), "not valid JSON"),
    "library outside diffusers/transformers": (
        lambda f: _set_component(f, "unet", ["my_package", "UNet2DConditionModel"]),
        "only diffusers and transformers classes are loaded",
    ),
    "class missing from its library": (
        lambda f: _set_component(f, "vae", ["diffusers", "TotallyRealAutoencoder"]),
        "diffusers has no class 'TotallyRealAutoencoder'",
    ),
    "pickle weights only": (_pickle_only_unet, "safetensors weights required"),
    "a Python file": (
        lambda f: (f / "scheduler" / "helpers.py").write_text("import os"),
        "contains code (scheduler/helpers.py)",
    ),
    "a link out of the folder": (_link_out, "outside the model folder"),
}


@pytest.mark.parametrize("problem", sorted(REFUSALS))
def test_each_unsafe_or_broken_folder_is_refused_with_one_line(fake_model: Path, problem: str) -> None:
    damage, expected = REFUSALS[problem]
    damage(fake_model)
    with pytest.raises(InputError) as refused:
        validate_model_folder(fake_model)
    message = str(refused.value)
    assert expected in message
    assert str(fake_model) in message and "\n" not in message


def test_the_allow_list_is_named_when_the_class_is_refused(fake_model: Path) -> None:
    _set_component(fake_model, "_class_name", "DiffusionPipeline")
    with pytest.raises(InputError, match="StableVideoDiffusionPipeline"):
        validate_model_folder(fake_model)


def test_an_ltx_text_to_video_folder_registers_as_its_image_to_video_class(fake_model: Path) -> None:
    _set_component(fake_model, "_class_name", "LTXPipeline")
    assert validate_model_folder(fake_model)[0] == "LTXImageToVideoPipeline"


def test_a_missing_path_or_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model folder does not exist"):
        validate_model_folder(tmp_path / "nowhere")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(InputError, match="not a folder"):
        validate_model_folder(tmp_path / "model.safetensors")


def test_links_inside_the_folder_and_pickles_beside_safetensors_are_accepted(fake_model: Path) -> None:
    (fake_model / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    os.symlink(fake_model / "unet" / "config.json", fake_model / "unet" / "alias.json")
    assert validate_model_folder(fake_model)[0] == "StableDiffusionPipeline"


def test_revision_follows_configs_and_weights_rewritten_not_weight_bytes(fake_model: Path) -> None:
    _, first = validate_model_folder(fake_model)
    assert validate_model_folder(fake_model)[1] == first
    # Hub download bookkeeping does not change what is loaded.
    (fake_model / ".cache").mkdir()
    (fake_model / ".cache" / "unet.metadata").write_text("etag")
    assert validate_model_folder(fake_model)[1] == first

    weights = fake_model / "unet" / "diffusion_pytorch_model.safetensors"
    stamp = weights.stat()
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # touched, not rewritten: same model
    assert validate_model_folder(fake_model)[1] == first
    save_file({"weight": torch.arange(4, dtype=torch.float32) + 1}, weights)  # a fine-tune in place
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))
    retrained = validate_model_folder(fake_model)[1]
    assert retrained != first  # same size, but written again
    save_file({"weight": torch.arange(8, dtype=torch.float32)}, weights)
    resized = validate_model_folder(fake_model)[1]
    assert resized not in (first, retrained)

    (fake_model / "scheduler" / "scheduler_config.json").write_text(
        '{"_class_name": "PNDMScheduler", "x": 1}'
    )
    assert validate_model_folder(fake_model)[1] not in (first, resized)


# -- the registry file -----------------------------------------------------------------------


def test_add_find_get_remove_round_trip_survives_a_new_registry(
    registry: ModelRegistry, fake_model: Path
) -> None:
    added = registry.add("sd-fake", fake_model)
    assert added == ModelEntry("sd-fake", fake_model.resolve(), "StableDiffusionPipeline", added.revision)
    reopened = ModelRegistry(registry.file)
    assert reopened.entries() == [added]
    assert reopened.find("sd-fake") == added and reopened.find("other") is None
    assert reopened.get("sd-fake") == added
    assert reopened.remove("sd-fake") == added
    assert ModelRegistry(registry.file).entries() == []
    assert fake_model.is_dir()  # forgetting a model never deletes its files


def test_the_registry_lives_in_the_config_dir_and_is_replaced_atomically(
    tmp_path: Path, fake_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORYBEAT_CONFIG_DIR", str(tmp_path / "conf"))
    registry = ModelRegistry()
    registry.add("one", fake_model)
    registry.add("two", fake_model)
    assert registry.file == tmp_path / "conf" / "models.json"
    assert [m["name"] for m in json.loads(registry.file.read_text())["models"]] == ["one", "two"]
    assert sorted(p.name for p in registry.file.parent.iterdir()) == ["models.json"]  # no temp file left


@pytest.mark.parametrize("name", ["motion", "Upper", "-dash", "a" * 65, "a/b", "", "sp ace"])
def test_invalid_and_reserved_names_are_refused(registry: ModelRegistry, fake_model: Path, name: str) -> None:
    with pytest.raises(InputError, match="reserved" if name == "motion" else "not valid"):
        registry.add(name, fake_model)
    assert registry.entries() == []


def test_duplicates_and_unknown_names_are_refused(registry: ModelRegistry, fake_model: Path) -> None:
    registry.add("sd", fake_model)
    with pytest.raises(InputError, match="already registered"):
        registry.add("sd", fake_model)
    with pytest.raises(InputError, match=r"no model named 'nope' \(registered: sd\)"):
        registry.remove("nope")
    with pytest.raises(InputError, match="no model named 'nope'"):
        registry.get("nope")


def test_a_refused_folder_is_not_registered(registry: ModelRegistry, fake_model: Path) -> None:
    (fake_model / "pipeline.py").write_text("print('hi')")
    with pytest.raises(InputError, match="contains code"):
        registry.add("sd", fake_model)
    assert registry.entries() == [] and not registry.file.exists()


def test_get_revalidates_the_folder(registry: ModelRegistry, fake_model: Path) -> None:
    added = registry.add("sd", fake_model)
    (fake_model / "unet" / "config.json").write_text('{"_class_name": "unet", "layers": 2}')
    assert registry.get("sd").revision != added.revision
    shutil.rmtree(fake_model / "unet")
    with pytest.raises(InputError, match=r"model 'sd': .*component 'unet'"):
        registry.get("sd")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"models": {}}',
        '{"format": 1, "models": [{"name": "x"}]}',
        '{"format": 9, "models": []}',
    ],
)
def test_a_damaged_registry_is_reported_and_never_overwritten(
    registry: ModelRegistry, fake_model: Path, content: str
) -> None:
    registry.file.parent.mkdir(parents=True)
    registry.file.write_text(content)
    for action in (registry.entries, lambda: registry.add("sd", fake_model), lambda: registry.remove("x")):
        with pytest.raises(InputError) as refused:
            action()
        assert str(registry.file) in str(refused.value) and "damaged" in str(refused.value)
    assert registry.file.read_text() == content


# -- loading ---------------------------------------------------------------------------------


def test_a_registered_tiny_svd_loads_as_its_pipeline(
    registry: ModelRegistry, tiny_svd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIFFUSERS_DISABLE_REMOTE_CODE", raising=False)
    entry = registry.get(registry.add("tiny-svd", tiny_svd).name)
    assert entry.spec().class_name == "StableVideoDiffusionPipeline"
    pipe = load_pipeline(entry, "StableVideoDiffusionPipeline", "cpu", torch.float32)
    assert pipe.unet.dtype == torch.float32 and pipe.device.type == "cpu"
    assert isinstance(pipe, StableVideoDiffusionPipeline)
    with pytest.raises(
        InputError, match=r"cannot be loaded as FluxPipeline \(it can be: StableVideoDiffusionPipeline\)"
    ):
        load_pipeline(entry, "FluxPipeline", "cpu", torch.float32)
    assert os.environ["DIFFUSERS_DISABLE_REMOTE_CODE"] == "1"


def test_loading_never_falls_back_to_pickle_weights(tiny_svd: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    folder = shutil.copytree(tiny_svd, tmp_path / "pickled")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(weights), folder / "unet" / "diffusion_pytorch_model.bin")
    weights.unlink()
    # Built directly: the registry would refuse this folder before it got here.
    entry = ModelEntry("pickled", folder, "StableVideoDiffusionPipeline", "0")
    with pytest.raises(InputError, match=r"model 'pickled' .* could not be loaded"):
        load_pipeline(entry, "StableVideoDiffusionPipeline", "cpu", torch.float32)


def test_a_text_to_image_model_also_loads_as_its_img2img_class(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    entry = registry.add("tiny-sd", save_tiny_sd(tmp_path / "sd"))
    pipe = load_pipeline(entry, "StableDiffusionImg2ImgPipeline", "cpu", torch.float32)
    assert isinstance(pipe, StableDiffusionImg2ImgPipeline)


def test_corrupt_weights_fail_with_one_line_naming_model_and_folder(
    registry: ModelRegistry, tiny_svd: Path, tmp_path: Path
) -> None:
    broken = shutil.copytree(tiny_svd, tmp_path / "broken-svd")
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    entry = registry.add("broken", broken)
    with pytest.raises(InputError) as failed:
        load_pipeline(entry, "StableVideoDiffusionPipeline", "cpu", torch.float32)
    message = str(failed.value)
    assert message.startswith(
        f"model 'broken' ({broken}) could not be loaded as StableVideoDiffusionPipeline: "
    )
    assert "\n" not in message


def test_a_nested_pipeline_cannot_smuggle_in_unchecked_folders(fake_model: Path) -> None:
    # A component whose class is a pipeline would load a whole other folder tree from inside it.
    _set_component(fake_model, "unet", ["diffusers", "DiffusionPipeline"])
    with pytest.raises(InputError, match="not a model, scheduler, tokenizer or processor class"):
        validate_model_folder(fake_model)
    _set_component(fake_model, "unet", ["diffusers", "UNet2DConditionModel"])
    nested = fake_model / "unet" / "inner"
    nested.mkdir()
    (nested / "model_index.json").write_text(json.dumps(_FAKE_INDEX))
    with pytest.raises(InputError, match="nests another pipeline"):
        validate_model_folder(fake_model)
    (nested / "model_index.json").unlink()
    (nested / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InputError, match="pickle weights deeper than a component folder"):
        validate_model_folder(fake_model)
