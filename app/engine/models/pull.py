"""Pulling a model: the download runs in a child process (`app.engine.models.download`), the parent follows
its progress and, once every file is verified, validates the folder, moves it into place and registers it.

The CLI drives the child with `run_pull`; the editor starts the same command with a QProcess and feeds its
lines to `PullEvents` and then `finish_pull`, so both share every rule here. Cancelling is terminating the
child: the partial files stay in the staging folder and the next pull of the same name resumes from them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.engine.cancel import CancelToken
from app.engine.models.download import PLAN_FILE, DownloadFailed, DownloadPlan, child_command
from app.engine.models.registry import (
    ModelEntry,
    ModelRegistry,
    check_model_name,
    check_repo_id,
    default_name_for,
    validate_model_folder,
)
from app.errors import InputError, StorybeatError

_SPEED_WINDOW_S = 5.0
_MAX_STOPPED = 200  # staging folders looked at: a models folder is not expected to hold more


@dataclass(frozen=True)
class PullRequest:
    repo_id: str
    name: str
    revision: str | None = None  # a commit pins the content; None follows the repository's main branch
    variant: str | None = None  # weight-file variant ("fp16") where the repository has one


def make_request(
    registry: ModelRegistry,
    repo_id: str,
    name: str | None = None,
    revision: str | None = None,
    variant: str | None = None,
) -> PullRequest:
    """A checked request: a valid repository id and a name that is free (InputError otherwise), before any
    network use."""
    check_repo_id(repo_id)
    name = check_model_name(name) if name is not None else default_name_for(repo_id)
    if registry.find(name) is not None:  # also refuses early when the registry file is damaged
        raise InputError(f"a model named {name!r} is already registered; pick another name")
    folder = registry.models_dir / name
    if folder.exists():
        raise InputError(
            f"{folder}: already exists (register it with `storybeat models add {name} {folder}` or delete it)"
        )
    return PullRequest(repo_id, name, revision, variant)


def staging_folder(registry: ModelRegistry, name: str) -> Path:
    """Where a pull of `name` collects its files until they are all verified (kept across failures)."""
    return registry.models_dir / ".partial" / name


def partial_bytes(registry: ModelRegistry, name: str) -> int:
    """Bytes a stopped pull of `name` left to resume from (0 when there is none)."""
    staging = staging_folder(registry, name)
    if not staging.is_dir():
        return 0
    return sum(
        path.stat().st_size for path in staging.rglob("*") if path.is_file() and path.name != PLAN_FILE
    )


@dataclass(frozen=True)
class StoppedPull:
    """A pull that stopped part-way (failed, cancelled, killed, or the editor quit), read from its staging
    folder's plan: what it was fetching and how many bytes are there to resume from. Pulling the same name
    again resumes it."""

    repo_id: str
    revision: str
    variant: str | None
    total_bytes: int
    license: str | None
    gated: bool
    partial_bytes: int


def stopped_pulls(registry: ModelRegistry) -> dict[str, StoppedPull]:
    """The resumable pulls left in the staging folders, by model name. A staging folder without a readable
    plan is left out (a new pull of that name starts over)."""
    root = registry.models_dir / ".partial"
    try:
        folders = sorted(folder for folder in root.iterdir() if folder.is_dir())
    except OSError:  # none yet
        return {}
    stopped: dict[str, StoppedPull] = {}
    for folder in folders[:_MAX_STOPPED]:
        try:
            plan = DownloadPlan.from_json(json.loads((folder / PLAN_FILE).read_text(encoding="utf-8")))
            check_repo_id(plan.repo_id)
        except (OSError, ValueError, KeyError, TypeError, InputError):
            continue
        stopped[folder.name] = StoppedPull(
            plan.repo_id,
            plan.revision,
            plan.variant,
            plan.total_bytes,
            plan.license,
            plan.gated,
            partial_bytes(registry, folder.name),
        )
    return stopped


def discard_partial(registry: ModelRegistry, name: str) -> None:
    shutil.rmtree(staging_folder(registry, name), ignore_errors=True)


def command(registry: ModelRegistry, request: PullRequest) -> list[str]:
    return child_command(
        request.repo_id, staging_folder(registry, request.name), request.revision, request.variant
    )


@dataclass
class PullEvents:
    """Reads the child's JSON lines: the plan, byte progress with speed and time left, and the outcome."""

    total: int | None = None
    done: int = 0
    license: str | None = None
    gated: bool = False
    revision: str | None = None
    finished: bool = False
    error: StorybeatError | None = None
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def feed(self, line: str, now: float | None = None) -> dict[str, Any] | None:
        """Take one line of the child's output; returns the event, or None for a line that is not one."""
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        kind = event.get("event")
        if kind == "plan":
            self.total = int(event.get("total", 0))
            self.license = event.get("license")
            self.gated = bool(event.get("gated"))
            self.revision = event.get("revision")
        elif kind == "progress":
            self.done = int(event.get("done", 0))
            self.total = int(event.get("total", self.total or 0))
            self._sample(time.monotonic() if now is None else now)
        elif kind == "done":
            self.finished = True
            self.revision = event.get("revision", self.revision)
        elif kind == "error":
            message = str(event.get("message", "the download failed"))
            self.error = InputError(message) if event.get("kind") == "input" else DownloadFailed(message)
        return event

    def _sample(self, now: float) -> None:
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _SPEED_WINDOW_S:
            self._samples.popleft()

    @property
    def speed(self) -> float | None:
        """Bytes per second over the last few seconds, or None before there is enough to tell."""
        if len(self._samples) < 2:
            return None
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        return (last - first) / (end - start) if end > start else None

    @property
    def seconds_left(self) -> float | None:
        speed = self.speed
        if not speed or speed <= 0 or self.total is None:
            return None
        return max(0.0, (self.total - self.done) / speed)


def finish_pull(registry: ModelRegistry, request: PullRequest) -> ModelEntry:
    """After the child reported `done`: validate the staged folder, move it to `models_dir/<name>` and
    register it. A folder that is not a model we may load is deleted (nothing is registered)."""
    staging = staging_folder(registry, request.name)
    try:
        validate_model_folder(staging)
    except InputError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"{request.repo_id}: {error}") from None
    (staging / PLAN_FILE).unlink(missing_ok=True)
    folder = registry.models_dir / request.name
    os.replace(staging, folder)
    try:
        return registry.add(request.name, folder)
    except InputError as error:  # registered meanwhile under that name: keep the download, say where
        raise InputError(f"{error}; the download is kept in {folder}") from None


def run_pull(
    registry: ModelRegistry,
    request: PullRequest,
    on_event: Callable[[PullEvents], None] | None = None,
    cancel: CancelToken | None = None,
) -> ModelEntry:
    """Run the download child to the end, calling `on_event` after each line; then finish the pull.

    Cancelling (the token, or Ctrl+C) terminates the child and raises Cancelled; the partial files are kept.
    """
    events = PullEvents()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        command(registry, request), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    if cancel is not None:  # a stalled child prints nothing: watch the token beside the reading loop
        threading.Thread(target=_terminate_on_cancel, args=(child, cancel), daemon=True).start()
    try:
        for line in child.stdout:
            if events.feed(line) is not None and on_event is not None:
                on_event(events)
        child.wait()
    except BaseException:  # Ctrl+C or a failing callback: the child must not outlive us
        child.terminate()
        child.wait()
        raise
    if cancel is not None:
        cancel.raise_if_cancelled()
    if events.error is not None:
        raise events.error
    if not events.finished:
        detail = (child.stderr.read() if child.stderr else "").strip().splitlines()
        last = detail[-1] if detail else f"exit status {child.returncode}"
        raise DownloadFailed(f"the download of {request.repo_id} stopped: {last}")
    return finish_pull(registry, request)


def _terminate_on_cancel(child: subprocess.Popen[str], cancel: CancelToken) -> None:
    while child.poll() is None:
        if cancel.cancelled:
            child.terminate()
            return
        time.sleep(0.05)
