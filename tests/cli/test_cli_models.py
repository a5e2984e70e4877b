"""`storybeat models`: add / list / remove / pull through the real command line, exit statuses and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import run
from app.engine.models.curated import load_catalog
from tests.engine.fake_hub import FakeHub, point_at
from tests.engine.test_registry import write_fake_model


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYBEAT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("STORYBEAT_DATA_DIR", str(tmp_path / "data"))  # where `pull` downloads to


@pytest.fixture
def fake_model(tmp_path: Path) -> Path:
    return write_fake_model(tmp_path / "fake-sd")


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def _listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert run(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert isinstance(listed, list)
    return listed


def test_add_list_remove_round_trip(fake_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "list"]) == 0
    assert "no models registered" in capsys.readouterr().out

    assert run(["models", "add", "sd-fake", str(fake_model)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("registered sd-fake: StableDiffusionPipeline") and str(fake_model) in out

    [model] = _listed(capsys)
    assert model["name"] == "sd-fake" and model["path"] == str(fake_model.resolve())
    assert model["pipeline"] == "StableDiffusionPipeline"
    assert model["tasks"] == ["image_to_image", "text_to_image"]
    assert isinstance(model["revision"], str) and len(model["revision"]) == 64
    assert model["available"] is True

    assert run(["models", "remove", "sd-fake", "--json"]) == 0
    removed = json.loads(capsys.readouterr().out)
    assert removed == {"removed": "sd-fake", "path": str(fake_model.resolve()), "deleted": False}
    assert _listed(capsys) == []
    assert fake_model.is_dir()


def test_add_json_prints_the_entry_and_list_flags_a_missing_folder(
    fake_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models", "add", "sd", str(fake_model), "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "sd" and added["family"] == "stable_diffusion"
    fake_model.rename(fake_model.with_name("moved"))
    assert _listed(capsys)[0]["available"] is False
    assert run(["models", "list"]) == 0
    assert "(folder missing)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "expected"), [("motion", "reserved for the built-in backend"), ("Big Model", "is not valid")]
)
def test_bad_names_exit_2_with_one_line(
    fake_model: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str
) -> None:
    assert run(["models", "add", name, str(fake_model)]) == 2
    _one_line_error(capsys, expected)
    assert _listed(capsys) == []


def test_a_refused_folder_exits_2_and_registers_nothing(
    fake_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fake_model / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (fake_model / "unet" / "diffusion_pytorch_model.ckpt").write_bytes(b"\x80\x04")
    assert run(["models", "add", "sd", str(fake_model)]) == 2
    _one_line_error(capsys, str(fake_model / "unet"), "safetensors weights required")
    assert _listed(capsys) == []


def test_removing_an_unknown_model_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models", "remove", "ghost"]) == 2
    _one_line_error(capsys, "no model named 'ghost'")


def test_a_broken_registry_file_is_named_and_kept(
    fake_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry_file = tmp_path / "config" / "models.json"
    registry_file.parent.mkdir()
    registry_file.write_text('{"format": 1, "models": [')
    assert run(["models", "list"]) == 2
    _one_line_error(capsys, str(registry_file), "damaged")
    assert run(["models", "add", "sd", str(fake_model)]) == 2
    _one_line_error(capsys, str(registry_file))
    assert registry_file.read_text() == '{"format": 1, "models": ['


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    served = FakeHub(repos={"someone/tiny-sd": write_fake_model(tmp_path / "repo")})
    yield point_at(served, monkeypatch, tmp_path / "hf-home")
    served.close()


def test_pull_offline_exits_1_keeps_nothing_registered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert run(["models", "pull", "someone/tiny-model", "--name", "tiny"]) == 1
    _one_line_error(capsys, "offline: HF_HUB_OFFLINE is set")
    assert _listed(capsys) == []
    assert not (tmp_path / "data" / "models" / "tiny").exists()


def test_pull_a_repository_then_rename_and_remove_with_its_files(
    hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models", "pull", "someone/tiny-sd", "--json"]) == 0
    pulled = json.loads(capsys.readouterr().out)
    folder = tmp_path / "data" / "models" / "tiny-sd"
    assert pulled["name"] == "tiny-sd" and pulled["path"] == str(folder.resolve())
    assert run(["models", "rename", "tiny-sd", "sd-small"]) == 0
    assert capsys.readouterr().out.startswith("renamed to sd-small: StableDiffusionPipeline")
    assert [model["name"] for model in _listed(capsys)] == ["sd-small"]
    assert run(["models", "remove", "sd-small", "--delete-files", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] is True
    assert not folder.exists() and _listed(capsys) == []


def test_remove_never_deletes_a_folder_storybeat_did_not_download(
    fake_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models", "add", "mine", str(fake_model)]) == 0
    capsys.readouterr()
    assert run(["models", "remove", "mine", "--delete-files"]) == 2
    _one_line_error(capsys, "is not in Storybeat's models folder")
    assert fake_model.is_dir() and [model["name"] for model in _listed(capsys)] == ["mine"]


def test_pull_a_catalog_id_uses_its_pinned_revision_and_name(
    hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    curated = load_catalog().find("sdxl-base")
    hub.repos[curated.repo_id] = hub.repos["someone/tiny-sd"]
    assert run(["models", "pull", "sdxl-base", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "sdxl-base"
    listings = [path for path, _ in hub.requests if path.startswith("/api/")]
    assert listings == [f"/api/models/{curated.repo_id}/revision/{curated.revision}"]


def test_gated_and_unknown_repositories_exit_2_with_one_line(
    hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    hub.gated.add("someone/tiny-sd")
    assert run(["models", "pull", "someone/tiny-sd"]) == 2
    _one_line_error(capsys, "someone/tiny-sd is gated: accept its licence at", "hf auth login")
    assert run(["models", "pull", "someone/nothing-here"]) == 2
    _one_line_error(capsys, "someone/nothing-here: no such model on the Hugging Face Hub")
    assert _listed(capsys) == []


def test_catalog_lists_every_curated_model_with_size_licence_and_fit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: this machine has no NVIDIA GPU
    assert run(["models", "catalog", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == load_catalog().ids
    for row in rows:
        assert row["size_bytes"] > 0 and row["license"]
        assert row["fit"]["level"] == "cpu_only" and row["fit"]["badge"] == "CPU only: slow"
    assert run(["models", "catalog"]) == 0
    assert "svd-xt: " in capsys.readouterr().out


def test_found_lists_models_in_the_given_folders(
    fake_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    assert run(["models", "found", "--folder", str(fake_model.parent), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["models"]
    assert [(row["path"], row["registered_as"]) for row in found] == [(str(fake_model), None)]
    assert run(["models", "add", "fake", str(fake_model)]) == 0
    capsys.readouterr()
    assert run(["models", "found", "--folder", str(fake_model.parent), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["registered_as"] == "fake"


def test_models_needs_a_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models"]) == 2
    _one_line_error(capsys, "models")
    assert run(["models", "pull"]) == 2
    _one_line_error(capsys, "repo_id")
