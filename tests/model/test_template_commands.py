"""Templates in the document: validation, applying and undoing, updating to a newer version keeps edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.model import Act, Project
from app.model.act import (
    CameraKey,
    CameraMove,
    GradeSettings,
    InterpolationMethod,
    MotionSettings,
    TransitionKind,
)
from app.model.commands import EditError, SetActField, SplitAct
from app.model.history import History
from app.model.media import MediaRef
from app.model.project_file import dumps_project, parse_project
from app.model.template import (
    EmbeddedTemplate,
    Template,
    TemplateBackends,
    TemplateInterpolation,
    TemplatePacing,
    TransitionSpec,
    overrides,
    template_values,
)
from app.model.template_commands import ApplyTemplate, UpdateTemplate, acts_with_older_version


def _noir(version: int = 1, **changes: object) -> EmbeddedTemplate:
    template = Template(
        id="noir",
        version=version,
        name="Noir",
        tags=("Black and White", "moody"),
        style_prompt="high-contrast black and white, film noir",
        negative_prompt="colour",
        realism=0.8,
        motion=MotionSettings(camera=CameraMove.dolly_in, intensity=0.3),
        interpolation=TemplateInterpolation(generation_fps=12, method=InterpolationMethod.blend),
        pacing=TemplatePacing(preset="downbeats:bars=2", transition=TransitionSpec(kind="dip", frames=8)),
        grade=GradeSettings(saturation=0.0, contrast=1.4, vignette=0.5),
        backends=TemplateBackends(final="svd", steps=30),
    )
    return EmbeddedTemplate(template=template.model_copy(update=changes), lut=MediaRef(path="noir.cube"))


def _project() -> Project:
    return Project(
        acts=[
            Act(id="a", name="A", duration_frames=24, prompt="a street at night"),
            Act(id="b", name="B", duration_frames=24, references=[MediaRef(path="b.jpg")]),
            Act(id="c", name="C", duration_frames=24),
        ]
    )


def test_template_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="realism"):
        Template(id="x", name="X", realism=2.0)
    with pytest.raises(ValidationError, match="id"):
        Template(id="../evil", name="X")
    with pytest.raises(ValidationError, match="file name inside the template folder"):
        Template(id="x", name="X", lut="../../etc/passwd.cube")
    with pytest.raises(ValidationError, match="must end in"):
        Template(id="x", name="X", references=("run.py",))
    with pytest.raises(ValidationError, match="unknown pacing preset"):
        TemplatePacing(preset="every-blue-moon")
    with pytest.raises(ValidationError, match="newer than this Storybeat"):
        Template(id="x", name="X", format_version=99)
    assert Template(id="x", name="X", tags=("Noir", "noir ")).tags == ("noir",)


def test_apply_sets_controlled_fields_links_and_embeds_and_undo_restores() -> None:
    project = _project()
    history = History(project)
    before = dumps_project(project)
    noir = _noir()
    history.execute(ApplyTemplate(["a", "b"], noir))

    a, b, c = project.acts
    assert a.style_prompt == noir.template.style_prompt and a.prompt == "a street at night"
    assert a.full_prompt() == "a street at night, high-contrast black and white, film noir"
    assert a.motion.camera is CameraMove.dolly_in and a.transition.kind is TransitionKind.dip
    assert a.grade.saturation == 0.0 and a.grade.lut == MediaRef(path="noir.cube")
    assert a.grade.stylize == pytest.approx(0.2)  # realism 0.8
    assert a.generation.generation_fps == 12 and a.generation.interpolation is InterpolationMethod.blend
    assert a.final_backend == "svd" and a.generation.steps == 30
    assert a.template is not None and (a.template.id, a.template.version) == ("noir", 1)
    assert b.references == [MediaRef(path="b.jpg")]  # own references kept
    assert c.template is None and c.style_prompt == ""
    assert project.templates == [noir]
    assert overrides(a, noir) == []

    history.undo()
    assert dumps_project(project) == before
    history.redo()
    assert project.acts[0].template is not None


def test_embedded_templates_survive_a_save_round_trip() -> None:
    project = _project()
    History(project).execute(ApplyTemplate(["a"], _noir()))
    reloaded = parse_project(dumps_project(project), Path("film.storybeat"))
    assert reloaded.templates == project.templates
    assert reloaded.acts[0].template == project.acts[0].template


def test_update_to_a_newer_version_keeps_overrides() -> None:
    project = _project()
    history = History(project)
    history.execute(ApplyTemplate(["a", "b"], _noir()))
    # The user tweaks act A's camera and contrast after applying: those are now overrides.
    a = project.acts[0]
    history.execute(SetActField("a", "motion", a.motion.model_copy(update={"camera": CameraMove.pan_left})))
    history.execute(SetActField("a", "grade", a.grade.model_copy(update={"contrast": 1.1})))
    assert overrides(a, _noir()) == ["motion.camera", "grade.contrast"]

    v2 = _noir(
        2,
        motion=MotionSettings(camera=CameraMove.zoom_out, intensity=0.6),
        grade=GradeSettings(saturation=0.1, contrast=1.6, vignette=0.5),
    )
    assert acts_with_older_version(project, "noir", 2) == ["a", "b"]
    before = dumps_project(project)
    update = UpdateTemplate(["a", "b"], v2)
    history.execute(update)

    a, b = project.acts[0], project.acts[1]
    assert a.motion.camera is CameraMove.pan_left and a.grade.contrast == 1.1  # overrides kept
    assert a.motion.intensity == 0.6 and a.grade.saturation == 0.1  # untouched fields follow v2
    assert b.motion.camera is CameraMove.zoom_out and b.grade.contrast == 1.6
    assert update.kept == {"a": ["motion.camera", "grade.contrast"], "b": []}
    assert a.template is not None and a.template.version == 2
    assert {e.key for e in project.templates} == {("noir", 1), ("noir", 2)}
    assert acts_with_older_version(project, "noir", 2) == []

    history.undo()
    assert dumps_project(project) == before


def test_apply_keeps_the_camera_move_and_transition_the_user_set_and_says_so() -> None:
    project = _project()
    history = History(project)
    before = dumps_project(project)
    a = project.acts[0]
    history.execute(SetActField("a", "motion", a.motion.model_copy(update={"camera": CameraMove.pan_left})))
    history.execute(SetActField("a", "transition", TransitionSpec(kind=TransitionKind.crossfade, frames=6)))
    edited = dumps_project(project)
    noir = _noir()  # a dolly in and an 8-frame dip, among the rest of its look
    apply = ApplyTemplate(["a", "c"], noir)
    history.execute(apply)

    a, _, c = project.acts
    assert a.motion.camera is CameraMove.pan_left  # the user's move stays …
    assert (a.transition.kind, a.transition.frames) == (TransitionKind.crossfade, 6)  # … and transition
    assert a.motion.intensity == 0.3 and a.motion.easing is noir.template.motion.easing  # the rest applies
    assert a.style_prompt == noir.template.style_prompt and a.grade.saturation == 0.0
    assert a.template is not None and a.template.id == "noir"
    assert c.motion.camera is CameraMove.dolly_in and c.transition.kind is TransitionKind.dip
    assert apply.kept == {"a": ["motion.camera", "transition.kind", "transition.frames"], "c": []}
    assert overrides(a, noir) == apply.kept["a"]  # they are the act's overrides now
    assert apply.summary == (
        "Applied template 'Noir' to 2 acts; kept 3 settings you changed "
        "(motion.camera, transition.kind, transition.frames)"
    )

    history.undo()
    assert dumps_project(project) == edited
    history.undo()
    history.undo()
    assert dumps_project(project) == before


def test_applying_another_template_keeps_what_the_user_changed_after_the_first() -> None:
    project = _project()
    history = History(project)
    history.execute(ApplyTemplate(["a"], _noir()))
    a = project.acts[0]
    history.execute(SetActField("a", "transition", a.transition.model_copy(update={"frames": 4})))
    before = dumps_project(project)
    pastel = EmbeddedTemplate(
        template=Template(
            id="pastel",
            name="Pastel",
            motion=MotionSettings(camera=CameraMove.drift, intensity=0.2),
            pacing=TemplatePacing(transition=TransitionSpec(kind=TransitionKind.crossfade, frames=12)),
        )
    )
    apply = ApplyTemplate(["a"], pastel)
    history.execute(apply)

    a = project.acts[0]
    # what noir set and the user left alone follows pastel; the dip's length the user chose stays
    assert a.motion.camera is CameraMove.drift and a.transition.kind is TransitionKind.crossfade
    assert a.transition.frames == 4 and a.grade.lut is None
    assert apply.kept == {"a": ["transition.frames"]}
    history.undo()
    assert dumps_project(project) == before


def test_update_refuses_acts_it_cannot_compare() -> None:
    project = _project()
    history = History(project)
    with pytest.raises(EditError, match="does not use template"):
        history.execute(UpdateTemplate(["a"], _noir(2)))
    history.execute(ApplyTemplate(["a"], _noir()))
    project.templates = []  # a project whose embedded copy was lost
    with pytest.raises(EditError, match="no copy"):
        history.execute(UpdateTemplate(["a"], _noir(2)))
    assert project.acts[0].template is not None and project.acts[0].template.version == 1


def test_a_changed_template_must_get_a_new_version() -> None:
    project = _project()
    history = History(project)
    history.execute(ApplyTemplate(["a"], _noir()))
    with pytest.raises(EditError, match="new version"):
        history.execute(ApplyTemplate(["b"], _noir(style_prompt="something else")))
    assert project.acts[1].template is None  # refused edits leave nothing behind


def test_template_reference_frames_fill_acts_without_references() -> None:
    project = _project()
    frames = (MediaRef(path="template-assets/noir-v1/street.jpg"),)
    embedded = _noir().model_copy(update={"references": frames})
    History(project).execute(ApplyTemplate(["a", "b"], embedded))
    assert project.acts[0].references == list(frames)
    assert project.acts[1].references == [MediaRef(path="b.jpg")]


def test_template_values_cover_every_setting_of_the_look() -> None:
    values = template_values(_noir())
    for prefix in ("motion.", "transition.", "grade.", "generation."):
        assert any(path.startswith(prefix) for path in values)
    assert "grade.lut" in values and "style_prompt" in values and "final_backend" in values


def test_a_template_leaves_a_split_act_s_stretch_of_its_move_alone() -> None:
    project = _project()
    history = History(project)
    history.execute(SplitAct("a", 12, new_id="a2"))
    stretch = project.act("a2").motion.path_start, project.act("a2").motion.path_end
    assert stretch[0] > 0
    apply = ApplyTemplate(["a2"], _noir())
    history.execute(apply)
    second = project.act("a2")
    assert second.motion.camera is CameraMove.dolly_in  # the template's move …
    assert (second.motion.path_start, second.motion.path_end) == stretch  # … from where the part is in it
    # where the part lies in its move is no setting of the look: not reported as the user's change
    assert apply.kept == {"a2": []} and overrides(second, _noir()) == []
    with pytest.raises(ValidationError, match="path_start"):
        Template(id="x", name="X", motion=MotionSettings(path_start=0.5))


def test_a_template_keeps_an_act_s_camera_keys_and_never_carries_any() -> None:
    project = _project()
    keys = (CameraKey(frame=0), CameraKey(frame=8, zoom=2.0, x=0.1))
    project.act("a").motion = project.act("a").motion.model_copy(update={"keyframes": keys})
    apply = ApplyTemplate(["a"], _noir())
    History(project).execute(apply)
    act = project.act("a")
    assert act.motion.camera is CameraMove.dolly_in and act.motion.keyframes == keys
    assert apply.kept == {"a": []} and overrides(act, _noir()) == []
    with pytest.raises(ValidationError, match="keyframes"):
        Template(id="x", name="X", motion=MotionSettings(keyframes=keys))
