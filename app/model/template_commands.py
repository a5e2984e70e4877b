"""Undoable template edits: apply a template to acts, and update acts to a newer version of theirs.

Both embed the template version in the project (`Project.templates`), so the acts can be compared with what
their template set — the user's overrides are the differences (app.model.template.overrides) — on any
machine, with or without the template library. Neither overwrites an override: both keep the values the
user set and report which (`kept`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from app.model.act import Act, TemplateLink
from app.model.commands import Changes, Command, EditError, find_act
from app.model.project import Project
from app.model.template import (
    CONTROLLED_PATHS,
    EmbeddedTemplate,
    get_path,
    overrides,
    template_values,
    with_path,
)


def _acts(project: Project, act_ids: Sequence[str]) -> list[Act]:
    if not act_ids:
        raise EditError("no acts to apply the template to")
    return [find_act(project, act_id) for act_id in act_ids]


def _set(act: Act, path: str, value: object) -> None:
    try:
        with_path(act, path, value)
    except (ValidationError, ValueError) as error:
        raise EditError(f"act '{act.name}' field '{path}': {error}") from None


def _restore(act: Act, saved: Act) -> None:
    """Put `saved`'s values back into `act` in place (other code may hold the act object)."""
    for name in Act.model_fields:
        setattr(act, name, getattr(saved, name))


@dataclass
class _Snapshot:
    """The acts and embedded templates as they were, for revert."""

    acts: dict[str, Act] = field(default_factory=dict)
    templates: list[EmbeddedTemplate] = field(default_factory=list)

    def take(self, project: Project, acts: Sequence[Act]) -> None:
        self.acts = {act.id: act.model_copy(deep=True) for act in acts}
        self.templates = list(project.templates)

    def restore(self, project: Project) -> Changes:
        for act_id, saved in self.acts.items():
            _restore(project.act(act_id), saved)
        project.templates = list(self.templates)
        return Changes(acts=frozenset(self.acts), timing=True)


def _embed(project: Project, embedded: EmbeddedTemplate) -> None:
    current = project.embedded_template(*embedded.key)
    if current is None:
        project.templates = [*project.templates, embedded]
    elif current != embedded:
        # Same id and version, other content: a version must never change once acts link to it.
        raise EditError(
            f"template '{embedded.template.id}' version {embedded.template.version} differs from the copy "
            "this project already has; give the changed template a new version"
        )


def edited_fields(project: Project, act: Act) -> list[str]:
    """The template-controlled fields of `act` the user changed (paths as in template_values).

    For an act linked to a template version the project has a copy of, these are its overrides of that
    version; for an act without a template, the fields that differ from a new act's. An act linked to a
    version the project has no copy of counts as unedited: its values came from that template as far as
    anyone can tell.
    """
    if act.template is not None:
        linked = project.embedded_template(act.template.id, act.template.version)
        return [] if linked is None else overrides(act, linked)
    fresh = Act(duration_frames=1)
    return [path for path in CONTROLLED_PATHS if get_path(act, path) != get_path(fresh, path)]


@dataclass
class ApplyTemplate(Command):
    """Set the fields the template controls on the acts and link them to it (id + version), keeping the
    fields the user changed (see edited_fields; `kept` names them per act).

    Acts without reference images get the template's reference frames; acts with their own keep them.
    """

    act_ids: Sequence[str]
    embedded: EmbeddedTemplate
    label: str = ""
    kept: dict[str, list[str]] = field(default_factory=dict)  # act id -> the edited fields it kept
    _before: _Snapshot = field(default_factory=_Snapshot, repr=False)

    def __post_init__(self) -> None:
        self.label = self.label or f"Apply template '{self.embedded.template.name}'"

    @property
    def summary(self) -> str:
        """One line for the status bar: which acts got the template, and the settings kept on them."""
        count = len(self.kept)
        acts = "1 act" if count == 1 else f"{count} acts"
        line = f"Applied template '{self.embedded.template.name}' to {acts}"
        kept = list(dict.fromkeys(path for paths in self.kept.values() for path in paths))
        if not kept:
            return line
        settings = "1 setting" if len(kept) == 1 else f"{len(kept)} settings"
        return f"{line}; kept {settings} you changed ({', '.join(kept)})"

    def apply(self, project: Project) -> Changes:
        acts = _acts(project, self.act_ids)
        edited = {act.id: edited_fields(project, act) for act in acts}  # before anything changes
        self._before.take(project, acts)
        self.kept = {}
        try:
            _embed(project, self.embedded)
            values = template_values(self.embedded)
            for act in acts:
                for path, value in values.items():
                    if path not in edited[act.id]:
                        _set(act, path, value)
                self.kept[act.id] = edited[act.id]
                if not act.references and self.embedded.references:
                    act.references = list(self.embedded.references)
                act.template = TemplateLink(
                    id=self.embedded.template.id, version=self.embedded.template.version
                )
        except EditError:
            self._before.restore(project)
            raise
        return Changes(acts=frozenset(act.id for act in acts), timing=True)

    def revert(self, project: Project) -> Changes:
        return self._before.restore(project)


@dataclass
class UpdateTemplate(Command):
    """Move acts linked to an older version of `newer`'s template to `newer`, keeping their overrides: a
    controlled field changes only where the act still holds the value its old version set."""

    act_ids: Sequence[str]
    newer: EmbeddedTemplate
    label: str = ""
    kept: dict[str, list[str]] = field(default_factory=dict)  # act id -> the overridden fields it kept
    _before: _Snapshot = field(default_factory=_Snapshot, repr=False)

    def __post_init__(self) -> None:
        self.label = (
            self.label or f"Update to template '{self.newer.template.name}' v{self.newer.template.version}"
        )

    def apply(self, project: Project) -> Changes:
        acts = _acts(project, self.act_ids)
        template_id, version = self.newer.key
        olds: dict[str, EmbeddedTemplate] = {}
        for act in acts:
            if act.template is None or act.template.id != template_id:
                raise EditError(f"act '{act.name}' does not use template '{template_id}'")
            if act.template.version >= version:
                raise EditError(
                    f"act '{act.name}' already uses version {act.template.version} of '{template_id}'"
                )
            old = project.embedded_template(template_id, act.template.version)
            if old is None:
                raise EditError(
                    f"act '{act.name}': this project has no copy of '{template_id}' version "
                    f"{act.template.version} to compare with; apply the template again instead"
                )
            olds[act.id] = old
        self._before.take(project, acts)
        self.kept = {}
        try:
            _embed(project, self.newer)
            new_values = template_values(self.newer)
            for act in acts:
                old = olds[act.id]
                kept = []
                for path, old_value in template_values(old).items():
                    if get_path(act, path) == old_value:
                        _set(act, path, new_values[path])
                    else:
                        kept.append(path)
                if list(act.references) == list(old.references):
                    act.references = list(self.newer.references) or act.references
                act.template = TemplateLink(id=template_id, version=version)
                self.kept[act.id] = kept
        except EditError:
            self._before.restore(project)
            raise
        return Changes(acts=frozenset(act.id for act in acts), timing=True)

    def revert(self, project: Project) -> Changes:
        return self._before.restore(project)


def acts_with_older_version(project: Project, template_id: str, version: int) -> list[str]:
    """Ids of the acts linked to a version of `template_id` older than `version` (offered an update)."""
    return [
        act.id
        for act in project.acts
        if act.template is not None and act.template.id == template_id and act.template.version < version
    ]
