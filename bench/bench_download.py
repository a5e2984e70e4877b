"""Model downloads: throughput of the resumable, hash-checked downloader against reading the same bytes from
the same local server with nothing else done, and what a resume costs.

A fake Hub on 127.0.0.1 serves one repository whose weights file is `--mb` MB of random bytes. Prints:
- baseline: the bytes streamed straight to nowhere (urllib, 1 MiB reads) — the ceiling on this machine;
- download: `fetch_all` (Range-capable streaming, unbuffered writes, sha256 + git-blob hashing, rename);
- resume: the same after killing at half way — only the missing half is fetched, the kept half re-hashed;
and the ratio of each to the baseline. Run: python bench/bench_download.py [--mb 256]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake Hub lives with the tests

from app.engine.models import download
from tests.engine.fake_hub import COMMIT, FakeHub

REPO = "bench/weights"
WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


def _repo(folder: Path, megabytes: int) -> Path:
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"unet": ["diffusers", "UNet2DConditionModel"]}))
    (folder / "unet" / "config.json").write_text("{}")
    with (folder / WEIGHTS).open("wb") as sink:
        for _ in range(megabytes):
            sink.write(os.urandom(1024 * 1024))
    return folder


def _baseline(hub: FakeHub) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"{hub.url}/{REPO}/resolve/{COMMIT}/{WEIGHTS}") as response:
        while response.read1(1024 * 1024):
            pass
    return time.perf_counter() - started


def _download(staging: Path) -> float:
    hub = download.Hub()
    plan = hub.plan(REPO, None, None)
    download.prepare_staging(plan, staging)
    started = time.perf_counter()
    download.fetch_all(hub, plan, staging, lambda done, total: None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256, help="size of the weights file in MB")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storybeat-bench-download-"))
    hub = FakeHub(repos={REPO: _repo(work / "repo", args.mb)})
    os.environ["HF_ENDPOINT"] = hub.url
    os.environ.pop("HF_HUB_OFFLINE", None)
    try:
        size_mb = (work / "repo" / WEIGHTS).stat().st_size / 1e6
        baseline = min(_baseline(hub) for _ in range(2))
        full = min(_download(work / f"full{attempt}") for attempt in range(2))

        staging = work / "resumed"
        _download(staging)
        weights = staging / WEIGHTS
        part = staging / f"{WEIGHTS}.part"
        os.replace(weights, part)
        with part.open("r+b") as handle:  # as a kill at half way leaves it
            handle.truncate(part.stat().st_size // 2)
        resumed = _download(staging)

        print(f"weights file: {size_mb:.0f} MB from a local server")
        print(f"baseline (read only):      {baseline:6.2f} s  {size_mb / baseline:7.1f} MB/s")
        print(f"download (write + hashes): {full:6.2f} s  {size_mb / full:7.1f} MB/s  x{full / baseline:.2f}")
        ratio = resumed / baseline
        print(f"resume from half way:      {resumed:6.2f} s  {size_mb / resumed:7.1f} MB/s  x{ratio:.2f}")
    finally:
        hub.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
