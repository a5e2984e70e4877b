"""Undoable template edits: apply a template to acts, and update acts to a newer version of theirs.

Both embed the template version in the project (`Project.templates`), so the acts can be compared with what
their template set — the user's overrides are the differences (app.model.template.overrides) — on any
machine, with or without the template library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from app.model.act import Act, TemplateLink
from app.model.commands import Changes, Command, EditError, find_act
from app.model.project import Project
from app.model.template import EmbeddedTemplate, get_path, template_values, with_path


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


@dataclass
class ApplyTemplate(Command):
    """Set every field the template controls on the acts and link them to it (id + version).

    Acts without reference images get the template's reference frames; acts with their own keep them.
    """

    act_ids: Sequence[str]
    embedded: EmbeddedTemplate
    label: str = ""
    _before: _Snapshot = field(default_factory=_Snapshot, repr=False)

    def __post_init__(self) -> None:
        self.label = self.label or f"Apply template '{self.embedded.template.name}'"

    def apply(self, project: Project) -> Changes:
        acts = _acts(project, self.act_ids)
        self._before.take(project, acts)
        try:
            _embed(project, self.embedded)
            values = template_values(self.embedded)
            for act in acts:
                for path, value in values.items():
                    _set(act, path, value)
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
