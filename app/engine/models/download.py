"""Downloading a diffusers model from the Hugging Face Hub: resumable, verified, cancellable by killing.

The one explicit network use (DESIGN.md). It speaks the Hub's two public HTTP endpoints itself — the
repository listing (`/api/models/REPO/revision/REV?blobs=true`, with each file's size and hash) and file
downloads (`/REPO/resolve/COMMIT/PATH`, with HTTP Range) — rather than going through huggingface_hub's
downloader, because a 20 GB pull needs what that does not give together: one byte count across all files,
partial files that survive a killed process and resume where they stopped, every file checked against the
hash the Hub lists before it counts, and a failure told apart (offline, gated, not found, stalled, disk full).
`HF_ENDPOINT`, `HF_TOKEN` (or the token `hf auth login` saved) and `HF_HUB_OFFLINE` mean what they mean to
huggingface_hub.

A download goes into a staging folder (`<models>/.partial/<name>/`): `<file>.part` while it arrives, renamed
to `<file>` once its hash matches. Killing the process at any point loses at most the bytes in flight; the
next run with the same staging folder asks only for what is missing. The editor and `storybeat models pull`
run it as a child process (`python -m app.engine.models.download ...`) that reports JSON lines on stdout, so
cancelling is terminating the child and nothing in the parent is ever blocked on the network.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from app.errors import InputError, StorybeatError

DEFAULT_ENDPOINT = "https://huggingface.co"
PLAN_FILE = "download.json"
_CHUNK = 1024 * 1024
_DEFAULT_TIMEOUT_S = 30.0
_RETRIES = 3  # attempts per file after a stall or a dropped connection, resuming each time
_DISK_MARGIN = 256 * 1024 * 1024  # left free beyond the download: the disk must stay usable
_PULLED_SUFFIXES = frozenset({".json", ".txt", ".model", ".safetensors"})  # configs, tokenizers, weights
_USER_AGENT = "storybeat-model-download"
_COMPONENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # a pipeline component folder ("unet", "text_encoder_2")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


class DownloadFailed(StorybeatError):
    """The download stopped for a reason outside the input (network, server, disk); partial files are kept."""


class _DiskError(Exception):
    """Writing a downloaded chunk failed: the local disk, not the network (never retried)."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: cannot write ({error.strerror or error}); what was downloaded is kept")


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative, POSIX
    size: int
    sha256: str | None  # large (LFS) files
    git_sha1: str | None  # small files: the git blob id

    def verify(self, path: Path) -> bool:
        """Whether the file at `path` is this one: its size, then the hash the Hub lists for it — sha256 for
        large (LFS) files, the git blob id (sha1 of "blob <size>\\0" + content) for small ones. Only the
        listed hash is computed: reading a 20 GB file once is enough."""
        if path.stat().st_size != self.size:
            return False
        if self.sha256:
            return _file_digest(path, hashlib.sha256()) == self.sha256
        if self.git_sha1:
            git = hashlib.sha1(f"blob {self.size}\0".encode(), usedforsecurity=False)
            return _file_digest(path, git) == self.git_sha1
        return True  # the Hub listed no hash (an old listing): the size check is all there is


@dataclass(frozen=True)
class DownloadPlan:
    """What one pull fetches: a repository at one commit, the files chosen from it, their sizes and hashes."""

    repo_id: str
    revision: str  # the commit, resolved even when a branch was asked for
    variant: str | None
    files: tuple[RemoteFile, ...]
    gated: bool
    license: str | None

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "files": [asdict(file) for file in self.files]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DownloadPlan:
        return cls(
            data["repo_id"],
            data["revision"],
            data["variant"],
            tuple(RemoteFile(**file) for file in data["files"]),
            bool(data["gated"]),
            data["license"],
        )


# -- choosing files ------------------------------------------------------------------------------


def files_to_pull(
    repo_files: list[str], model_index: dict[str, Any], variant: str | None = None
) -> list[str]:
    """The repository files a local copy needs: model_index.json and, in each listed component's folder, its
    configs and tokenizer files and one set of safetensors weights — the `variant` ones (e.g. "fp16":
    `x.fp16.safetensors`) where the component has them, else the plain ones. Pickles, code, single-file
    checkpoints at the top and other variants are never fetched."""
    components = {
        key
        for key, value in model_index.items()
        if _COMPONENT.fullmatch(key) and isinstance(value, list) and value != [None, None]
    }
    wanted = ["model_index.json"]
    weights: dict[str, dict[str | None, list[str]]] = {}  # component → variant → files
    for name in repo_files:
        path = PurePosixPath(name)
        # Names come from the server: only "<component>/<plain file name>", never "..", links or subfolders.
        if len(path.parts) != 2 or path.parts[0] not in components or not _FILE_NAME.fullmatch(path.name):
            continue
        suffix = path.suffix.lower()
        if suffix not in _PULLED_SUFFIXES:
            continue
        if suffix != ".safetensors":
            wanted.append(name)
            continue
        stem = path.stem.split("-0000", 1)[0]  # "model.fp16-00001-of-00002" is a shard of variant fp16
        file_variant = stem.split(".", 1)[1] if "." in stem else None
        weights.setdefault(path.parts[0], {}).setdefault(file_variant, []).append(name)
    for by_variant in weights.values():
        chosen = by_variant.get(variant) if variant else None
        wanted.extend(chosen or by_variant.get(None) or [])
    return wanted


# -- the Hub ---------------------------------------------------------------------------------------


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _token() -> str | None:
    token = os.environ.get("HF_TOKEN")
    if token:
        return token
    try:
        from huggingface_hub import get_token

        return get_token()
    except Exception:  # an unreadable token file is "no token", not a crash
        return None


def _timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("STORYBEAT_DOWNLOAD_TIMEOUT", _DEFAULT_TIMEOUT_S)))
    except ValueError:
        return _DEFAULT_TIMEOUT_S


class Hub:
    """The Hub's listing and file endpoints at `endpoint()`, with the user's token when there is one."""

    def __init__(self) -> None:
        if _offline():
            raise DownloadFailed("offline: HF_HUB_OFFLINE is set, so nothing can be downloaded (unset it)")
        self.base = endpoint()
        self.token = _token()
        self.timeout = _timeout()

    def open(self, url: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, **(headers or {})})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        return urllib.request.urlopen(request, timeout=self.timeout)

    def plan(self, repo_id: str, revision: str | None, variant: str | None) -> DownloadPlan:
        """The files to fetch for `repo_id` at `revision` (a commit or branch; default main)."""
        quoted = urllib.parse.quote(revision or "main", safe="")
        listing = self._json(f"{self.base}/api/models/{repo_id}/revision/{quoted}?blobs=true", repo_id)
        commit = listing.get("sha")
        siblings = listing.get("siblings")
        if not isinstance(commit, str) or not isinstance(siblings, list):
            raise DownloadFailed(f"the Hub sent an unexpected listing for {repo_id} (no commit or file list)")
        files = {
            item["rfilename"]: item
            for item in siblings
            if isinstance(item, dict) and isinstance(item.get("rfilename"), str)
        }
        if "model_index.json" not in files:
            raise InputError(
                f"{repo_id}: not a diffusers model (no model_index.json on the Hugging Face Hub)"
            )
        index = self._json(self.file_url(repo_id, commit, "model_index.json"), repo_id)
        chosen = []
        for name in files_to_pull(list(files), index, variant):
            item = files[name]
            lfs = item.get("lfs") if isinstance(item.get("lfs"), dict) else None
            size = lfs.get("size") if lfs else item.get("size")
            if not isinstance(size, int) or size < 0:
                raise DownloadFailed(f"the Hub listed no size for {name} in {repo_id}")
            chosen.append(
                RemoteFile(
                    name,
                    size,
                    lfs.get("sha256") if lfs else None,
                    None if lfs else item.get("blobId"),
                )
            )
        card: dict[str, Any] = listing["cardData"] if isinstance(listing.get("cardData"), dict) else {}
        licence = card.get("license") if isinstance(card.get("license"), str) else None
        return DownloadPlan(repo_id, commit, variant, tuple(chosen), bool(listing.get("gated")), licence)

    def file_url(self, repo_id: str, commit: str, path: str) -> str:
        return f"{self.base}/{repo_id}/resolve/{commit}/{urllib.parse.quote(path)}"

    def _json(self, url: str, repo_id: str) -> dict[str, Any]:
        try:
            with self.open(url) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise http_failure(repo_id, error, self.token is not None) from None
        except (urllib.error.URLError, OSError) as error:
            raise unreachable(self.base, error) from None
        except ValueError:
            raise DownloadFailed(f"the Hub sent something that is not JSON for {repo_id}") from None
        if not isinstance(data, dict):
            raise DownloadFailed(f"the Hub sent an unexpected answer for {repo_id}")
        return data


def http_failure(repo_id: str, error: urllib.error.HTTPError, has_token: bool) -> StorybeatError:
    """One line for an HTTP error answer. The Hub says why in `X-Error-Code` (GatedRepo, RepoNotFound, …)."""
    code = error.headers.get("X-Error-Code", "") if error.headers else ""
    page = f"{DEFAULT_ENDPOINT}/{repo_id}"
    if code == "GatedRepo" or (error.code == 403 and code != "RepoNotFound"):
        if has_token:
            return InputError(
                f"{repo_id} is gated and your Hugging Face account has not been granted access: "
                f"accept its licence at {page}, then pull again"
            )
        return InputError(
            f"{repo_id} is gated: accept its licence at {page}, then log in here "
            "(`hf auth login`, or set HF_TOKEN) and pull again"
        )
    if code == "RevisionNotFound":
        return InputError(f"{repo_id}: the Hub has no such revision")
    if error.code in (401, 404) or code in ("RepoNotFound", "EntryNotFound"):
        login = "" if has_token else " (if it is private, log in with `hf auth login` or set HF_TOKEN)"
        return InputError(f"{repo_id}: no such model on the Hugging Face Hub{login}")
    return DownloadFailed(
        f"the Hub answered HTTP {error.code} for {repo_id}; try again later (what was downloaded is kept)"
    )


def unreachable(base: str, error: BaseException) -> DownloadFailed:
    host = urllib.parse.urlsplit(base).netloc or base
    reason = getattr(error, "reason", None) or error
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return DownloadFailed(
            f"the download stalled: no data from {host} for {_timeout():g} s "
            "(what was downloaded is kept: pull again to resume)"
        )
    text = getattr(reason, "strerror", None) or str(reason)
    return DownloadFailed(
        f"cannot reach {host} ({text}); check the network (what was downloaded is kept: pull again to resume)"
    )


# -- fetching --------------------------------------------------------------------------------------

ProgressFn = Callable[[int, int], None]  # (bytes done, bytes in all)
AdvanceFn = Callable[[int], None]  # bytes of the current file


def check_disk_space(plan: DownloadPlan, staging: Path) -> None:
    """InputError when the bytes still to fetch (plus a margin) do not fit the disk holding `staging`."""
    have = sum(_present_bytes(staging, file) for file in plan.files)
    needed = plan.total_bytes - have
    probe = staging
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + _DISK_MARGIN > free:
        raise InputError(
            f"not enough disk space for {plan.repo_id}: it needs {_gb(needed)} more, "
            f"{_gb(free)} is free on {probe} (free some space or choose another models folder)"
        )


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB"


def _present_bytes(staging: Path, file: RemoteFile) -> int:
    done = staging / file.path
    if done.is_file():
        return file.size
    part = staging / f"{file.path}.part"
    return min(part.stat().st_size, file.size) if part.is_file() else 0


def prepare_staging(plan: DownloadPlan, staging: Path) -> None:
    """Make `staging` hold this plan. A staging folder left by a pull of another repository, revision or
    variant under the same name is cleared first: its partial files belong to other content."""
    plan_file = staging / PLAN_FILE
    if plan_file.is_file():
        try:
            previous = DownloadPlan.from_json(json.loads(plan_file.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            previous = None
        if previous != plan:
            shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    temporary = staging / f".{PLAN_FILE}.tmp"
    temporary.write_text(json.dumps(plan.to_json(), indent=1), encoding="utf-8")
    os.replace(temporary, plan_file)


def fetch_all(hub: Hub, plan: DownloadPlan, staging: Path, progress: ProgressFn) -> None:
    """Fetch every file of `plan` not yet complete in `staging`, resuming partial ones, each checked against
    its hash. `progress(done, total)` counts bytes over all files, the bytes already present included."""
    done = sum(_present_bytes(staging, file) for file in plan.files)
    total = plan.total_bytes
    progress(done, total)
    for file in plan.files:
        if (staging / file.path).is_file():
            continue
        before = _present_bytes(staging, file)

        def advance(file_bytes: int, base: int = done - before) -> None:
            progress(base + file_bytes, total)

        _fetch_verified(hub, plan, file, staging, advance)
        done += file.size - before
        progress(done, total)


def _fetch_verified(
    hub: Hub, plan: DownloadPlan, file: RemoteFile, staging: Path, advance: AdvanceFn
) -> None:
    target = staging / file.path
    part = staging / f"{file.path}.part"
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):  # a file that fails its hash is fetched once more from the start
        _fetch_part(hub, plan, file, part, advance)
        if file.verify(part):
            os.replace(part, target)
            return
        part.unlink()
        if attempt == 2:
            raise DownloadFailed(
                f"{file.path} of {plan.repo_id} arrived damaged twice (its hash does not match the Hub's); "
                "try again later"
            )


def _fetch_part(hub: Hub, plan: DownloadPlan, file: RemoteFile, part: Path, advance: AdvanceFn) -> None:
    """Append to `part` until it holds `file.size` bytes, retrying (and resuming) after stalls and drops."""
    url = hub.file_url(plan.repo_id, plan.revision, file.path)
    for attempt in range(_RETRIES):
        have = part.stat().st_size if part.exists() else 0
        if have >= file.size:
            return
        try:
            _stream(hub, url, part, have, file.size, advance)
            return
        except urllib.error.HTTPError as error:
            if error.code == 416:  # the part already holds everything (or more): the hash check decides
                return
            raise http_failure(plan.repo_id, error, hub.token is not None) from None
        except _DiskError as error:
            raise DownloadFailed(str(error)) from None
        except (urllib.error.URLError, OSError) as error:  # a stall, a dropped or refused connection
            if attempt == _RETRIES - 1:
                raise unreachable(hub.base, error) from None
            time.sleep(0.5 * 2**attempt)


def _stream(hub: Hub, url: str, part: Path, have: int, size: int, advance: AdvanceFn) -> None:
    headers = {"Range": f"bytes={have}-"} if have else {}
    with hub.open(url, headers) as response:
        resumed = have > 0 and response.status == 206
        mode = "ab" if resumed else "wb"  # a server that ignores Range sends the whole file again
        written = have if resumed else 0
        try:
            # Unbuffered: what arrived is on disk when the process is killed (resume starts there), and a
            # full disk fails the write itself rather than a later flush.
            sink = part.open(mode, buffering=0)
        except OSError as error:
            raise _DiskError(part, error) from None
        with sink:
            # read1: whatever has arrived (up to a chunk), so progress moves during a slow file too
            while chunk := response.read1(_CHUNK):
                try:
                    _write_all(sink, chunk)
                except OSError as error:
                    raise _DiskError(part, error) from None
                written += len(chunk)
                advance(min(written, size))
                if written > size:
                    break  # more than the listing said: the hash check will refuse it


def _write_all(sink: IO[Any], chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        written = sink.write(view)  # an unbuffered write may take fewer bytes than offered
        view = view[written or 0 :]


def _file_digest(path: Path, digest: Any) -> str:
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return str(digest.hexdigest())


# -- the child process -----------------------------------------------------------------------------


def child_command(repo_id: str, staging: Path, revision: str | None, variant: str | None) -> list[str]:
    """The command line that runs one download in a child process (see `main`)."""
    command = [sys.executable, "-m", "app.engine.models.download", repo_id, str(staging)]
    if revision:
        command += ["--revision", revision]
    if variant:
        command += ["--variant", variant]
    return command


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def run_download(repo_id: str, staging: Path, revision: str | None, variant: str | None) -> DownloadPlan:
    """Plan, check the disk, fetch and verify, reporting JSON lines: `plan` (with the total and the licence),
    `progress` (at most ~10 a second) and `done`."""
    hub = Hub()
    plan = hub.plan(repo_id, revision, variant)
    check_disk_space(plan, staging)
    prepare_staging(plan, staging)
    _emit(
        "plan",
        revision=plan.revision,
        total=plan.total_bytes,
        files=len(plan.files),
        gated=plan.gated,
        license=plan.license,
    )
    last = 0.0

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= 0.1 or done == total:
            last = now
            _emit("progress", done=done, total=total)

    fetch_all(hub, plan, staging, report)
    _emit("done", folder=str(staging), revision=plan.revision)
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.engine.models.download")
    parser.add_argument("repo_id")
    parser.add_argument("staging", type=Path)
    parser.add_argument("--revision")
    parser.add_argument("--variant")
    args = parser.parse_args(argv)
    try:
        run_download(args.repo_id, args.staging, args.revision, args.variant)
    except InputError as error:
        _emit("error", kind="input", message=str(error))
        return 2
    except StorybeatError as error:
        _emit("error", kind="failure", message=str(error))
        return 1
    except OSError as error:  # the local disk: full, read-only, permissions
        where = f"{error.filename}: " if error.filename else ""
        _emit(
            "error", kind="failure", message=f"{where}{error.strerror or error} (what was downloaded is kept)"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
