"""The template library: the built-in templates shipped in `templates/` and the user's own in the user data
folder, each a folder `<id>/` holding `template.json` and the files it names (DESIGN.md "Templates").

Every folder is validated when it is read (`load_template_folder`): the schema, the id matching the folder,
only data files of the allowed types, every named file present and decodable. A broken folder never breaks
the library: it is left out and reported in `TemplateLibrary.problems`. The user library is only changed by
building a complete folder in a staging folder beside it and renaming it into place, so a failed save or
import leaves the library as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np
import platformdirs
from pydantic import ValidationError

from app.engine.grade import load_cube_lut
from app.engine.image_check import MAX_IMAGE_SIDE, check_image, declared_image_size
from app.errors import InputError, MediaError
from app.model.act import Act
from app.model.errors import plain_message
from app.model.media import MediaRef, sha256_file
from app.model.project import Project
from app.model.template import (
    CONTROLLED_PATHS,
    IMAGE_SUFFIXES,
    LUT_SUFFIXES,
    EmbeddedTemplate,
    Template,
    get_path,
)

#: The built-in library (read-only; its content is shipped with Storybeat).
BUILTIN_DIR = Path(__file__).resolve().parents[3] / "templates"
TEMPLATE_FILE = "template.json"
#: The only files a template folder (or bundle) may hold: data that is decoded, never run.
ALLOWED_SUFFIXES = frozenset({".json"}) | IMAGE_SUFFIXES | LUT_SUFFIXES
#: Where `embed_template` copies a template's files, relative to the project folder.
ASSETS_DIR = "template-assets"
#: The file name `template_files_from_act` gives an act's LUT inside a new template.
SAVED_LUT_NAME = "look.cube"
_MAX_TEMPLATE_JSON_BYTES = 1 << 20


def user_templates_dir() -> Path:
    """`templates/` in $STORYBEAT_DATA_DIR, else in the user data folder (platformdirs)."""
    override = os.environ.get("STORYBEAT_DATA_DIR")
    return (Path(override) if override else Path(platformdirs.user_data_dir("storybeat"))) / "templates"


@dataclass(frozen=True)
class LibraryTemplate:
    """A template found in the library: the validated template, its folder, and whether it is built in."""

    template: Template
    folder: Path
    builtin: bool

    def path(self, name: str) -> Path:
        """The file `name` (one the template names) inside the template's folder."""
        if name not in self.template.files():
            raise InputError(f"template {self.template.id}: {name!r} is not a file the template names")
        return self.folder / name

    @property
    def thumbnail_path(self) -> Path | None:
        """The thumbnail image, or None when the template names none or it has not been rendered yet."""
        if self.template.thumbnail is None:
            return None
        path = self.folder / self.template.thumbnail
        return path if path.is_file() else None


# -- reading and checking a template folder ------------------------------------------------------------


def field_error(error: ValidationError) -> str:
    """The first problem of a pydantic error as 'field <dotted.location>: <message>' (one line)."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "template.json"
    message = plain_message(first)
    more = error.error_count() - 1
    return f"field {location}: {message}" + (f" (and {more} more)" if more else "")


def parse_template(data: bytes, where: str) -> Template:
    """Parse and validate the bytes of a template.json; InputError '<where>: …' naming the field if bad."""
    try:
        return Template.model_validate_json(data)
    except ValidationError as error:
        if error.errors()[0]["type"] == "json_invalid":
            raise InputError(
                f"{where}: {TEMPLATE_FILE} is not valid JSON ({error.errors()[0]['msg']})"
            ) from None
        raise InputError(f"{where}: {field_error(error)}") from None


def _check_image(path: Path, where: str) -> None:
    data = np.fromfile(path, dtype=np.uint8)
    declared = declared_image_size(data.tobytes()[:65536])
    if declared is not None and max(declared) > MAX_IMAGE_SIDE:
        # A few bytes can declare gigapixels: refuse before the decoder allocates for them.
        raise InputError(f"{where}: {path.name}: image is {declared[0]}x{declared[1]}, too large")
    try:
        # A reduced grey decode reads the whole file at a fraction of the memory and time of a full one.
        decoded = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_2)
    except cv2.error:
        decoded = None
    if decoded is None or decoded.size == 0:
        raise InputError(f"{where}: {path.name}: not an image (could not decode)")


def _check_file(path: Path, where: str) -> None:
    if path.suffix.lower() in LUT_SUFFIXES:
        try:
            load_cube_lut(path)
        except MediaError as error:
            # Named by its file name: the folder may be a staging folder the user never sees.
            raise InputError(f"{where}: {str(error).replace(str(path), path.name)}") from None
    else:
        _check_image(path, where)


def load_template_folder(folder: Path) -> Template:
    """Read and validate the template in `folder` (`<id>/template.json` and its files).

    The folder may hold only plain files of the allowed types (json, png, jpg, jpeg, webp, cube: no links,
    no sub-folders); template.json must pass the schema and carry the folder's name as its id; every
    reference frame and the LUT it names must exist and decode. The thumbnail may be missing (it is
    rendered after a save) but must decode when present. Raises InputError 'template <folder>: …'.
    """
    where = f"template {folder.name}"
    if folder.is_symlink() or not folder.is_dir():
        raise InputError(f"{where}: {folder} is not a folder")
    for item in sorted(folder.iterdir()):
        if item.is_symlink() or not item.is_file():
            raise InputError(f"{where}: {item.name} is not a plain file (links and sub-folders are refused)")
        if item.suffix.lower() not in ALLOWED_SUFFIXES:
            allowed = ", ".join(sorted(ALLOWED_SUFFIXES))
            raise InputError(f"{where}: {item.name}: file type not allowed (allowed: {allowed})")
    json_file = folder / TEMPLATE_FILE
    if not json_file.is_file():
        raise InputError(f"{where}: no {TEMPLATE_FILE}")
    if json_file.stat().st_size > _MAX_TEMPLATE_JSON_BYTES:
        raise InputError(f"{where}: {TEMPLATE_FILE} is larger than {_MAX_TEMPLATE_JSON_BYTES} bytes")
    template = parse_template(json_file.read_bytes(), where)
    if template.id != folder.name:
        raise InputError(f"{where}: {TEMPLATE_FILE} has id {template.id!r}; it must match the folder name")
    for name in template.files():
        path = folder / name
        if path.is_file():
            _check_file(path, where)
        elif name != template.thumbnail:
            raise InputError(f"{where}: {name} is named in {TEMPLATE_FILE} but missing")
    return template


def matching(
    entries: Iterable[LibraryTemplate], text: str = "", tags: Iterable[str] = ()
) -> list[LibraryTemplate]:
    """The entries whose name, description, tags or style prompt contain `text` (any case) and that carry
    every one of `tags` (in memory: a browser filters what it read once)."""
    needle = text.strip().casefold()
    wanted = {tag.strip().lower() for tag in tags if tag.strip()}
    found = []
    for entry in entries:
        template = entry.template
        haystack = " ".join([template.name, template.description, *template.tags, template.style_prompt])
        if needle in haystack.casefold() and wanted <= set(template.tags):
            found.append(entry)
    return found


def _template_folders(root: Path) -> list[Path]:
    """Candidate template folders in `root` (hidden and private entries, e.g. staging folders, skipped)."""
    if not root.is_dir():
        return []
    return [
        entry
        for entry in sorted(root.iterdir())
        if not entry.name.startswith((".", "_")) and (entry.is_dir() or entry.is_symlink())
    ]


def _validated(template: Template, where: str, **changes: Any) -> Template:
    try:
        return Template.model_validate({**template.model_dump(), **changes})
    except ValidationError as error:
        raise InputError(f"{where}: {field_error(error)}") from None


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:56].strip("-") or "template"


def _copy_synced(source: Path, target: Path) -> None:
    """Copy and flush to disk, so a folder renamed into place after a crash holds whole files."""
    shutil.copyfile(source, target)
    with target.open("rb+") as stream:
        os.fsync(stream.fileno())


# -- the library -----------------------------------------------------------------------------------------


class TemplateLibrary:
    """Built-in templates (`builtin_dir`, read-only) and the user's (`user_dir`, one folder per id)."""

    def __init__(self, builtin_dir: Path | None = None, user_dir: Path | None = None) -> None:
        self.builtin_dir = builtin_dir or BUILTIN_DIR
        self.user_dir = user_dir or user_templates_dir()
        #: One line per folder the last `all()` left out because it is broken.
        self.problems: list[str] = []

    def all(self) -> list[LibraryTemplate]:
        """Every valid template, sorted by name; a user template shadows a built-in one with its id."""
        found: dict[str, LibraryTemplate] = {}
        problems: list[str] = []
        for root, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            for folder in _template_folders(root):
                try:
                    found[folder.name] = LibraryTemplate(load_template_folder(folder), folder, builtin)
                except InputError as error:
                    problems.append(f"{'built-in' if builtin else 'user'} {error}")
                except OSError as error:
                    problems.append(f"template {folder.name}: cannot read ({error.strerror or error})")
        self.problems = problems
        return sorted(found.values(), key=lambda entry: (entry.template.name.casefold(), entry.template.id))

    def get(self, template_id: str) -> LibraryTemplate:
        """The template `template_id`; InputError naming the id and the available ones (or its problem)."""
        entries = self.all()
        for entry in entries:
            if entry.template.id == template_id:
                return entry
        for problem in self.problems:
            if f"template {template_id}:" in problem:
                raise InputError(problem)
        available = ", ".join(sorted(entry.template.id for entry in entries)) or "none"
        raise InputError(f"no template {template_id!r} (available: {available})")

    def search(self, text: str = "", tags: Iterable[str] = ()) -> list[LibraryTemplate]:
        """Templates whose name, description, tags or style prompt contain `text` (any case) and that carry
        every one of `tags`."""
        return matching(self.all(), text, tags)

    def tags(self) -> list[str]:
        """Every tag used in the library, sorted."""
        return sorted({tag for entry in self.all() for tag in entry.template.tags})

    def new_id(self, name: str) -> str:
        """A slug of `name` that no template or folder uses yet: "noir", then "noir-2", "noir-3"…"""
        taken = {entry.template.id for entry in self.all()}
        for root in (self.builtin_dir, self.user_dir):
            taken.update(folder.name for folder in _template_folders(root))
        slug = _slug(name)
        candidate, number = slug, 2
        while candidate in taken:
            candidate, number = f"{slug}-{number}", number + 1
        return candidate

    # -- changes (user library only) --

    @contextmanager
    def staging_folder(self) -> Iterator[Path]:
        """A fresh folder beside the user library (same file system, so renames into it are atomic),
        removed with whatever is left in it when the block ends."""
        parent = self.user_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".storybeat-templates-", dir=parent))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def install(self, staged: Path) -> LibraryTemplate:
        """Validate the complete folder `staged` (named by its id, inside a `staging_folder()`) and rename it
        into the user library. An installed folder of that id is moved aside only now (into the staging
        folder, which removes it) and put back if the final rename fails."""
        template = load_template_folder(staged)
        self.user_dir.mkdir(parents=True, exist_ok=True)
        final = self.user_dir / template.id
        aside = staged.parent / ".replaced"
        if final.exists() or final.is_symlink():
            os.rename(final, aside)
        try:
            os.rename(staged, final)
        except OSError:
            if aside.exists() or aside.is_symlink():
                os.rename(aside, final)
            raise
        return LibraryTemplate(template, final, builtin=False)

    def save(self, template: Template, files: Mapping[str, Path] | None = None) -> LibraryTemplate:
        """Write `template` as `<user dir>/<id>/`, copying `files` ({name the template gives it: source
        file}) beside it; replaces a folder of that id only once the new one is complete and valid."""
        files = dict(files or {})
        unknown = sorted(set(files) - set(template.files()))
        if unknown:
            raise InputError(f"template {template.id}: {unknown[0]!r} is not a file the template names")
        with self.staging_folder() as staging:
            staged = staging / template.id
            staged.mkdir()
            for name, source in files.items():
                if not source.is_file():
                    raise InputError(f"template {template.id}: {source}: file not found")
                _copy_synced(source, staged / name)
            json_file = staged / TEMPLATE_FILE
            with json_file.open("w", encoding="utf-8") as stream:
                stream.write(template.model_dump_json(indent=2) + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            return self.install(staged)

    def _user_entry(self, template_id: str, verb: str) -> LibraryTemplate:
        entry = self.get(template_id)
        if entry.builtin:
            raise InputError(
                f"template {template_id!r} is built in and cannot be {verb}: duplicate it first and "
                f"change the copy"
            )
        return entry

    @staticmethod
    def _files_of(entry: LibraryTemplate, template: Template) -> dict[str, Path]:
        """The files `template` names that `entry`'s folder holds (to carry into a new folder)."""
        return {name: entry.folder / name for name in template.files() if (entry.folder / name).is_file()}

    def save_thumbnail(self, template_id: str, image: np.ndarray) -> LibraryTemplate:
        """Store `image` ((H, W, 3) RGB uint8) as the user template's PNG thumbnail (no new version: a
        thumbnail previews the look, it is not part of it)."""
        entry = self._user_entry(template_id, "changed")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"template {template_id}: thumbnail must be an (H, W, 3) uint8 RGB image")
        current = entry.template.thumbnail
        name = current if current is not None and current.lower().endswith(".png") else "thumbnail.png"
        template = entry.template.model_copy(update={"thumbnail": name})
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
        if not ok:
            raise InputError(f"template {template_id}: the thumbnail could not be encoded as PNG")
        with self.staging_folder() as staging:
            png = staging / name
            png.write_bytes(encoded.tobytes())
            return self.save(template, {**self._files_of(entry, template), name: png})

    def duplicate(self, template_id: str, name: str) -> LibraryTemplate:
        """A user copy of any template under a new id made from `name`, at version 1, with its files."""
        entry = self.get(template_id)
        template = _validated(
            entry.template, f"template {template_id}", id=self.new_id(name), name=name, version=1
        )
        return self.save(template, self._files_of(entry, template))

    def edit(self, template_id: str, **changes: Any) -> LibraryTemplate:
        """Store the user template with `changes` (Template fields, validated) as its next version.

        Built-in templates are refused (duplicate them first); id, version and format_version are not
        editable. Files the changed template names must already be in its folder.
        """
        entry = self._user_entry(template_id, "edited")
        fixed = sorted({"id", "version", "format_version"} & changes.keys())
        if fixed:
            raise InputError(f"template {template_id}: {fixed[0]} cannot be edited (duplicate for a new id)")
        template = _validated(
            entry.template, f"template {template_id}", **changes, version=entry.template.version + 1
        )
        return self.save(template, self._files_of(entry, template))

    def rename(self, template_id: str, name: str) -> LibraryTemplate:
        """Give a user template a new display name (a new version; its id stays)."""
        return self.edit(template_id, name=name)

    def set_tags(self, template_id: str, tags: Sequence[str]) -> LibraryTemplate:
        """Replace a user template's tags (a new version)."""
        return self.edit(template_id, tags=tuple(tags))

    def delete(self, template_id: str) -> None:
        """Remove a user template's folder (a built-in it shadowed shows again)."""
        entry = self._user_entry(template_id, "deleted")
        with self.staging_folder() as staging:
            # Moved out first, so no half-deleted folder ever shows up as a broken template.
            os.rename(entry.folder, staging / entry.folder.name)


# -- templates and projects ---------------------------------------------------------------------------------


def embed_template(entry: LibraryTemplate, project_dir: Path) -> EmbeddedTemplate:
    """Copy the template's LUT and reference frames to `<project_dir>/template-assets/<id>-v<version>/`
    (files already there with the same content are left alone) and reference them from the project.

    The reference frames are checked first (app.engine.image_check: a file of the library replaced or
    damaged since it was saved): InputError "template '<id>': <file>: <why>", and nothing is copied."""
    template = entry.template
    for name in template.references:
        try:
            check_image(entry.path(name))
        except MediaError as error:
            source = str(entry.path(name))
            raise InputError(f"template {template.id!r}: {str(error).replace(source, name)}") from None
    relative = f"{ASSETS_DIR}/{template.id}-v{template.version}"
    target_dir = project_dir / relative

    def copied(name: str) -> MediaRef:
        source = entry.path(name)
        digest = sha256_file(source)
        target = target_dir / name
        if target.is_file() and sha256_file(target) != digest:
            # Another template took this id and version (a deleted one's, a replaced import): the project's
            # acts may use the file there, so it is never overwritten; this copy gets its own name.
            target = target.with_name(f"{target.stem}-{digest[:12]}{target.suffix}")
        if not (target.is_file() and sha256_file(target) == digest):
            target_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{name}.partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        return MediaRef(path=f"{relative}/{target.name}", sha256=digest)

    return EmbeddedTemplate(
        template=template,
        lut=copied(template.lut) if template.lut is not None else None,
        references=tuple(copied(name) for name in template.references),
    )


def _template_path(act_path: str) -> str:
    """Where the template keeps the value it sets at `act_path` (the inverse of template_values)."""
    renamed = {
        "draft_backend": "backends.draft",
        "final_backend": "backends.final",
        "generation.steps": "backends.steps",
        "generation.guidance": "backends.guidance",
        "generation.generation_fps": "interpolation.generation_fps",
        "generation.interpolation": "interpolation.method",
    }
    if act_path.startswith("transition."):
        return f"pacing.{act_path}"
    return renamed.get(act_path, act_path)


def _group_value(values: list[Any]) -> Any:
    """The first act's value, or the mean when the acts hold different numbers (ints stay ints)."""
    first = values[0]
    numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in values)
    if not numbers or all(value == first for value in values):
        return first
    mean = sum(values) / len(values)
    return round(mean) if all(isinstance(value, int) for value in values) else round(mean, 4)


def template_from_acts(
    acts: Sequence[Act], template_id: str, name: str, tags: Iterable[str] = (), description: str = ""
) -> Template:
    """A template holding the look of `acts` ("save as template"): the first act's values of every field a
    template controls, the mean where a group of acts holds different numbers; realism = 1 - stylize; no
    pacing preset. An act LUT becomes `look.cube` (copy it with `template_files_from_act`)."""
    if not acts:
        raise InputError("save as template: no acts given")
    data: dict[str, Any] = {
        "id": template_id,
        "name": name,
        "tags": tuple(tags),
        "description": description,
        "lut": SAVED_LUT_NAME if acts[0].grade.lut is not None else None,
    }
    for act_path in CONTROLLED_PATHS:
        if act_path == "grade.lut":
            continue
        value = _group_value([get_path(act, act_path) for act in acts])
        if act_path == "grade.stylize":
            data["realism"] = round(1.0 - value, 3)
            continue
        *parents, leaf = _template_path(act_path).split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return Template.model_validate(data)
    except ValidationError as error:
        raise InputError(f"template {template_id}: {field_error(error)}") from None


def template_files_from_act(act: Act, project_dir: Path) -> dict[str, Path]:
    """The files a template made from `act` needs: {"look.cube": the act's LUT} when it has one, else {}."""
    if act.grade.lut is None:
        return {}
    path = act.grade.lut.resolve(project_dir)
    if not path.is_file():
        raise InputError(f"act '{act.name}' LUT {path}: file not found")
    return {SAVED_LUT_NAME: path}


def moved_with_template_assets(project: Project, old_dir: Path, new_dir: Path) -> Project:
    """`project` saved into `new_dir` instead of `old_dir`: the template files copied beside it
    (`template-assets/…` travels with the project, as embedding promises) and every other media path
    rewritten to find the same file from the new folder."""
    carried = {
        ref.path
        for _, ref in project.media_refs()
        if PurePosixPath(ref.path).parts[:1] == (ASSETS_DIR,) and (old_dir / ref.path).is_file()
    }
    for path in sorted(carried):
        target = new_dir / path
        if not (target.is_file() and sha256_file(target) == sha256_file(old_dir / path)):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            shutil.copyfile(old_dir / path, partial)
            os.replace(partial, target)
    moved = project.moved(old_dir, new_dir)
    # The carried files sit at the same relative paths in the new folder: keep those paths.
    for act, original in zip(moved.acts, project.acts, strict=True):
        act.references = [
            source if source.path in carried else ref
            for ref, source in zip(act.references, original.references, strict=True)
        ]
        if original.grade.lut is not None and original.grade.lut.path in carried:
            act.grade = act.grade.model_copy(update={"lut": original.grade.lut})
    moved.templates = [
        embedded if _all_carried(embedded, carried) else copy
        for embedded, copy in zip(project.templates, moved.templates, strict=True)
    ]
    return moved


def _all_carried(embedded: EmbeddedTemplate, carried: set[str]) -> bool:
    refs = [*embedded.references, *([embedded.lut] if embedded.lut else [])]
    return all(ref.path in carried for ref in refs)
