"""Loading, validating, migrating and atomically saving project files."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from app.errors import InputError
from app.model import Act, MediaRef, Project, ProjectSettings
from app.model.commands import SplitAct
from app.model.history import History
from app.model.project import SCHEMA_VERSION
from app.model.project_file import ProjectError, dumps_project, load_project, save_project

FIXTURES = Path(__file__).parent / "fixtures"


def _project() -> Project:
    return Project(
        settings=ProjectSettings(fps=Fraction(30000, 1001), width=640, height=360),
        acts=[
            Act(name="One", duration_frames=48, prompt="dawn", references=[MediaRef(path="media/a.jpg")]),
            Act(name="Two", duration_frames=30, seed=99),
        ],
    )


def test_save_then_load_gives_the_same_document(tmp_path: Path) -> None:
    project = _project()
    path = tmp_path / "film.storybeat"
    save_project(project, path)
    loaded = load_project(path)
    assert loaded == project
    assert loaded.settings.fps == Fraction(30000, 1001)
    assert json.loads(path.read_text("utf-8"))["settings"]["fps"] == "30000/1001"
    assert dumps_project(loaded) == path.read_text("utf-8")


def test_save_keeps_one_backup_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "film.storybeat"
    first = _project()
    save_project(first, path)
    second = first.model_copy(deep=True)
    second.acts[0].prompt = "dusk"
    save_project(second, path)
    assert load_project(path).acts[0].prompt == "dusk"
    assert load_project(tmp_path / "film.storybeat.bak").acts[0].prompt == "dawn"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.storybeat", "film.storybeat.bak"]


def test_failed_save_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "film.storybeat"
    save_project(_project(), path)
    before = path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("app.model.project_file.os.replace", broken_replace)
    changed = _project()
    with pytest.raises(InputError, match="disk full"):
        save_project(changed, path)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_keeps_the_file_mode_and_refuses_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "film.storybeat"
    save_project(_project(), path)
    path.chmod(0o664)
    save_project(_project(), path)
    assert path.stat().st_mode & 0o777 == 0o664
    (tmp_path / "folder.storybeat").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        save_project(_project(), tmp_path / "folder.storybeat")


def test_duplicate_act_ids_are_refused_on_load(tmp_path: Path) -> None:
    path = tmp_path / "twins.storybeat"
    acts = [{"id": "x", "duration_frames": 5}, {"id": "x", "duration_frames": 6}]
    path.write_text(json.dumps({"schema_version": 2, "acts": acts}))
    with pytest.raises(ProjectError, match="duplicate act ids"):
        load_project(path)


def test_save_into_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        save_project(_project(), tmp_path / "nope" / "film.storybeat")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"schema_version": 99}', "newer Storybeat"),
        ('{"schema_version": "two"}', "schema_version"),
        ('{"schema_version": 2, "acts": [{"duration_frames": "long"}]}', "acts.0.duration_frames"),
        ('{"schema_version": 2, "acts": [{"duration_frames": 0}]}', "acts.0.duration_frames"),
        ('{"schema_version": 2, "settings": {"fps": "fast"}}', "settings.fps"),
        ('{"schema_version": 2, "settings": {"width": 641}}', "settings.width"),
        ('{"schema_version": 2, "surprise": 1}', "surprise"),
        ('{"version": 1, "acts": [{"name": "x"}]}', "acts.0.seconds"),
    ],
)
def test_bad_files_raise_one_error_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.storybeat"
    path.write_text(text, "utf-8")
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            # The user's report: "Value error, …" and nothing about the second problem.
            {"schema_version": 4, "settings": {"fps": "fast"}, "acts": [{"duration_frames": 0}]},
            "field 'settings.fps': frame rate 'fast' is not a number or fraction like 30000/1001 "
            "(and 1 more problem)",
        ),
        (
            {"schema_version": 4, "acts": [{"duration_frames": 5, "seed": -3, "name": None}]},
            "field 'acts.0.name': must be text, not null (and 1 more problem)",
        ),
        (
            {"schema_version": 4, "acts": [{"duration_frames": "long"}, {"duration_frames": 2.5}, {}]},
            "field 'acts.0.duration_frames': must be a whole number, not 'long' (and 2 more problems)",
        ),
        (
            {"schema_version": 4, "acts": [{"duration_frames": 5, "transition": {"kind": "wipe"}}]},
            "field 'acts.0.transition.kind': must be one of 'cut', 'crossfade', 'flow_morph' or 'dip', "
            "not 'wipe'",
        ),
        (
            {"schema_version": 4, "settings": {"width": 641}},
            "field 'settings.width': must be a multiple of 2, not 641",
        ),
        (
            {"schema_version": 4, "surprise": 1},
            "field 'surprise': is not a field Storybeat knows (a typo, or a file from another program?)",
        ),
        ({"schema_version": 4, "acts": [{}]}, "field 'acts.0.duration_frames': is missing"),
    ],
)
def test_a_bad_field_is_one_plain_line_with_how_many_more_problems(
    tmp_path: Path, content: dict[str, object], expected: str
) -> None:
    path = tmp_path / "bad.storybeat"
    path.write_text(json.dumps(content), "utf-8")
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no such project file"):
        load_project(tmp_path / "absent.storybeat")
    binary = tmp_path / "binary.storybeat"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectError, match="cannot read"):
        load_project(binary)


def test_version_1_prototype_file_migrates_to_frames() -> None:
    project = load_project(FIXTURES / "prototype_v1.storybeat")
    assert project.schema_version == SCHEMA_VERSION  # migrated through every step
    assert project.settings.fps == Fraction(30000, 1001)
    assert (project.settings.width, project.settings.height) == (1920, 1080)
    assert [a.name for a in project.acts] == ["Opening", "Chorus"]
    # 2.0 s and 1.5 s at 29.97 fps, rounded to whole frames
    assert [a.duration_frames for a in project.acts] == [60, 45]
    assert project.acts[0].references == [MediaRef(path="media/opening.jpg")]
    assert project.acts[0].seed == 7
    assert project.audio[0].media.path == "media/song.mp3"
    project.check_consistency()


def test_a_split_act_keeps_its_stretch_of_the_camera_move_through_a_save(tmp_path: Path) -> None:
    project = _project()
    History(project).execute(SplitAct(project.acts[0].id, 2, new_id="second-part"))
    path = tmp_path / "split.storybeat"
    save_project(project, path)
    assert (
        json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION >= 4
    )  # older builds say "made by a newer one"
    reloaded = load_project(path)
    assert reloaded == project
    assert reloaded.act("second-part").motion.path_start > 0


def test_a_version_3_file_opens_with_every_act_showing_its_whole_move(tmp_path: Path) -> None:
    path = tmp_path / "v3.storybeat"
    path.write_text(json.dumps({"schema_version": 3, "acts": [{"duration_frames": 5, "motion": {}}]}))
    project = load_project(path)
    assert project.schema_version == SCHEMA_VERSION >= 4
    motion = project.acts[0].motion
    assert (motion.path_start, motion.path_end) == (0.0, 1.0)


def test_a_camera_path_that_runs_backwards_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.storybeat"
    act = {"duration_frames": 5, "motion": {"path_start": 0.8, "path_end": 0.2}}
    path.write_text(json.dumps({"schema_version": 4, "acts": [act]}))
    with pytest.raises(ProjectError, match=r"acts\.0\.motion.*path_start 0\.8 is after path_end 0\.2"):
        load_project(path)
