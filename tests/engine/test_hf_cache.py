"""Hugging Face cache snapshots register and load in place: their links into the repository's own blobs are
followed, every other link out of the snapshot is still refused."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import huggingface_hub
import pytest
import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import load_file

from app.engine.models.loader import load_pipeline
from app.engine.models.memory import weights_bytes
from app.engine.models.registry import ModelRegistry, validate_model_folder
from app.errors import InputError
from tests.engine.hf_cache_fixtures import cache_model_folder, commit_for, relative_link, repo_folder
from tests.engine.test_registry import write_fake_model
from tests.engine.tiny_models import save_tiny_sd

_REPO = "someone/fake-sd"


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "config" / "models.json", models_dir=tmp_path / "pulled")


@pytest.fixture(params=[False, True], ids=["repo-blobs", "shared-store"])
def snapshot(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    source = write_fake_model(tmp_path / "source")
    return cache_model_folder(source, tmp_path / "hub", _REPO, shared_store=request.param)


def _dereferenced_copy(snapshot: Path, destination: Path) -> Path:
    """`cp -rL --preserve=timestamps`: the same model with the links replaced by the files."""
    return shutil.copytree(snapshot, destination, symlinks=False)


def test_the_fixture_is_a_cache_huggingface_hub_itself_reads(snapshot: Path, tmp_path: Path) -> None:
    info = huggingface_hub.scan_cache_dir(tmp_path / "hub")
    assert info.warnings == []
    (repo,) = info.repos
    assert repo.repo_id == _REPO and repo.repo_type == "model"
    (revision,) = repo.revisions
    assert revision.snapshot_path == snapshot and revision.refs == frozenset({"main"})
    assert (snapshot / "unet" / "diffusion_pytorch_model.safetensors").is_symlink()
    assert not os.readlink(snapshot / "unet" / "config.json").startswith("/")  # relative, like the Hub's
    # huggingface_hub's own offline look-ups (refs/main → snapshot) land in it.
    hub = tmp_path / "hub"
    assert Path(huggingface_hub.snapshot_download(_REPO, cache_dir=hub, local_files_only=True)) == snapshot
    config = huggingface_hub.hf_hub_download(_REPO, "unet/config.json", cache_dir=hub, local_files_only=True)
    assert Path(config) == snapshot / "unet" / "config.json"


def test_a_snapshot_registers_in_place_as_the_same_model_as_its_copy(
    registry: ModelRegistry, snapshot: Path, tmp_path: Path
) -> None:
    entry = registry.add("fake-sd", snapshot)
    assert entry.path == snapshot and entry.pipeline == "StableDiffusionPipeline"
    fetched = registry.get("fake-sd")
    assert fetched.revision == entry.revision
    # The revision reads the configs and stats the weights through the links: the dereferenced copy (same
    # bytes, same modification times) is the same model.
    copy = _dereferenced_copy(snapshot, tmp_path / "copy")
    assert validate_model_folder(copy) == (entry.pipeline, entry.revision)
    assert weights_bytes(snapshot, "float32") == weights_bytes(copy, "float32") == 3 * 4 * 4


def test_rewriting_a_blob_changes_the_revision(registry: ModelRegistry, snapshot: Path) -> None:
    before = registry.add("fake-sd", snapshot).revision
    config = (snapshot / "scheduler" / "scheduler_config.json").resolve()
    config.chmod(0o644)  # shared-store payloads are written read-only
    config.write_text('{"_class_name": "PNDMScheduler", "steps_offset": 1}')
    assert registry.get("fake-sd").revision != before


def _other_repo_blob(snapshot: Path) -> Path:
    """A blob file in another repository of the same cache."""
    other = write_fake_model(snapshot.parents[3] / "other-source")
    other_snapshot = cache_model_folder(other, snapshot.parents[2], "someone/other-model")
    return (other_snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve()


def _relink(snapshot: Path, relative: str, target: Path) -> None:
    link = snapshot / relative
    link.unlink()
    relative_link(link, target)


def _into_other_repo(snapshot: Path) -> None:
    _relink(snapshot, "unet/diffusion_pytorch_model.safetensors", _other_repo_blob(snapshot))


def _into_etc(snapshot: Path) -> None:
    (snapshot / "tokenizer" / "vocab.json").symlink_to("/etc/hosts")


def _outside_file(snapshot: Path) -> None:
    outside = snapshot.parents[3] / "elsewhere.safetensors"
    shutil.copy(snapshot / "vae" / "diffusion_pytorch_model.safetensors", outside)
    _relink(snapshot, "vae/diffusion_pytorch_model.safetensors", outside)


def _directory_outside(snapshot: Path) -> None:
    outside = shutil.copytree(snapshot / "tokenizer", snapshot.parents[3] / "tokenizer-elsewhere")
    shutil.rmtree(snapshot / "tokenizer")
    relative_link(snapshot / "tokenizer", outside)


def _directory_in_blobs(snapshot: Path) -> None:
    folder = snapshot.parents[1] / "blobs" / "a-folder"
    folder.mkdir()
    (snapshot / "extra").symlink_to(folder)


def _chain_ending_outside(snapshot: Path) -> None:
    # The snapshot link's first hop is one of this repository's blobs, but that blob leads out of the cache.
    outside = snapshot.parents[3] / "elsewhere.json"
    outside.write_text("{}")
    blob = snapshot.parents[1] / "blobs" / ("f" * 64)
    relative_link(blob, outside)
    relative_link(snapshot / "text_encoder" / "extra_config.json", blob)


def _own_blob_into_another_repo(snapshot: Path) -> None:
    blob = snapshot.parents[1] / "blobs" / ("e" * 64)
    relative_link(blob, _other_repo_blob(snapshot))
    _relink(snapshot, "vae/diffusion_pytorch_model.safetensors", blob)


def _straight_into_the_shared_store(snapshot: Path) -> None:
    # Only a repository blob may lead into the shared store; a snapshot link straight into it skips the
    # repository (its payloads belong to every repository of the cache).
    payload = _other_repo_blob(snapshot)
    store = snapshot.parents[2] / "blobs"
    (store / payload.name[:2]).mkdir(parents=True, exist_ok=True)
    (store / ".huggingface-shared-blobs").write_text("1\n")
    moved = shutil.copy(payload, store / payload.name[:2] / payload.name)
    _relink(snapshot, "unet/diffusion_pytorch_model.safetensors", Path(moved))


OUT_OF_SNAPSHOT: dict[str, Callable[[Path], object]] = {
    "into another repository's blobs": _into_other_repo,
    "into /etc": _into_etc,
    "to a file outside the cache": _outside_file,
    "to a directory outside": _directory_outside,
    "to a directory in blobs": _directory_in_blobs,
    "a chain of links that ends outside": _chain_ending_outside,
    "through its own blob into another repository": _own_blob_into_another_repo,
    "straight into the shared store": _straight_into_the_shared_store,
}


@pytest.mark.parametrize("problem", sorted(OUT_OF_SNAPSHOT))
def test_every_other_link_out_of_a_snapshot_is_refused_with_one_line(
    snapshot: Path, registry: ModelRegistry, problem: str
) -> None:
    OUT_OF_SNAPSHOT[problem](snapshot)
    with pytest.raises(InputError) as refused:
        registry.add("fake-sd", snapshot)
    message = str(refused.value)
    assert "outside the model folder (copy the files in, e.g. with `cp -rL`)" in message
    assert message.startswith(f"{snapshot}: ") and "\n" not in message
    assert registry.entries() == []


def test_only_a_model_repositorys_snapshot_gets_the_exception(tmp_path: Path) -> None:
    source = write_fake_model(tmp_path / "source")
    snapshot = cache_model_folder(source, tmp_path / "hub", _REPO)
    dataset = tmp_path / "hub" / "datasets--someone--fake-sd"
    repo_folder(tmp_path / "hub", _REPO).rename(dataset)
    with pytest.raises(InputError, match="outside the model folder"):
        validate_model_folder(dataset / "snapshots" / snapshot.name)
    # A folder outside the cache's snapshots linking to the same blobs is like any other folder of links.
    moved = dataset.rename(tmp_path / "hub" / "models--someone--fake-sd")
    snapshot = moved / "snapshots" / snapshot.name
    loose = tmp_path / "loose"
    for file in snapshot.rglob("*"):
        if file.is_symlink():
            (loose / file.relative_to(snapshot)).parent.mkdir(parents=True, exist_ok=True)
            (loose / file.relative_to(snapshot)).symlink_to(file.resolve())
    with pytest.raises(InputError, match="outside the model folder"):
        validate_model_folder(loose)
    validate_model_folder(snapshot)  # while the snapshot itself is fine


def test_a_broken_link_into_the_repositorys_blobs_says_so(snapshot: Path) -> None:
    weights = (snapshot / "unet" / "diffusion_pytorch_model.safetensors").resolve()
    weights.chmod(0o644)
    weights.unlink()  # in the shared store too, the payload at the end of the chain
    with pytest.raises(InputError) as refused:
        validate_model_folder(snapshot)
    message = str(refused.value)
    assert message.startswith(f"{snapshot}: ") and "\n" not in message
    assert f"is a broken link ({weights} is missing from the cache)" in message


def test_a_looping_link_is_refused_with_one_line(snapshot: Path) -> None:
    (snapshot / "tokenizer" / "loop.txt").symlink_to("loop.txt")
    with pytest.raises(InputError) as refused:
        validate_model_folder(snapshot)
    assert str(refused.value) == f"{snapshot}: tokenizer/loop.txt is a link that loops or cannot be followed"


def test_two_revisions_of_one_repository_register_side_by_side(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    hub = tmp_path / "hub"
    first = cache_model_folder(write_fake_model(tmp_path / "v1"), hub, _REPO)
    source = write_fake_model(tmp_path / "v2")
    (source / "scheduler" / "scheduler_config.json").write_text('{"_class_name": "PNDMScheduler", "v": 2}')
    second = cache_model_folder(source, hub, _REPO, commit=commit_for(_REPO, "v2"))
    a, b = registry.add("v1", first), registry.add("v2", second)
    assert a.revision != b.revision
    assert registry.get("v1").revision == a.revision and registry.get("v2").revision == b.revision


@pytest.mark.parametrize("shared_store", [False, True], ids=["repo-blobs", "shared-store"])
def test_a_tiny_sd_snapshot_loads_through_the_links(
    tmp_path: Path, registry: ModelRegistry, shared_store: bool
) -> None:
    source = save_tiny_sd(tmp_path / "tiny-sd")
    snapshot = cache_model_folder(source, tmp_path / "hub", "someone/tiny-sd", shared_store=shared_store)
    assert not any(path.is_file() and not path.is_symlink() for path in snapshot.rglob("*"))
    entry = registry.get(registry.add("tiny-sd", snapshot).name)
    pipe = load_pipeline(entry, "StableDiffusionPipeline", "cpu", torch.float32)
    assert isinstance(pipe, StableDiffusionPipeline)
    stored = load_file(snapshot / "unet" / "diffusion_pytorch_model.safetensors")
    assert torch.equal(pipe.unet.state_dict()["conv_in.weight"], stored["conv_in.weight"])
    assert weights_bytes(snapshot, "float32") > 0
