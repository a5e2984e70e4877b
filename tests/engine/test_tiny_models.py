"""The tiny pipelines build offline, load back through the real loading path, and run deterministically."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import (
    CogVideoXImageToVideoPipeline,
    LTXConditionPipeline,
    LTXImageToVideoPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionPipeline,
    StableVideoDiffusionPipeline,
    WanImageToVideoPipeline,
)
from PIL import Image

from app.engine.models.catalog import Task, nearest_size, pipeline_spec
from tests.engine.tiny_models import (
    save_tiny_cogvideox,
    save_tiny_ltx,
    save_tiny_ltx_condition,
    save_tiny_sd,
    save_tiny_svd,
    save_tiny_wan,
)

#: Short text keeps the T5-style encoders' padded sequence (and so the calls) small.
_TEXT = {"prompt": "a fox running through snow", "negative_prompt": "blurry", "max_sequence_length": 16}


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]
    pipeline: type[Any]
    #: Arguments of one short call, besides the input image, the generator and the output type.
    call: dict[str, Any]
    #: The output's shape for that call: (batch, frames, H, W, 3) for video, (batch, H, W, 3) for stills.
    shape: tuple[int, ...]


CASES = {
    "svd": Case(
        save_tiny_svd,
        StableVideoDiffusionPipeline,
        {"height": 48, "width": 64, "num_frames": 8, "num_inference_steps": 2},
        (1, 8, 48, 64, 3),
    ),
    "sd": Case(
        save_tiny_sd,
        StableDiffusionPipeline,
        {**_TEXT, "height": 64, "width": 64, "num_inference_steps": 2},
        (1, 64, 64, 3),
    ),
    "ltx": Case(
        save_tiny_ltx,
        LTXImageToVideoPipeline,
        {**_TEXT, "height": 32, "width": 64, "num_frames": 9, "num_inference_steps": 2},
        (1, 9, 32, 64, 3),
    ),
    "ltx_condition": Case(
        save_tiny_ltx_condition,
        LTXConditionPipeline,
        {**_TEXT, "height": 32, "width": 64, "num_frames": 9, "num_inference_steps": 2},
        (1, 9, 32, 64, 3),
    ),
    "wan": Case(
        save_tiny_wan,
        WanImageToVideoPipeline,
        {**_TEXT, "height": 32, "width": 48, "num_frames": 9, "num_inference_steps": 2},
        (1, 9, 32, 48, 3),
    ),
    "cogvideox": Case(
        save_tiny_cogvideox,
        CogVideoXImageToVideoPipeline,
        {**_TEXT, "height": 32, "width": 48, "num_frames": 9, "num_inference_steps": 2},
        (1, 9, 32, 48, 3),
    ),
}


def _load(pipeline: type[Any], folder: Path) -> Any:
    pipe = pipeline.from_pretrained(folder, use_safetensors=True, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {name: case.build(root / name) for name, case in CASES.items()}


@pytest.fixture(scope="module")
def pipes(folders: dict[str, Path]) -> dict[str, Any]:
    return {name: _load(CASES[name].pipeline, folders[name]) for name in CASES}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A smooth colour ramp with a bright square, deliberately not the output size (pipelines must resize)."""
    ys, xs = np.mgrid[0:40, 0:72]
    pixels = np.stack([xs * 3, ys * 6, (xs + ys) * 2], axis=-1).astype(np.uint8)
    pixels[10:25, 30:50] = 255
    return Image.fromarray(pixels)


def _run(pipe: Any, seed: int, **arguments: Any) -> np.ndarray:
    output = pipe(generator=torch.Generator("cpu").manual_seed(seed), output_type="np", **arguments)
    return np.asarray(output.frames if hasattr(output, "frames") else output.images)


def _arguments(name: str, photo: Image.Image) -> dict[str, Any]:
    case = CASES[name]
    return case.call if case.pipeline is StableDiffusionPipeline else {**case.call, "image": photo}


@pytest.mark.parametrize("name", CASES)
def test_folder_holds_only_configs_and_weights(name: str, folders: dict[str, Path]) -> None:
    files = [path for path in folders[name].rglob("*") if path.is_file()]
    assert {path.suffix for path in files} <= {".json", ".txt", ".safetensors"}
    assert any(path.suffix == ".safetensors" for path in files)
    index = json.loads((folders[name] / "model_index.json").read_text())
    assert index["_class_name"] == CASES[name].pipeline.__name__


@pytest.mark.parametrize("name", CASES)
def test_call_is_seeded(name: str, pipes: dict[str, Any], photo: Image.Image) -> None:
    arguments = _arguments(name, photo)
    first = _run(pipes[name], 0, **arguments)
    assert first.shape == CASES[name].shape
    assert first.dtype == np.float32
    assert 0.0 <= first.min() <= first.max() <= 1.0
    assert np.array_equal(first, _run(pipes[name], 0, **arguments))
    assert not np.array_equal(first, _run(pipes[name], 1, **arguments))


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(path for path in folder.rglob("*") if path.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name", CASES)
def test_builders_are_deterministic_and_leave_the_global_rng_alone(
    name: str, folders: dict[str, Path], tmp_path: Path
) -> None:
    rng_before = torch.random.get_rng_state()
    rebuilt = CASES[name].build(tmp_path / name)
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert _digest(rebuilt) == _digest(folders[name])


@pytest.mark.parametrize("name", [name for name in CASES if name != "sd"])
def test_catalog_rules_give_valid_calls(name: str, pipes: dict[str, Any], photo: Image.Image) -> None:
    """A frame count and size rounded by the catalog's rules come out exactly as asked."""
    spec = pipeline_spec(CASES[name].pipeline.__name__)
    assert spec.task is Task.image_to_video
    frames = spec.frames.nearest_at_least(spec.frames.minimum + 1)
    width, height = nearest_size(2 * spec.size_multiple - 8, spec.size_multiple + 4, spec.size_multiple)
    arguments = {**_arguments(name, photo), "height": height, "width": width, "num_frames": frames}
    video = _run(pipes[name], 0, **arguments)
    assert video.shape == (1, frames, height, width, 3)


def test_sd_weights_also_load_as_img2img(pipes: dict[str, Any], folders: dict[str, Path]) -> None:
    arguments = {**CASES["sd"].call, "image": Image.new("RGB", (64, 64), (200, 80, 40)), "strength": 0.6}
    del arguments["height"], arguments["width"]
    from_pipe = StableDiffusionImg2ImgPipeline.from_pipe(pipes["sd"])
    from_folder = _load(StableDiffusionImg2ImgPipeline, folders["sd"])
    refined = _run(from_pipe, 0, **arguments)
    assert refined.shape == (1, 64, 64, 3)
    assert np.array_equal(refined, _run(from_folder, 0, **arguments))


def test_ltx_condition_pins_first_and_last_frames(pipes: dict[str, Any], photo: Image.Image) -> None:
    arguments = {**CASES["ltx_condition"].call, "num_frames": 17}
    last = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    video = _run(pipes["ltx_condition"], 0, image=[photo, last], frame_index=[0, 16], **arguments)
    assert video.shape == (1, 17, 32, 64, 3)


def test_wan_last_frame_needs_the_first_last_frame_variant(
    pipes: dict[str, Any], photo: Image.Image, tmp_path: Path
) -> None:
    last = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    arguments = {**_arguments("wan", photo), "last_image": last}
    with pytest.raises(RuntimeError):
        _run(pipes["wan"], 0, **arguments)
    first_last = _load(WanImageToVideoPipeline, save_tiny_wan(tmp_path / "flf2v", first_last_frame=True))
    assert _run(first_last, 0, **arguments).shape == CASES["wan"].shape
