"""A fake Hugging Face Hub on 127.0.0.1: the repository listing and file downloads (with HTTP Range) that
`app.engine.models.download` speaks, served from local folders, with the failures a real download meets.

Point a download at it with `HF_ENDPOINT=hub.url`. Knobs per instance: repositories that are gated or
private, a byte rate (so a download is slow enough to cancel or kill part-way), a file that stalls after
some bytes, a file served damaged a number of times, and a server that ignores Range.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMMIT = "c0ffee" + "0" * 34


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, Path] = field(default_factory=dict)  # repo id → folder served as that repository
    gated: set[str] = field(default_factory=set)  # 401 without a token, 403 with one
    token: str = "hf_valid"  # a token that has been granted access to the gated repos
    licenses: dict[str, str] = field(default_factory=dict)
    bytes_per_second: float | None = None
    stall: dict[str, int] = field(default_factory=dict)  # file path → bytes sent before it hangs
    damaged: dict[str, int] = field(default_factory=dict)  # file path → times it is served corrupted
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet tests
                pass

            def do_GET(self) -> None:
                hub._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    # -- answers --

    def _files(self, repo: str) -> list[str]:
        root = self.repos[repo]
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def _listing(self, repo: str) -> dict[str, object]:
        siblings = []
        for name in self._files(repo):
            data = (self.repos[repo] / name).read_bytes()
            item: dict[str, object] = {"rfilename": name, "size": len(data)}
            if name.endswith(".safetensors"):
                item["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                item["blobId"] = "f" * 40  # the pointer's id, which a client must not check content against
            else:
                item["blobId"] = _git_blob_id(data)
            siblings.append(item)
        card = {"license": self.licenses[repo]} if repo in self.licenses else {}
        return {
            "id": repo,
            "sha": COMMIT,
            "siblings": siblings,
            "gated": repo in self.gated,
            "cardData": card,
        }

    def _refuse(self, handler: BaseHTTPRequestHandler, status: int, code: str) -> None:
        handler.send_response(status)
        handler.send_header("X-Error-Code", code)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(handler.path).path
        self.requests.append((path, handler.headers.get("Range")))
        parts = [urllib.parse.unquote(part) for part in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            repo, rest = f"{parts[2]}/{parts[3]}", None
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo, rest = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
        else:
            return self._refuse(handler, 404, "EntryNotFound")
        if repo not in self.repos:
            return self._refuse(handler, 401, "RepoNotFound")  # what the Hub answers an anonymous client
        if repo in self.gated:
            authorization = handler.headers.get("Authorization")
            if authorization is None:
                return self._refuse(handler, 401, "GatedRepo")
            if authorization != f"Bearer {self.token}":
                return self._refuse(handler, 403, "GatedRepo")
        if rest is None:
            body = json.dumps(self._listing(repo)).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return None
        file = self.repos[repo] / rest
        if not file.is_file():
            return self._refuse(handler, 404, "EntryNotFound")
        self._send_file(handler, rest, file.read_bytes())
        return None

    def _send_file(self, handler: BaseHTTPRequestHandler, name: str, data: bytes) -> None:
        if self.damaged.get(name, 0) > 0:
            self.damaged[name] -= 1
            data = bytes(reversed(data))
        start = 0
        wanted = handler.headers.get("Range")
        if wanted and self.honour_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                handler.send_response(416)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) - start))
        handler.end_headers()
        stall_at = self.stall.get(name)
        chunk = 16 * 1024
        try:
            for offset in range(start, len(data), chunk):
                piece = data[offset : offset + chunk]
                if stall_at is not None and offset + len(piece) > stall_at:
                    handler.wfile.write(data[offset:stall_at])
                    handler.wfile.flush()
                    self._stop.wait(60)  # hang: the client's timeout must notice
                    return
                handler.wfile.write(piece)
                if self.bytes_per_second:
                    time.sleep(len(piece) / self.bytes_per_second)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, cancelled)
            return


def point_at(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, home: Path) -> FakeHub:
    """Make downloads in this test (and its child processes) go to `hub`: no token of the machine's user
    (a private HF_HOME), online, and a short stall timeout."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("STORYBEAT_DOWNLOAD_TIMEOUT", "5")
    return hub
