"""Copy, paste, duplicate acts and paste attributes: one undoable step each, exact revert, fresh ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model import SCHEMA_VERSION, Act, CameraMove, GenerationSettings, MediaRef, MotionSettings, Project
from app.model.act import GradeSettings, Take, TemplateLink
from app.model.copy_paste import (
    AttributeGroup,
    DuplicateActs,
    PasteActs,
    PasteAttributes,
    decode_acts,
    encode_acts,
)
from app.model.errors import EditError
from app.model.history import History
from app.model.project_file import dumps_project
from app.model.template import EmbeddedTemplate, Template


def _project() -> Project:
    return Project(
        acts=[
            Act(id="a", name="Intro", duration_frames=10, references=[MediaRef(path="media/cat.jpg")]),
            Act(
                id="b",
                name="Middle",
                duration_frames=20,
                takes=[Take(id="t1", seed=5, backend="motion")],
                selected_take="t1",
            ),
            Act(id="c", name="End", duration_frames=30),
        ]
    )


def _execute_and_check_undo(history: History, command: object) -> str:
    """Run the command; undo must give back the same bytes, redo the same result."""
    before = dumps_project(history.project)
    history.execute(command)  # type: ignore[arg-type]
    history.project.check_consistency()
    after = dumps_project(history.project)
    history.undo()
    history.project.check_consistency()
    assert dumps_project(history.project) == before
    history.redo()
    history.project.check_consistency()
    assert dumps_project(history.project) == after
    return after


def test_duplicate_inserts_named_copies_with_fresh_ids_after_the_last_selected_act() -> None:
    history = History(_project())
    command = DuplicateActs(["b", "a"])
    _execute_and_check_undo(history, command)
    acts = history.project.acts
    assert [act.name for act in acts] == ["Intro", "Middle", "Intro (copy)", "Middle (copy)", "End"]
    assert [act.id for act in acts[2:4]] == command.new_ids
    assert not {"a", "b", "c"} & set(command.new_ids)
    assert acts[2].references == acts[0].references
    copy = acts[3]
    assert copy.takes[0].id != "t1" and copy.selected_take == copy.takes[0].id
    assert copy.takes[0].seed == 5
    assert history.project.duration_frames == 90
    assert history.undo_label == "Duplicate acts"


def test_duplicate_of_an_unknown_act_is_refused_and_changes_nothing() -> None:
    history = History(_project())
    before = dumps_project(history.project)
    with pytest.raises(EditError, match="no act with id 'zz'"):
        history.execute(DuplicateActs(["zz"]))
    assert dumps_project(history.project) == before


def test_paste_inserts_copies_with_fresh_ids_at_the_index_each_time() -> None:
    history = History(_project())
    copied = [history.project.act("a"), history.project.act("c")]
    first = PasteActs([act.model_copy(deep=True) for act in copied], index=1)
    _execute_and_check_undo(history, first)
    second = PasteActs([act.model_copy(deep=True) for act in copied], index=5)
    _execute_and_check_undo(history, second)
    names = [act.name for act in history.project.acts]
    assert names == ["Intro", "Intro", "End", "Middle", "End", "Intro", "End"]
    ids = [act.id for act in history.project.acts]
    assert len(set(ids)) == len(ids)
    assert ids[1:3] == first.new_ids and ids[5:7] == second.new_ids
    assert history.undo_label == "Paste acts"


def test_paste_outside_the_track_is_refused() -> None:
    history = History(_project())
    with pytest.raises(EditError, match=r"outside 0\.\.3"):
        history.execute(PasteActs([Act(duration_frames=3)], index=4))


def test_clipboard_text_round_trips_rebases_paths_and_carries_linked_templates(tmp_path: Path) -> None:
    source = _project()
    embedded = EmbeddedTemplate(
        template=Template(id="noir", name="Noir"), lut=MediaRef(path="templates/noir.cube")
    )
    source.templates = [embedded]
    source.act("a").template = TemplateLink(id="noir", version=1)
    old_dir, new_dir = tmp_path / "one", tmp_path / "two" / "deeper"
    text = encode_acts(source, ["c", "a"], old_dir)

    copied = decode_acts(text, new_dir)

    assert [act.name for act in copied.acts] == ["Intro", "End"]
    assert copied.acts[0].references == [MediaRef(path="../../one/media/cat.jpg")]
    assert copied.templates[0].lut == MediaRef(path="../../one/templates/noir.cube")
    assert (new_dir / copied.acts[0].references[0].path).resolve() == (old_dir / "media/cat.jpg").resolve()

    target = History(Project(acts=[Act(id="x", duration_frames=4)]))
    _execute_and_check_undo(target, PasteActs(list(copied.acts), 1, list(copied.templates)))
    assert [t.key for t in target.project.templates] == [("noir", 1)]
    target.undo()
    assert target.project.templates == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "does not hold copied acts"),
        ('{"acts": []}', "does not hold copied acts"),
        (
            f'{{"format": "application/x-storybeat-acts", "schema_version": {SCHEMA_VERSION}, '
            '"project_dir": "/", "acts": [{"duration_frames": 0}]}',
            "field 'acts.0.duration_frames'",
        ),
        ('{"format": "application/x-storybeat-acts", "schema_version": 99}', "another Storybeat version"),
    ],
)
def test_text_that_is_not_copied_acts_is_refused(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(EditError, match=message):
        decode_acts(text, tmp_path)


def _styled_source() -> Act:
    return Act(
        id="src",
        duration_frames=5,
        style_prompt="film noir",
        negative_prompt="colour",
        motion=MotionSettings(camera=CameraMove.pan_left, intensity=0.9, audio_reactivity=0.4, path_end=0.5),
        grade=GradeSettings(saturation=0.0, grain=0.6, lut=MediaRef(path="noir.cube"), deflicker=0.8),
        generation=GenerationSettings(steps=30, keyframe_model="sdxl"),
        draft_backend="svd",
        final_backend="wan",
        prompt="a detective",
        seed=42,
    )


def test_paste_attributes_copies_only_the_chosen_groups() -> None:
    project = _project()
    project.act("b").motion = MotionSettings(path_start=0.5)  # the second part of a split act
    history = History(project)
    source = _styled_source()
    command = PasteAttributes(["b", "c"], source, frozenset({AttributeGroup.motion, AttributeGroup.look}))
    _execute_and_check_undo(history, command)
    for act_id in ("b", "c"):
        act = history.project.act(act_id)
        assert act.motion.camera is CameraMove.pan_left and act.motion.intensity == 0.9
        assert act.motion.audio_reactivity == 0.4
        assert act.style_prompt == "film noir" and act.negative_prompt == "colour"
        assert act.grade.saturation == 0.0 and act.grade.grain == 0.6
        assert act.grade.lut == MediaRef(path="noir.cube")
        assert act.grade.deflicker == 0.0  # a repair, not part of the look
        assert act.generation == GenerationSettings() and act.draft_backend == "motion"
        assert act.prompt == "" and act.seed == 0
    # Where a split part lies in its move stays the target's own.
    assert history.project.act("b").motion.path_start == 0.5
    assert history.project.act("b").motion.path_end == 1.0
    assert history.project.act("a").style_prompt == ""
    assert history.undo_label == "Paste attributes"


def test_paste_attributes_generation_copies_settings_and_backends_only() -> None:
    history = History(_project())
    _execute_and_check_undo(
        history, PasteAttributes(["a"], _styled_source(), frozenset({AttributeGroup.generation}))
    )
    act = history.project.act("a")
    assert act.generation == GenerationSettings(steps=30, keyframe_model="sdxl")
    assert (act.draft_backend, act.final_backend) == ("svd", "wan")
    assert act.motion == MotionSettings() and act.grade == GradeSettings() and act.style_prompt == ""


def test_paste_attributes_without_groups_is_refused() -> None:
    history = History(_project())
    with pytest.raises(EditError, match="at least one group"):
        history.execute(PasteAttributes(["a"], _styled_source(), frozenset()))
