"""Models found on disk: Hugging Face cache snapshots and model folders below folders the user names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub.constants
import pytest

from app.engine.models import found
from app.engine.models.found import FoundModel, find_models
from app.engine.models.registry import ModelRegistry
from tests.engine.hf_cache_fixtures import cache_model_folder, commit_for, repo_folder
from tests.engine.test_registry import write_fake_model


def _with_class(folder: Path, class_name: str) -> Path:
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = class_name
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def _unique_bytes(folder: Path) -> int:
    """What the files below `folder` take, each distinct target file once."""
    targets = {path.resolve() for path in folder.rglob("*") if path.is_file()}
    return sum(target.stat().st_size for target in targets)


def _linked_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A cache with a supported model (two revisions), an unsupported one, a transformers model, a dataset,
    and a model whose model_index.json is broken."""
    cache = tmp_path / "hub"
    old = cache_model_folder(
        write_fake_model(tmp_path / "s1"), cache, "someone/fake-sd", commit=commit_for("a")
    )
    for file in old.rglob("*"):
        if file.is_file():
            os.utime(file, (1_000_000, 1_000_000))
    newer = write_fake_model(tmp_path / "s2")
    (newer / "scheduler" / "scheduler_config.json").write_text('{"_class_name": "PNDMScheduler", "v": 2}')
    cache_model_folder(newer, cache, "someone/fake-sd", commit=commit_for("b"))
    controlnet = _with_class(write_fake_model(tmp_path / "s3"), "StableDiffusionControlNetPipeline")
    cache_model_folder(controlnet, cache, "someone/controlnet-sd")
    text = tmp_path / "s4"
    text.mkdir()
    (text / "config.json").write_text('{"architectures": ["BertModel"]}')
    cache_model_folder(text, cache, "someone/bert")
    dataset = write_fake_model(tmp_path / "s5")
    cache_model_folder(dataset, cache, "someone/frames")
    repo_folder(cache, "someone/frames").rename(cache / "datasets--someone--frames")
    broken = write_fake_model(tmp_path / "s6")
    (broken / "model_index.json").write_text("{not json")
    cache_model_folder(broken, cache, "someone/broken-index")
    return cache


def test_cache_snapshots_are_listed_with_their_repository_and_commit(hub: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    models = find_models(hf_cache=hub, warnings=warnings)
    assert warnings == []
    assert [(m.repo_id, m.revision, m.pipeline, m.supported) for m in models] == [
        ("someone/broken-index", commit_for("someone/broken-index"), None, False),
        (
            "someone/controlnet-sd",
            commit_for("someone/controlnet-sd"),
            "StableDiffusionControlNetPipeline",
            False,
        ),
        ("someone/fake-sd", commit_for("b"), "StableDiffusionPipeline", True),  # the newest revision first
        ("someone/fake-sd", commit_for("a"), "StableDiffusionPipeline", True),
    ]
    newest = models[2]
    assert newest.source == "hf-cache"
    assert newest.path == repo_folder(hub, "someone/fake-sd") / "snapshots" / commit_for("b")
    # Each blob once: the three identical one-tensor weight files share one blob.
    assert newest.size_bytes == _unique_bytes(newest.path) < _linked_bytes(newest.path)
    # A found snapshot is one the registry takes as it is.
    registry = ModelRegistry(tmp_path / "config" / "models.json")
    assert registry.add("fake-sd", newest.path).path == newest.path


def test_a_broken_snapshot_is_a_warning_not_an_error(hub: Path) -> None:
    snapshot = repo_folder(hub, "someone/controlnet-sd") / "snapshots" / commit_for("someone/controlnet-sd")
    (snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve().unlink()  # a dangling link
    (hub / "not-a-repo").mkdir()
    warnings: list[str] = []
    models = find_models(hf_cache=hub, warnings=warnings)
    assert "someone/controlnet-sd" not in {m.repo_id for m in models}
    assert {m.repo_id for m in models} == {"someone/fake-sd", "someone/broken-index"}
    assert len(warnings) == 2 and all("\n" not in warning for warning in warnings)
    assert any("controlnet-sd" in warning and "broken symlink" in warning for warning in warnings)
    assert find_models(hf_cache=hub) == models  # without a list to tell, still no exception


def test_a_missing_cache_is_none_and_a_file_is_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert find_models(hf_cache=tmp_path / "never-downloaded", warnings=warnings) == []
    assert warnings == []
    (tmp_path / "a-file").write_text("x")
    assert find_models(hf_cache=tmp_path / "a-file", warnings=warnings) == []
    assert len(warnings) == 1 and "cannot scan the Hugging Face cache" in warnings[0]


def test_the_default_cache_is_huggingface_hubs(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    assert found.default_hf_cache() == hub
    assert {m.repo_id for m in find_models()} == {
        "someone/fake-sd",
        "someone/controlnet-sd",
        "someone/broken-index",
    }


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """models/ with models at depths 0-3 below it, a hidden one, and one inside another model."""
    top = tmp_path / "models"
    top.mkdir()
    write_fake_model(top / "sd-one")
    write_fake_model(top / "team" / "sd-two")
    write_fake_model(top / "a" / "b" / "too-deep")
    write_fake_model(top / ".trash" / "hidden")
    write_fake_model(top / "sd-one" / "unet" / "nested")  # inside a model: not a model of its own
    _with_class(write_fake_model(top / "team" / "wan"), "SomethingElsePipeline")
    (top / "notes.txt").write_text("not a model")
    return top


def test_model_folders_two_levels_down_are_found(folders: Path, tmp_path: Path) -> None:
    standalone = write_fake_model(tmp_path / "standalone")
    warnings: list[str] = []
    models = find_models([folders, standalone], hf_cache=tmp_path / "no-cache", warnings=warnings)
    assert warnings == []
    assert [m.path for m in models] == [
        folders / "sd-one",
        folders / "team" / "sd-two",
        folders / "team" / "wan",
        standalone,
    ]
    assert all(m.source == "folder" and m.repo_id is None and m.revision is None for m in models)
    assert [(m.pipeline, m.supported) for m in models] == [
        ("StableDiffusionPipeline", True),
        ("StableDiffusionPipeline", True),
        ("SomethingElsePipeline", False),
        ("StableDiffusionPipeline", True),
    ]
    assert models[1].size_bytes == _linked_bytes(folders / "team" / "sd-two")


def test_a_folder_size_counts_each_file_once(tmp_path: Path) -> None:
    model = write_fake_model(tmp_path / "models" / "sd")
    before = find_models([tmp_path / "models"], hf_cache=tmp_path / "no-cache")[0].size_bytes
    weights = model / "unet" / "diffusion_pytorch_model.safetensors"
    os.link(weights, model / "unet" / "hard-linked.safetensors")
    (model / "vae" / "linked.safetensors").symlink_to(weights)
    (model / "vae" / "dangling.safetensors").symlink_to(tmp_path / "gone")
    (model / "tokenizer" / "vocab.json").write_text("{}" + " " * 998)
    after = find_models([tmp_path / "models"], hf_cache=tmp_path / "no-cache")[0].size_bytes
    assert after == before + 1000


def test_each_model_is_listed_once(hub: Path, tmp_path: Path) -> None:
    snapshots = repo_folder(hub, "someone/fake-sd") / "snapshots"
    standalone = write_fake_model(tmp_path / "standalone")
    models = find_models([snapshots, standalone, standalone, tmp_path / "." / "standalone"], hf_cache=hub)
    assert [m.source for m in models if m.repo_id == "someone/fake-sd"] == ["hf-cache", "hf-cache"]
    assert [m.path for m in models if m.source == "folder"] == [standalone]


def test_missing_or_unreadable_extra_folders_are_warnings(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    warnings: list[str] = []
    models = find_models(
        [tmp_path / "gone", tmp_path / "file.txt"], hf_cache=tmp_path / "none", warnings=warnings
    )
    assert models == []
    assert warnings == [
        f"{tmp_path / 'gone'}: not a folder, skipped",
        f"{tmp_path / 'file.txt'}: not a folder, skipped",
    ]
    if os.name == "posix" and os.geteuid() != 0:  # root reads any folder
        locked = tmp_path / "locked"
        locked.mkdir(mode=0)
        try:
            find_models([locked], hf_cache=tmp_path / "none", warnings=warnings)
        finally:
            locked.chmod(0o755)
        assert warnings[-1].startswith(f"{locked}: cannot read")


def test_a_huge_folder_is_looked_at_only_so_far(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(found, "MAX_ENTRIES", 50)
    top = tmp_path / "home"
    write_fake_model(top / "0-model")
    for number in range(300):
        (top / f"folder-{number:03}").mkdir(parents=True)
    write_fake_model(top / "folder-299" / "late-model")
    warnings: list[str] = []
    started = time.monotonic()
    models = find_models([top], hf_cache=tmp_path / "none", warnings=warnings)
    assert time.monotonic() - started < 5
    assert len(warnings) == 1 and "stopped looking after 50 entries" in warnings[0]
    assert top / "folder-299" / "late-model" not in [m.path for m in models]
    monkeypatch.setattr(found, "MAX_ENTRIES", 2000)
    paths = [m.path for m in find_models([top], hf_cache=tmp_path / "none")]
    assert paths == [top / "0-model", top / "folder-299" / "late-model"]


def test_finding_models_imports_neither_torch_nor_diffusers(hub: Path, folders: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.engine.models.found import find_models\n"
        "from app.engine.models.fit import detect_gpu, fit_advice, needs_from_weights\n"
        f"models = find_models([Path({str(folders)!r})], hf_cache=Path({str(hub)!r}))\n"
        "fit_advice(needs_from_weights(2**30), detect_gpu())\n"
        "assert len(models) == 7, models\n"
        "heavy = sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_found_models_are_plain_values() -> None:
    model = FoundModel(Path("/m"), None, None, None, False, 0, "folder")
    with pytest.raises(AttributeError):
        model.size_bytes = 1  # type: ignore[misc]
    assert model == FoundModel(Path("/m"), None, None, None, False, 0, "folder")
