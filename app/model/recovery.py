"""Autosave to separate recovery files, and finding them again after a crash.

Autosave never writes the project file itself (users lost work when an editor did that): it writes a copy to
the user data folder, named after the project's path. A clean close deletes the copy; a copy still there at
the next launch means the editor did not close cleanly, and it is offered for recovery.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.model.project import Project
from app.model.project_file import load_project, save_project

_SUFFIX = ".recovery.storybeat"
_INFO = ".recovery.json"


@dataclass(frozen=True)
class Recovery:
    """A recovery copy: its path, its project (None if never saved) and when it was written."""

    path: Path
    project_path: Path | None
    saved_at_ns: int

    def load(self) -> Project:
        return load_project(self.path)


class RecoveryStore:
    """Recovery copies in one folder (e.g. ~/.local/share/storybeat/recovery)."""

    def __init__(self, folder: Path, session: str | None = None) -> None:
        self.folder = folder
        # Untitled documents of different editor sessions must not share (and delete) one copy.
        self._session = session or uuid.uuid4().hex[:12]

    def _stem(self, project_path: Path | None) -> str:
        name = str(project_path.resolve()) if project_path else f"untitled {self._session}"
        return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]

    def write(self, project: Project, project_path: Path | None) -> Path:
        """Write (atomically) the recovery copy for `project_path`; returns its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self._stem(project_path)
        copy = self.folder / f"{stem}{_SUFFIX}"
        save_project(project, copy)
        copy.with_name(copy.name + ".bak").unlink(missing_ok=True)  # the recovery copy needs no backup
        info = {"project": str(project_path.resolve()) if project_path else None}
        (self.folder / f"{stem}{_INFO}").write_text(json.dumps(info), encoding="utf-8")
        return copy

    def discard(self, project_path: Path | None) -> None:
        """Forget the recovery copy (after a save or a clean close)."""
        stem = self._stem(project_path)
        for name in (f"{stem}{_SUFFIX}", f"{stem}{_INFO}"):
            (self.folder / name).unlink(missing_ok=True)

    def pending(self) -> list[Recovery]:
        """Recovery copies left by sessions that did not close cleanly, newest first.

        A copy older than its project file is stale (the project was saved after it) and is skipped.
        """
        found = []
        for copy in self.folder.glob(f"*{_SUFFIX}"):
            stem = copy.name.removesuffix(_SUFFIX)
            try:
                info = json.loads((self.folder / f"{stem}{_INFO}").read_text(encoding="utf-8"))
                project_path = Path(info["project"]) if info.get("project") else None
                saved_at = copy.stat().st_mtime_ns
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if (
                project_path is not None
                and project_path.exists()
                and project_path.stat().st_mtime_ns > saved_at
            ):
                continue
            found.append(Recovery(copy, project_path, saved_at))
        return sorted(found, key=lambda r: r.saved_at_ns, reverse=True)
