"""Copy, paste and duplicate acts, and paste chosen groups of settings from one act onto others.

Copied acts travel as JSON text (the act model's own serialisation) so they can be pasted into another open
project: `encode_acts` writes the acts with the folder of the project they came from and the template
versions they link to; `decode_acts` checks the text and rebases relative media paths onto the target
project's folder, as Save As does. The commands insert copies with fresh ids, so the source acts and their
copies never share an id (nor do their takes).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from app.model.act import Act, GradeSettings, MotionSettings
from app.model.commands import Changes, Command, find_act
from app.model.errors import EditError, validation_problem
from app.model.project import SCHEMA_VERSION, Project
from app.model.template import EmbeddedTemplate, get_path, with_path

#: Marks clipboard text as Storybeat acts (and the MIME type the editor puts it under).
ACTS_MIME_TYPE = "application/x-storybeat-acts"
#: Clipboard text above this size is refused without parsing (a thousand acts are well under it).
MAX_CLIPBOARD_BYTES = 16 * 1024 * 1024


class CopiedActs(BaseModel):
    """Acts on the clipboard: relative media paths are relative to `project_dir`, the folder of the project
    they were copied from; `templates` are the embedded template versions the acts link to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = ACTS_MIME_TYPE
    schema_version: int = SCHEMA_VERSION
    project_dir: str
    acts: tuple[Act, ...]
    templates: tuple[EmbeddedTemplate, ...] = ()

    def rebased(self, new_dir: Path) -> CopiedActs:
        """The same acts, their relative media paths pointing at the same files from `new_dir`."""
        old_dir = Path(self.project_dir)
        carrier = Project(
            acts=[act.model_copy(deep=True) for act in self.acts], templates=list(self.templates)
        )
        moved = carrier.moved(old_dir, new_dir)
        return self.model_copy(
            update={
                "project_dir": str(new_dir),
                "acts": tuple(moved.acts),
                "templates": tuple(moved.templates),
            }
        )


def encode_acts(project: Project, act_ids: Iterable[str], project_dir: Path) -> str:
    """Clipboard text for the acts `act_ids` of `project` (stored in `project_dir`), in track order."""
    wanted = set(act_ids)
    acts = tuple(act for act in project.acts if act.id in wanted)
    if not acts:
        raise EditError("no acts selected to copy")
    links = {(act.template.id, act.template.version) for act in acts if act.template is not None}
    templates = tuple(embedded for embedded in project.templates if embedded.key in links)
    copied = CopiedActs(project_dir=str(project_dir.resolve()), acts=acts, templates=templates)
    return copied.model_dump_json()


def decode_acts(text: str, project_dir: Path) -> CopiedActs:
    """The acts in clipboard `text`, rebased for a project stored in `project_dir`; EditError saying what is
    wrong when the text is not acts copied by this version of Storybeat."""
    if len(text) > MAX_CLIPBOARD_BYTES:
        raise EditError("the clipboard holds too much text to be copied acts")
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError:
        raise EditError("the clipboard does not hold copied acts") from None
    if not isinstance(raw, dict) or raw.get("format") != ACTS_MIME_TYPE:
        raise EditError("the clipboard does not hold copied acts")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise EditError(
            f"the copied acts are from another Storybeat version (schema {raw.get('schema_version')!r}, "
            f"this one uses {SCHEMA_VERSION})"
        )
    try:
        copied = CopiedActs.model_validate(raw)
    except ValidationError as error:
        raise EditError(f"the copied acts are not valid: {validation_problem(error)}") from None
    if not copied.acts:
        raise EditError("the clipboard holds no acts")
    return copied.rebased(project_dir.resolve())


def fresh_copy(act: Act, name: str | None = None) -> Act:
    """A copy of `act` with a new id (and new take ids, the selected take following its take)."""
    take_ids = {take.id: uuid.uuid4().hex for take in act.takes}
    takes = [take.model_copy(update={"id": take_ids[take.id]}) for take in act.takes]
    return act.model_copy(
        deep=True,
        update={
            "id": uuid.uuid4().hex,
            "name": act.name if name is None else name,
            "takes": takes,
            "selected_take": take_ids.get(act.selected_take) if act.selected_take else None,
        },
    )


def _insert(project: Project, index: int, acts: list[Act]) -> None:
    project.acts[index:index] = acts


def _remove(project: Project, acts: list[Act]) -> None:
    ids = {act.id for act in acts}
    project.acts[:] = [act for act in project.acts if act.id not in ids]


@dataclass
class DuplicateActs(Command):
    """Insert copies of the acts (new ids, names "X (copy)") right after the last of them, in track order."""

    act_ids: list[str]
    label: str = "Duplicate acts"
    _copies: list[Act] | None = field(default=None, repr=False)
    _index: int = field(default=0, repr=False)

    def apply(self, project: Project) -> Changes:
        if not self.act_ids:
            raise EditError("no acts selected to duplicate")
        indices = sorted({project.index_of(act.id) for act in (find_act(project, i) for i in self.act_ids)})
        if self._copies is None:  # made once: a redo brings back the same ids later edits refer to
            self._copies = [fresh_copy(project.acts[i], f"{project.acts[i].name} (copy)") for i in indices]
        self._index = indices[-1] + 1
        _insert(project, self._index, [act.model_copy(deep=True) for act in self._copies])
        return Changes(acts=frozenset(act.id for act in self._copies), timing=True)

    def revert(self, project: Project) -> Changes:
        assert self._copies is not None
        _remove(project, self._copies)
        return Changes(acts=frozenset(act.id for act in self._copies), timing=True)

    @property
    def new_ids(self) -> list[str]:
        """The ids of the copies (after the first apply)."""
        return [act.id for act in self._copies or []]


@dataclass
class PasteActs(Command):
    """Insert copies of `acts` (fresh ids) at track position `index`, and embed the template versions they
    link to that the project does not hold yet."""

    acts: list[Act]
    index: int
    templates: list[EmbeddedTemplate] = field(default_factory=list)
    label: str = "Paste acts"
    _copies: list[Act] | None = field(default=None, repr=False)
    _added_templates: list[EmbeddedTemplate] = field(default_factory=list, repr=False)

    def apply(self, project: Project) -> Changes:
        if not self.acts:
            raise EditError("there are no acts to paste")
        if not 0 <= self.index <= len(project.acts):
            raise EditError(f"act position {self.index} is outside 0..{len(project.acts)}")
        if self._copies is None:
            self._copies = [fresh_copy(act) for act in self.acts]
        held = {embedded.key for embedded in project.templates}
        self._added_templates = []
        for embedded in self.templates:
            if embedded.key not in held:
                self._added_templates.append(embedded)
                held.add(embedded.key)
        project.templates = [*project.templates, *self._added_templates]
        _insert(project, self.index, [act.model_copy(deep=True) for act in self._copies])
        return Changes(acts=frozenset(act.id for act in self._copies), timing=True)

    def revert(self, project: Project) -> Changes:
        assert self._copies is not None
        _remove(project, self._copies)
        if self._added_templates:
            project.templates = project.templates[: len(project.templates) - len(self._added_templates)]
        return Changes(acts=frozenset(act.id for act in self._copies), timing=True)

    @property
    def new_ids(self) -> list[str]:
        """The ids of the pasted acts (after the first apply)."""
        return [act.id for act in self._copies or []]


class AttributeGroup(StrEnum):
    """Groups of act settings "Paste attributes" copies."""

    motion = "motion"  # the camera move and audio reactivity (not where a split part lies in its move)
    look = "look"  # style and negative prompt, colour grade, LUT and finish (not deflicker: a repair)
    generation = "generation"  # generation settings and the draft and final backends


_MOTION_PATHS = tuple(f"motion.{name}" for name in MotionSettings.model_fields)
_GRADE_PATHS = tuple(f"grade.{name}" for name in GradeSettings.model_fields)

#: The act values each group copies, as paths ("field" or "field.sub_field").
GROUP_PATHS: dict[AttributeGroup, tuple[str, ...]] = {
    AttributeGroup.motion: tuple(
        p for p in _MOTION_PATHS if p not in ("motion.path_start", "motion.path_end")
    ),
    AttributeGroup.look: (
        "style_prompt",
        "negative_prompt",
        *(p for p in _GRADE_PATHS if p != "grade.deflicker"),
    ),
    AttributeGroup.generation: ("generation", "draft_backend", "final_backend"),
}


@dataclass
class PasteAttributes(Command):
    """Copy the chosen groups of settings of `source` onto the acts `act_ids` (each keeps the rest)."""

    act_ids: list[str]
    source: Act
    groups: frozenset[AttributeGroup]
    label: str = "Paste attributes"
    _old: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def apply(self, project: Project) -> Changes:
        if not self.groups:
            raise EditError("choose at least one group of attributes to paste")
        if not self.act_ids:
            raise EditError("no acts selected to paste attributes onto")
        targets = [find_act(project, act_id) for act_id in dict.fromkeys(self.act_ids)]
        paths = [path for group in AttributeGroup if group in self.groups for path in GROUP_PATHS[group]]
        fields = dict.fromkeys(path.partition(".")[0] for path in paths)
        self._old = {act.id: {name: getattr(act, name) for name in fields} for act in targets}
        for act in targets:
            for path in paths:
                with_path(act, path, get_path(self.source, path))
        return Changes(acts=frozenset(act.id for act in targets))

    def revert(self, project: Project) -> Changes:
        for act_id, values in self._old.items():
            act = project.act(act_id)
            for name, value in values.items():
                setattr(act, name, value)
        return Changes(acts=frozenset(self._old))
