"""Pulling models from a fake Hub on 127.0.0.1 through the real child process: progress, the files chosen,
cancel and kill with resume, damaged files, gated / missing / stalled / offline answers, a full disk.
Nothing here reaches any other address."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.cancel import CancelToken
from app.engine.models import download
from app.engine.models.download import DownloadFailed, DownloadPlan, Hub, RemoteFile, files_to_pull
from app.engine.models.pull import (
    PullEvents,
    PullRequest,
    command,
    make_request,
    partial_bytes,
    run_pull,
    staging_folder,
    stopped_pulls,
)
from app.engine.models.registry import ModelRegistry
from app.errors import Cancelled, InputError
from tests.engine.fake_hub import COMMIT, FakeHub, point_at
from tests.engine.tiny_models import save_tiny_sd

REPO = "someone/tiny-sd"


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD repository with what real ones also carry: a pickle, an fp16 copy, code, a checkpoint."""
    repo = save_tiny_sd(tmp_path_factory.mktemp("hub") / "tiny-sd")
    unet = repo / "unet"
    (unet / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    shutil.copy(
        unet / "diffusion_pytorch_model.safetensors", unet / "diffusion_pytorch_model.fp16.safetensors"
    )
    (repo / "scheduler" / "custom_scheduler.py").write_text("import os")
    (repo / "v1-5-pruned.safetensors").write_bytes(b"0" * 64)
    return repo


@pytest.fixture
def hub(tiny_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    served = FakeHub(repos={REPO: tiny_repo}, licenses={REPO: "openrail++"})
    yield point_at(served, monkeypatch, tmp_path / "hf-home")
    served.close()


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "config" / "models.json", models_dir=tmp_path / "models")


def _pulled_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _weights_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in repo.rglob("*.safetensors"))


def _kill_half_way(registry: ModelRegistry, request: PullRequest) -> None:
    """Run the download child until it reports half the bytes, then SIGKILL it: no handler runs, whatever
    was written stays."""
    child = subprocess.Popen(command(registry, request), stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "progress" and event["done"] > event["total"] // 2:
            break
    child.kill()
    child.wait()
    child.stdout.close()


def test_a_pull_fetches_the_safe_default_files_reports_bytes_and_registers(
    hub: FakeHub, registry: ModelRegistry, tiny_repo: Path
) -> None:
    seen: list[tuple[int, int | None]] = []
    entry = run_pull(registry, make_request(registry, REPO), lambda e: seen.append((e.done, e.total)))
    folder = registry.models_dir / "tiny-sd"
    assert entry == registry.get("tiny-sd") and entry.path == folder.resolve()
    pulled = _pulled_files(folder)
    expected = {"model_index.json", "unet/diffusion_pytorch_model.safetensors", "tokenizer/tokenizer.json"}
    assert expected <= pulled
    assert not {name for name in pulled if name.endswith((".bin", ".py", ".fp16.safetensors", ".part"))}
    assert "v1-5-pruned.safetensors" not in pulled and "download.json" not in pulled
    total = sum((tiny_repo / name).stat().st_size for name in pulled)
    assert seen[-1] == (total, total) and total > 100_000  # bytes, not files
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert not staging_folder(registry, "tiny-sd").exists()


def test_the_variant_weights_replace_the_plain_ones_where_a_component_has_them() -> None:
    index = {"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    files = [
        "model_index.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.bin",
        "text_encoder/model.safetensors",  # not listed in the index: not fetched
    ]
    assert files_to_pull(files, index, "fp16") == [
        "model_index.json",
        "unet/config.json",
        "vae/config.json",
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "vae/diffusion_pytorch_model.safetensors",  # no fp16 copy: the plain weights
    ]
    assert "unet/diffusion_pytorch_model.safetensors" in files_to_pull(files, index)


def test_file_names_from_the_server_can_never_leave_the_download_folder() -> None:
    index = {"unet": ["diffusers", "UNet2DConditionModel"], "..": ["diffusers", "AutoencoderKL"]}
    hostile = [
        "../evil.json",
        "unet/../../evil.json",
        "unet/sub/config.json",
        "unet/.hidden.json",
        "/abs.json",
    ]
    assert files_to_pull([*hostile, "unet/config.json"], index) == ["model_index.json", "unet/config.json"]


def test_cancel_keeps_the_partial_files_and_the_next_pull_resumes_with_range(
    hub: FakeHub, registry: ModelRegistry
) -> None:
    hub.bytes_per_second = 400_000
    cancel = CancelToken()

    def cancel_midway(events: PullEvents) -> None:
        if events.total and events.done > events.total // 3:
            cancel.cancel()

    request = make_request(registry, REPO, name="tiny")
    with pytest.raises(Cancelled):
        run_pull(registry, request, cancel_midway, cancel)
    kept = partial_bytes(registry, "tiny")
    assert kept > 0 and registry.entries() == []
    stopped = stopped_pulls(registry)["tiny"]  # what the editor offers to resume after a restart
    assert (stopped.repo_id, stopped.revision, stopped.variant) == (REPO, COMMIT, None)
    assert stopped.partial_bytes == kept and stopped.total_bytes > kept and stopped.license == "openrail++"
    assert any(p.name.endswith(".part") for p in staging_folder(registry, "tiny").rglob("*"))

    hub.bytes_per_second = None
    hub.requests.clear()
    first: list[int] = []
    run_pull(registry, make_request(registry, REPO, name="tiny"), lambda e: first.append(e.done))
    assert registry.find("tiny") is not None
    ranges = [header for _, header in hub.requests if header]
    assert ranges and all(int(h.removeprefix("bytes=").rstrip("-")) > 0 for h in ranges)
    assert first[:2] == [0, kept]  # the plan, then progress starting from what was already there


def test_a_killed_download_resumes_where_it_stopped(hub: FakeHub, registry: ModelRegistry) -> None:
    hub.bytes_per_second = 300_000
    request = make_request(registry, REPO, name="killed")
    _kill_half_way(registry, request)
    kept = partial_bytes(registry, "killed")
    assert kept > 0

    hub.bytes_per_second = None
    hub.requests.clear()
    entry = run_pull(registry, make_request(registry, REPO, name="killed"))
    assert entry.name == "killed"
    fetched_again = [path for path, _ in hub.requests if "/resolve/" in path]
    served = [name for name in _pulled_files(entry.path)]
    assert len(fetched_again) < len(served)  # the files completed before the kill are not asked for again


def test_a_damaged_file_is_fetched_again_and_twice_damaged_fails(
    hub: FakeHub, registry: ModelRegistry
) -> None:
    weights = "unet/diffusion_pytorch_model.safetensors"
    hub.damaged[weights] = 1
    run_pull(registry, make_request(registry, REPO, name="once"))
    assert [path for path, _ in hub.requests if path.endswith(weights)].__len__() == 2

    hub.damaged[weights] = 2
    with pytest.raises(
        DownloadFailed, match=r"unet/diffusion_pytorch_model.safetensors .* arrived damaged twice"
    ):
        run_pull(registry, make_request(registry, REPO, name="twice"))
    assert registry.find("twice") is None and not (registry.models_dir / "twice").exists()


def test_a_small_file_is_checked_against_its_git_blob_id(hub: FakeHub, registry: ModelRegistry) -> None:
    hub.damaged["unet/config.json"] = 2
    with pytest.raises(DownloadFailed, match=r"unet/config\.json"):
        run_pull(registry, make_request(registry, REPO))


def test_gated_repositories_need_a_token_that_was_granted_access(
    hub: FakeHub, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.gated.add(REPO)
    with pytest.raises(InputError) as anonymous:
        run_pull(registry, make_request(registry, REPO))
    assert "is gated: accept its licence at" in str(anonymous.value) and "hf auth login" in str(
        anonymous.value
    )
    monkeypatch.setenv("HF_TOKEN", "hf_not_granted")
    with pytest.raises(InputError, match="has not been granted access"):
        run_pull(registry, make_request(registry, REPO))
    assert registry.entries() == []
    monkeypatch.setenv("HF_TOKEN", hub.token)
    assert run_pull(registry, make_request(registry, REPO)).name == "tiny-sd"


def test_an_unknown_repository_is_one_line_and_registers_nothing(
    hub: FakeHub, registry: ModelRegistry
) -> None:
    with pytest.raises(InputError) as failed:
        run_pull(registry, make_request(registry, "someone/no-such-model"))
    assert str(failed.value).startswith("someone/no-such-model: no such model on the Hugging Face Hub")
    assert "\n" not in str(failed.value) and registry.entries() == []


def test_a_stalled_server_is_a_failure_that_keeps_the_partial_file(
    hub: FakeHub, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORYBEAT_DOWNLOAD_TIMEOUT", "0.3")
    hub.stall["unet/diffusion_pytorch_model.safetensors"] = 50_000
    started = time.monotonic()
    with pytest.raises(
        DownloadFailed, match=r"the download stalled: no data from 127\.0\.0\.1:\d+ for 0\.3 s"
    ):
        run_pull(registry, make_request(registry, REPO))
    assert time.monotonic() - started < 20
    assert partial_bytes(registry, "tiny-sd") >= 50_000 and registry.entries() == []


def test_offline_mode_and_an_unreachable_hub_are_failures(
    hub: FakeHub, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadFailed, match="offline: HF_HUB_OFFLINE is set"):
        run_pull(registry, make_request(registry, REPO))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    closed = hub.url
    hub.close()
    monkeypatch.setenv("HF_ENDPOINT", closed)
    with pytest.raises(DownloadFailed, match=r"cannot reach 127\.0\.0\.1:\d+ .*check the network"):
        run_pull(registry, make_request(registry, REPO))


def test_a_repository_that_is_not_a_model_or_fails_validation_registers_nothing(
    hub: FakeHub, registry: ModelRegistry, tiny_repo: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("not a model")
    hub.repos["someone/plain"] = plain
    with pytest.raises(InputError, match="not a diffusers model"):
        run_pull(registry, make_request(registry, "someone/plain"))

    controlnet = tmp_path / "controlnet"
    shutil.copytree(tiny_repo, controlnet)
    index = json.loads((controlnet / "model_index.json").read_text())
    (controlnet / "model_index.json").write_text(
        json.dumps({**index, "_class_name": "StableDiffusionControlNetPipeline"})
    )
    hub.repos["someone/controlnet"] = controlnet
    registry_before = registry.file.read_bytes() if registry.file.exists() else None
    with pytest.raises(InputError, match=r"someone/controlnet: .*not supported"):
        run_pull(registry, make_request(registry, "someone/controlnet"))
    assert not (registry.models_dir / "controlnet").exists()
    assert not staging_folder(registry, "controlnet").exists()
    assert (registry.file.read_bytes() if registry.file.exists() else None) == registry_before


def test_a_server_that_ignores_range_restarts_the_file_and_still_verifies(
    hub: FakeHub, registry: ModelRegistry
) -> None:
    hub.bytes_per_second = 300_000
    request = make_request(registry, REPO, name="norange")
    _kill_half_way(registry, request)
    hub.bytes_per_second = None
    hub.honour_range = False
    entry = run_pull(registry, make_request(registry, REPO, name="norange"))
    assert registry.get(entry.name).pipeline == "StableDiffusionPipeline"


def test_a_full_disk_is_refused_before_anything_is_fetched(
    hub: FakeHub, registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = Hub().plan(REPO, None, None)
    assert plan.revision == COMMIT and plan.license == "openrail++" and plan.total_bytes > 100_000
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=plan.total_bytes))
    hub.requests.clear()
    with pytest.raises(
        InputError, match=r"not enough disk space for someone/tiny-sd: it needs 0\.\d GB more"
    ):
        download.check_disk_space(plan, tmp_path / "staging")
    assert not (tmp_path / "staging").exists()


def test_a_staging_folder_of_other_content_is_cleared_but_the_same_plan_resumes(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    plan = DownloadPlan(
        REPO, COMMIT, None, (RemoteFile("model_index.json", 10, None, "a" * 40),), False, None
    )
    download.prepare_staging(plan, staging)
    (staging / "model_index.json.part").write_bytes(b"12345")
    download.prepare_staging(plan, staging)
    assert (staging / "model_index.json.part").exists()  # same plan: kept for resuming
    moved_on = DownloadPlan(REPO, "b" * 40, None, plan.files, False, None)
    download.prepare_staging(moved_on, staging)
    assert not (staging / "model_index.json.part").exists()  # another commit: its bytes are not ours


def test_progress_events_give_speed_and_time_left() -> None:
    events = PullEvents()
    events.feed('{"event": "plan", "total": 1000, "license": "mit", "gated": false, "revision": "x"}')
    events.feed('{"event": "progress", "done": 100, "total": 1000}', now=10.0)
    assert events.speed is None and events.seconds_left is None
    events.feed('{"event": "progress", "done": 300, "total": 1000}', now=12.0)
    assert events.speed == pytest.approx(100.0) and events.seconds_left == pytest.approx(7.0)
    assert events.feed("Traceback (most recent call last):") is None
    events.feed('{"event": "error", "kind": "input", "message": "x is gated"}')
    assert isinstance(events.error, InputError) and str(events.error) == "x is gated"


def test_cancel_from_another_thread_stops_a_stalled_child(hub: FakeHub, registry: ModelRegistry) -> None:
    hub.stall["unet/diffusion_pytorch_model.safetensors"] = 10_000
    cancel = CancelToken()
    threading.Timer(1.0, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_pull(registry, make_request(registry, REPO), cancel=cancel)
    assert time.monotonic() - started < 4
    assert os.listdir(registry.models_dir) == [".partial"]


def test_a_disk_that_fills_up_mid_download_is_one_line_and_not_retried(
    hub: FakeHub, registry: ModelRegistry, tmp_path: Path
) -> None:
    plan = Hub().plan(REPO, None, None)
    staging = tmp_path / "staging"
    download.prepare_staging(plan, staging)
    (staging / "model_index.json.part").symlink_to("/dev/full")  # every write fails with ENOSPC
    hub.requests.clear()
    with pytest.raises(DownloadFailed) as failed:
        download.fetch_all(Hub(), plan, staging, lambda done, total: None)
    part = staging / "model_index.json.part"
    assert str(failed.value) == f"{part}: cannot write (No space left on device); what was downloaded is kept"
    assert len([path for path, _ in hub.requests if path.endswith("model_index.json")]) == 1
