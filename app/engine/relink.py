"""Finding moved media by content: search a folder for files whose sha256 matches a missing reference."""

from __future__ import annotations

from pathlib import Path

from app.engine.cancel import CancelToken
from app.engine.media import MediaResolver
from app.model import MediaRef, Project
from app.model.media import sha256_file

#: File types worth hashing when searching (media the project can reference).
MEDIA_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".bmp",
    ".tif",
    ".tiff",
    ".wav",
    ".mp3",
    ".flac",
    ".ogg",
    ".m4a",
    ".aac",
    ".cube",
}
MAX_FILES = 20_000


def find_moved_media(
    project: Project, resolver: MediaResolver, folder: Path, cancel: CancelToken | None = None
) -> dict[str, MediaRef]:
    """Old stored path → new MediaRef for every missing reference whose content is found under `folder`.

    Only references with a recorded sha256 can be matched. File names are tried first (cheap), then every
    media file under the folder is hashed; the search looks at most MAX_FILES files and stops on `cancel`.
    """
    missing = {
        ref.path: ref for _, ref in project.media_refs() if not resolver.path(ref).is_file() and ref.sha256
    }
    if not missing:
        return {}
    wanted = {ref.sha256: path for path, ref in missing.items()}
    found: dict[str, MediaRef] = {}
    candidates = [p for p in folder.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()][
        :MAX_FILES
    ]
    names = {Path(path).name for path in missing}
    candidates.sort(key=lambda p: p.name not in names)  # likely matches first
    for candidate in candidates:
        if cancel is not None:
            cancel.raise_if_cancelled()
        digest = sha256_file(candidate)
        old_path = wanted.pop(digest, None)
        if old_path is not None:
            found[old_path] = MediaRef.for_file(candidate, resolver.project_dir)
        if not wanted:
            break
    return found
