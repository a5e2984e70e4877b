"""Drops onto the acts track: image files become new acts (one per image); a template card from the template
browser applies its template to the act it lands on (or to the whole selection when that act is selected)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData

from app.engine.image_check import check_image
from app.errors import MediaError
from app.model import Act, MediaRef, Project
from app.model.bin_commands import IMAGE_SUFFIXES, new_act_frames
from app.model.commands import AddAct
from app.ui.document import DocumentController

#: The MIME type of a dragged template card; the data is the template id (UTF-8).
TEMPLATE_MIME = "application/x-storybeat-template"


def image_paths(mime: QMimeData) -> list[Path]:
    """Local image files among the dropped urls, in the order given (anything else is ignored)."""
    paths = (Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile())
    return [path for path in paths if path.suffix.lower() in IMAGE_SUFFIXES]


def acts_for_images(
    paths: Iterable[Path], project: Project, project_dir: Path
) -> tuple[list[Act], list[str]]:
    """One act per readable image, referencing it relative to `project_dir`; plus one error line per file
    that could not be read (the others are still added)."""
    acts: list[Act] = []
    errors: list[str] = []
    duration = new_act_frames(project)
    for path in paths:
        try:
            check_image(path)  # a text file named .jpg is refused here, not at render
            reference = MediaRef.for_file(path, project_dir)
        except MediaError as error:
            errors.append(str(error))
            continue
        except OSError as error:
            errors.append(f"{path}: cannot read the image ({error.strerror or error})")
            continue
        acts.append(Act(name=path.stem, duration_frames=duration, references=[reference]))
    return acts, errors


def add_images(document: DocumentController, paths: list[Path], index: int) -> None:
    """Insert one act per image at act position `index`, as one undoable edit, and select the new acts.

    Files that cannot be read are reported through `document.message`; the others are still added.
    """
    acts, errors = acts_for_images(paths, document.project, document.project_dir)
    for error in errors:
        document.message.emit(error)
    if not acts:
        return
    with document.group("Add images"):
        for offset, act in enumerate(acts):
            document.execute(AddAct(act, index=index + offset))
    document.set_selection([act.id for act in acts])


def template_id(mime: QMimeData) -> str | None:
    """The id of a dragged template card, or None when the drag carries none."""
    if not mime.hasFormat(TEMPLATE_MIME):
        return None
    return bytes(mime.data(TEMPLATE_MIME).data()).decode("utf-8", errors="replace").strip() or None


def template_targets(document: DocumentController, act_index: int) -> list[str]:
    """The acts a template dropped on act `act_index` applies to: the whole selection when that act is part of
    it (so one drop styles several acts), else that act alone."""
    act_id = document.project.acts[act_index].id
    return list(document.selected_ids) if act_id in document.selected_ids else [act_id]
