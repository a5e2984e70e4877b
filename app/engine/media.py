"""Resolving the project's media references on disk: locations, content hashes, missing files."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from app.model import MediaRef, Project
from app.model.media import sha256_file


@dataclass(frozen=True)
class MissingMedia:
    where: str  # e.g. "act 'Intro' reference"
    path: Path


class MediaResolver:
    """Finds media relative to the project folder and hashes content once per file version.

    The hash of the bytes on disk (not the one stored in the project) keys the caches, so a file edited
    in place re-renders while a renamed file does not.
    """

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self._hashes: dict[tuple[Path, int, int], str] = {}
        self._lock = threading.Lock()

    def path(self, ref: MediaRef) -> Path:
        return ref.resolve(self.project_dir)

    def sha256(self, ref: MediaRef) -> str:
        path = self.path(ref)
        stat = path.stat()
        memo_key = (path.resolve(), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._hashes.get(memo_key)
        if cached is None:
            cached = sha256_file(path)
            with self._lock:
                self._hashes[memo_key] = cached
        return cached

    def missing(self, project: Project) -> list[MissingMedia]:
        return [
            MissingMedia(where, self.path(ref))
            for where, ref in project.media_refs()
            if not self.path(ref).is_file()
        ]
