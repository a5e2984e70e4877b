"""`storybeat models`: add / list / remove / pull through the real command line, exit statuses and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import pytest

from app.cli import run
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
    assert json.loads(capsys.readouterr().out) == {"removed": "sd-fake", "path": str(fake_model.resolve())}
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


def test_pull_offline_exits_1_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable when it is imported, which happened before this test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert run(["models", "pull", "someone/tiny-model", "--name", "tiny"]) == 1
    _one_line_error(
        capsys,
        "could not reach the Hugging Face Hub to pull someone/tiny-model",
        "use `storybeat models add`",
    )
    assert _listed(capsys) == []
    assert not (tmp_path / "data" / "models" / "tiny").exists()


def test_models_needs_a_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models"]) == 2
    _one_line_error(capsys, "models")
    assert run(["models", "pull"]) == 2
    _one_line_error(capsys, "repo_id")
