"""A fake Hugging Face hub cache laid out exactly as huggingface_hub writes one, built from a model folder.

    <cache>/models--owner--name/
        blobs/<sha256 of the content>          the files' bytes, one blob per distinct content
        refs/main                              the commit `main` points at (no newline)
        snapshots/<40-hex commit>/unet/...     relative links: ../../../blobs/<sha256>

With `shared_store=True` a repository blob is itself a relative link into the cache-wide store that recent
huggingface_hub versions keep for files shared between repositories (Xet):
`<cache>/blobs/<ab>/<ab…64 hex>`, marked by `<cache>/blobs/.huggingface-shared-blobs`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

SHARED_STORE_MARKER = ".huggingface-shared-blobs"


def repo_folder(cache: Path, repo_id: str) -> Path:
    """`<cache>/models--owner--name`, the folder huggingface_hub keeps `repo_id` in."""
    return cache / ("models--" + repo_id.replace("/", "--"))


def commit_for(repo_id: str, salt: str = "") -> str:
    """A stable 40-hex commit hash for a fake repository."""
    return hashlib.sha1(f"{repo_id}\0{salt}".encode()).hexdigest()


def relative_link(link: Path, target: Path) -> None:
    """Make `link` a relative symbolic link to `target`, as huggingface_hub does."""
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link)


def cache_model_folder(
    source: Path,
    cache: Path,
    repo_id: str,
    *,
    commit: str | None = None,
    shared_store: bool = False,
) -> Path:
    """Move every file of the model folder `source` into the cache as the repository `repo_id` at `commit`
    (default: `commit_for(repo_id)`), and return the snapshot folder. `source` is left empty."""
    commit = commit or commit_for(repo_id)
    repo = repo_folder(cache, repo_id)
    blobs = repo / "blobs"
    snapshot = repo / "snapshots" / commit
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for file in sorted(path for path in source.rglob("*") if path.is_file()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        blob = blobs / digest
        if shared_store:
            store = cache / "blobs"
            store.mkdir(exist_ok=True)
            (store / SHARED_STORE_MARKER).write_text("1\n")
            payload = store / digest[:2] / digest
            payload.parent.mkdir(exist_ok=True)
            _move_once(file, payload)
            if not blob.is_symlink():
                relative_link(blob, payload)
        else:
            _move_once(file, blob)
        relative_link(snapshot / file.relative_to(source), blob)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def _move_once(file: Path, blob: Path) -> None:
    """Move `file` to `blob` (keeping its modification time), or drop it when that content is stored."""
    if blob.exists():
        file.unlink()
    else:
        shutil.move(file, blob)
