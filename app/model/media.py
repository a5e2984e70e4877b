"""References to media files: a path relative to the project file plus a content hash.

The hash lets a moved file be relinked and keeps caches valid across renames: the engine keys its caches on
content, never on paths.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, field_validator

_HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (memory stays flat for large media)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class MediaRef(BaseModel):
    """A media file used by the project.

    `path` is POSIX-style and relative to the folder holding the project file (absolute paths are kept as
    given when the media lives elsewhere). `sha256` is None until the file has been hashed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: str | None = None

    @field_validator("path")
    @classmethod
    def _path_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("media path is empty")
        return value

    @field_validator("sha256")
    @classmethod
    def _hash_is_hex(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return value

    def resolve(self, project_dir: Path) -> Path:
        """The file's location on disk, given the folder that holds the project file."""
        path = Path(PurePosixPath(self.path))
        return path if path.is_absolute() else project_dir / path

    @classmethod
    def for_file(cls, file: Path, project_dir: Path) -> MediaRef:
        """Reference `file` from a project stored in `project_dir`, hashing its content."""
        file = file.resolve()
        try:
            stored = file.relative_to(project_dir.resolve()).as_posix()
        except ValueError:
            stored = _relative_if_possible(file, project_dir.resolve())
        return cls(path=stored, sha256=sha256_file(file))


def _relative_if_possible(file: Path, base: Path) -> str:
    """A ../-style relative path when file and base share a root, else the absolute path."""
    try:
        return Path(os.path.relpath(file, base)).as_posix()
    except ValueError:  # different drives on Windows
        return file.as_posix()


def rebased(ref: MediaRef, old_dir: Path, new_dir: Path) -> MediaRef:
    """The same file referenced from a project stored in `new_dir` instead of `old_dir`."""
    if Path(PurePosixPath(ref.path)).is_absolute():
        return ref
    return ref.model_copy(update={"path": _relative_if_possible(ref.resolve(old_dir), new_dir)})
