"""Reading and writing `NAME.storybeat` files (UTF-8 JSON).

Loading validates everything before returning: a bad file raises one ProjectError naming the file and the
field, and nothing is half-loaded. Saving is atomic: temp file, flush + fsync, one `.bak` of the previous
version, then a rename over the old file, so a crash at any point leaves a complete project on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from pydantic import ValidationError

from app.errors import InputError
from app.model.errors import validation_problem
from app.model.migrations import MigrationError, migrate, schema_version_of
from app.model.project import SCHEMA_VERSION, ConsistencyError, Project

SUFFIX = ".storybeat"
#: Project files above this size are refused: a real one is a few hundred kB even with thousands of acts.
MAX_FILE_BYTES = 64 * 1024 * 1024


class ProjectError(InputError):
    """A project file cannot be read: the message names the file and the field."""


def load_project(path: Path) -> Project:
    """Read, migrate and validate a project file. Raises ProjectError on any problem."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError(f"{path}: file is {size} bytes, larger than any project ({MAX_FILE_BYTES})")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"{path}: no such project file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProjectError(f"{path}: cannot read: {error}") from None
    return parse_project(text, path)


def parse_project(text: str, path: Path) -> Project:
    """Validate project JSON text; `path` is only used in error messages."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: expected a JSON object at the top level")
    try:
        version = schema_version_of(raw)
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"{path}: schema_version {version} was written by a newer Storybeat "
                f"(this one reads up to {SCHEMA_VERSION}); update Storybeat to open it"
            )
        if version < 1:
            raise ProjectError(f"{path}: schema_version {version} is not a valid version")
        raw = migrate(raw, SCHEMA_VERSION)
    except MigrationError as error:
        raise ProjectError(f"{path}: {error}") from None
    try:
        project = Project.model_validate(raw)
    except ValidationError as error:
        raise ProjectError(f"{path}: {validation_problem(error)}") from None
    try:
        project.check_consistency()  # e.g. two acts with one id: every later edit would hit the wrong act
    except ConsistencyError as error:
        raise ProjectError(f"{path}: {error}") from None
    return project


def dumps_project(project: Project) -> str:
    """The canonical file text: stable key order and formatting, so equal documents give equal bytes."""
    return project.model_dump_json(indent=2) + "\n"


def save_project(project: Project, path: Path) -> None:
    """Write atomically; the previous file (if any) is kept as `path.bak`.

    Raises InputError when the folder does not exist or cannot be written; the old file is untouched then.
    """
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{folder}: folder does not exist")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a project file")
    data = dumps_project(project).encode("utf-8")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise InputError(f"{folder}: cannot write here: {error.strerror}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private (0600); keep the old file's mode, or follow the umask for a new one.
        if path.exists():
            shutil.copymode(path, temp)
            _keep_backup(path)
        else:
            os.chmod(temp, 0o666 & ~_UMASK)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot save: {error.strerror or error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _read_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# Read once at import: os.umask can only be read by setting it, which would race with other threads later.
_UMASK = _read_umask()


def _keep_backup(path: Path) -> None:
    """Copy the current file to `.bak` atomically (copy to a temp name, then rename)."""
    backup = path.with_name(path.name + ".bak")
    temp = backup.with_name(backup.name + ".tmp")
    try:
        shutil.copy2(path, temp)
        os.replace(temp, backup)
    finally:
        temp.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename durable on POSIX; not possible (nor needed) on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
