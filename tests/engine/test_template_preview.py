"""The template preview shows the act as applying the template would leave it, the user's edits kept."""

from __future__ import annotations

from app.engine.worker import _template_variant
from app.model import Act, CameraMove, MediaRef, MotionSettings, Project
from app.model.commands import SetActField
from app.model.history import History
from app.model.template import EmbeddedTemplate, Template
from app.model.template_commands import ApplyTemplate


def _noir(lut: str) -> EmbeddedTemplate:
    template = Template(id="noir", name="Noir", motion=MotionSettings(camera=CameraMove.dolly_in))
    return EmbeddedTemplate(template=template, lut=MediaRef(path=lut))


def _edited_noir_act() -> Project:
    """An act with noir v1 applied (its copy embedded beside the project), then its camera changed."""
    project = Project(acts=[Act(id="a", duration_frames=24)])
    history = History(project)
    history.execute(ApplyTemplate(["a"], _noir("template-assets/noir-v1/noir.cube")))
    history.execute(SetActField("a", "motion", MotionSettings(camera=CameraMove.pan_left)))
    return project


def test_the_preview_of_another_template_keeps_what_the_user_changed() -> None:
    project = _edited_noir_act()
    pastel = EmbeddedTemplate(template=Template(id="pastel", name="Pastel", style_prompt="pastel"))
    applied = project.model_copy(deep=True)
    ApplyTemplate(["a"], pastel).apply(applied)

    variant = _template_variant(project, 0, pastel)

    assert variant == applied.acts[0]
    assert variant.motion.camera is CameraMove.pan_left and variant.style_prompt == "pastel"


def test_previewing_the_version_an_act_has_uses_the_projects_copy_of_it() -> None:
    # The library's copy names its LUT where the library keeps it; ApplyTemplate refuses a second copy of a
    # version that differs, so the preview must apply the project's own.
    project = _edited_noir_act()
    variant = _template_variant(
        project, 0, _noir("/home/user/.local/share/storybeat/templates/noir/noir.cube")
    )
    assert variant.motion.camera is CameraMove.pan_left
    assert variant.grade.lut == MediaRef(path="template-assets/noir-v1/noir.cube")
