"""Content-addressed stage cache with a size limit and least-recently-used eviction.

Each entry is a folder named by the hash of everything that determined its content (upstream key, the act's
relevant fields, backend id and revision, resolution, seed). Because keys are content, reordering acts, undo,
reopening a project or renaming a media file all hit the cache; editing one act changes only its keys.

Entries are written into a temporary folder and renamed into place, so a crash never leaves a half-written
entry that looks complete. An SQLite index (stdlib, safe across threads and processes) records sizes and last
use for eviction.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import platformdirs

from app.errors import InputError

#: Bump when the way a stage computes its output changes, so old entries stop matching.
CACHE_FORMAT = 1
DEFAULT_LIMIT_BYTES = 10 * 1024**3


def default_cache_dir() -> Path:
    """$STORYBEAT_CACHE_DIR, else the user cache folder (e.g. ~/.cache/storybeat/stages)."""
    override = os.environ.get("STORYBEAT_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("storybeat")) / "stages"


def cache_key(stage: str, inputs: dict[str, Any]) -> str:
    """A stable hash of a stage name and its JSON-serialisable inputs (key order does not matter)."""
    canonical = json.dumps(
        {"stage": stage, "format": CACHE_FORMAT, "inputs": inputs}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class StageCache:
    """Folders of stage outputs keyed by content hash, kept under `limit_bytes` by LRU eviction."""

    def __init__(self, root: Path | None = None, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.root = root or default_cache_dir()
        self.limit_bytes = limit_bytes
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Autocommit: every statement is its own short transaction, so no connection (another editor
            # window, a CLI render) ever waits on a lock left open by this one.
            self._db = sqlite3.connect(
                self.root / "index.sqlite", check_same_thread=False, timeout=30, isolation_level=None
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, size INTEGER, last_used REAL)"
            )
        except (OSError, sqlite3.Error) as error:
            raise InputError(f"{self.root}: cannot use this folder for the cache ({error})") from None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _entry_dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> Path | None:
        """The entry's folder if it exists (and mark it as just used), else None."""
        folder = self._entry_dir(key)
        with self._lock:
            if not folder.is_dir():
                self.misses += 1
                self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
            self.hits += 1
            self._db.execute("UPDATE entries SET last_used = ? WHERE key = ?", (time.time(), key))
        return folder

    def put(self, key: str, write: Callable[[Path], None]) -> Path:
        """Create the entry by calling `write(folder)` on an empty temporary folder, then publish it.

        If `write` raises, nothing is published and the temporary folder is removed. If another writer
        published the same key meanwhile, its (identical, by construction) entry is kept.
        """
        final = self._entry_dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=final.parent))
        try:
            write(temp)
            size = _folder_size(temp)
            try:
                os.rename(temp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(temp, ignore_errors=True)  # lost a race with an identical entry
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO entries (key, size, last_used) VALUES (?, ?, ?)",
                (key, size, time.time()),
            )
        self.evict(keep=key)
        return final

    def get_or_create(self, key: str, write: Callable[[Path], None]) -> Path:
        return self.get(key) or self.put(key, write)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            (total,) = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()
        return int(total)

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete least recently used entries until the cache fits its limit; returns the evicted keys."""
        evicted: list[str] = []
        with self._lock:
            rows = self._db.execute("SELECT key, size FROM entries ORDER BY last_used DESC").fetchall()
            total = sum(size for _, size in rows)
            for key, size in reversed(rows):
                if total <= self.limit_bytes:
                    break
                if key == keep:
                    continue
                shutil.rmtree(self._entry_dir(key), ignore_errors=True)
                self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
                total -= size
                evicted.append(key)
        return evicted


def _folder_size(folder: Path) -> int:
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())
