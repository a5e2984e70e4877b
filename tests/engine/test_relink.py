"""Relinking moved media by content hash, as one undoable edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.engine.media import MediaResolver
from app.engine.relink import find_moved_media
from app.model import Act, AudioClip, MediaRef, Project
from app.model.commands import RelinkMedia
from app.model.history import History
from app.model.project_file import dumps_project

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def test_moved_files_are_found_by_content_and_relinked(tmp_path: Path) -> None:
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    photo = Path(shutil.copy(DEMO / "02_chelsea.jpg", project_dir / "cat.jpg"))
    music = Path(shutil.copy(DEMO / "music.m4a", project_dir / "song.m4a"))
    project = Project(
        acts=[Act(id="a", duration_frames=10, references=[MediaRef.for_file(photo, project_dir)])],
        audio=[AudioClip(media=MediaRef.for_file(music, project_dir))],
    )
    still = Path(shutil.copy(DEMO / "02_chelsea.jpg", project_dir / "bin-only.jpg"))
    still.write_bytes(still.read_bytes() + b"\0")  # other content than cat.jpg: found on its own
    project.media_bin = [MediaRef.for_file(still, project_dir)]
    moved = tmp_path / "elsewhere" / "deep"
    moved.mkdir(parents=True)
    photo.rename(moved / "renamed-cat.jpg")
    music.rename(moved / "song.m4a")
    still.rename(moved / "bin-only.jpg")
    (moved / "decoy.jpg").write_bytes(b"not the same bytes")

    resolver = MediaResolver(project_dir)
    assert len(resolver.missing(project)) == 3
    moves = find_moved_media(project, resolver, tmp_path / "elsewhere")
    assert set(moves) == {"cat.jpg", "song.m4a", "bin-only.jpg"}
    assert moves["cat.jpg"].path == "../elsewhere/deep/renamed-cat.jpg"

    before = dumps_project(project)
    history = History(project)
    changes = history.execute(RelinkMedia(moves))
    assert changes.acts == {"a"} and changes.audio
    assert resolver.missing(project) == []
    project.check_consistency()
    history.undo()
    assert dumps_project(project) == before


def test_a_cancelled_search_stops(tmp_path: Path) -> None:
    import pytest

    from app.engine.cancel import CancelToken
    from app.errors import Cancelled

    project_dir = tmp_path / "p"
    project_dir.mkdir()
    photo = Path(shutil.copy(DEMO / "02_chelsea.jpg", project_dir / "cat.jpg"))
    project = Project(
        acts=[Act(id="a", duration_frames=5, references=[MediaRef.for_file(photo, project_dir)])]
    )
    photo.rename(tmp_path / "cat.jpg")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        find_moved_media(project, MediaResolver(project_dir), tmp_path, token)
