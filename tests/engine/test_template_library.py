"""The template library: folder validation, built-in + user listing with shadowing, search, the user's
changes (save, duplicate, edit with version bumps, rename, tags, thumbnail, delete), embedding into a project
and making a template from acts."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.engine.templates.library import (
    BUILTIN_DIR,
    TemplateLibrary,
    embed_template,
    load_template_folder,
    template_files_from_act,
    template_from_acts,
    user_templates_dir,
)
from app.errors import InputError
from app.model.act import Act, CameraMove, GradeSettings, MotionSettings
from app.model.media import MediaRef
from app.model.template import EmbeddedTemplate, Template, template_values, with_path

# -- fixtures made in code, shared with the bundle and CLI tests ---------------------------------------------


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> bytes:
    """A small solid PNG of RGB `color`, `size` = (width, height)."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = color[::-1]  # cv2 writes BGR
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def cube_text(cast: float = 0.1) -> str:
    """A 2-point 3D LUT that lifts the red channel by `cast`."""
    rows = [
        f"{min(1.0, r + cast):.4f} {g:.4f} {b:.4f}"
        for b in (0.0, 1.0)
        for g in (0.0, 1.0)
        for r in (0.0, 1.0)
    ]
    return "LUT_3D_SIZE 2\n" + "\n".join(rows) + "\n"


def write_template(
    folder: Path, *, lut: bool = False, references: int = 0, thumbnail: bool = True, **fields: Any
) -> Path:
    """A template folder `folder` (its name is the id) holding template.json and the files it names."""
    folder.mkdir(parents=True)
    data: dict[str, Any] = {"format_version": 1, "id": folder.name, "name": folder.name.title(), **fields}
    if lut:
        data["lut"] = "look.cube"
        (folder / "look.cube").write_text(cube_text())
    data["references"] = [f"ref{i}.png" for i in range(references)]
    for i, name in enumerate(data["references"]):
        (folder / name).write_bytes(png_bytes((40 * i, 100, 200)))
    if thumbnail:
        (folder / "thumbnail.png").write_bytes(png_bytes((200, 50, 50)))
    (folder / "template.json").write_text(json.dumps(data, indent=2))
    return folder


def listing(root: Path) -> list[str]:
    """Every path under `root`, relative and sorted (to compare a folder before and after)."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


@pytest.fixture
def library(tmp_path: Path) -> TemplateLibrary:
    return TemplateLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "data" / "templates")


# -- reading folders -----------------------------------------------------------------------------------------


def test_a_valid_folder_loads_with_its_files(tmp_path: Path) -> None:
    folder = write_template(
        tmp_path / "noir",
        lut=True,
        references=2,
        tags=["Dark", "film "],
        motion={"camera": "pan_left", "intensity": 0.8},
        pacing={"preset": "every-2-beats", "transition": {"kind": "crossfade", "frames": 6}},
    )
    template = load_template_folder(folder)
    assert template.id == "noir" and template.tags == ("dark", "film")
    assert template.motion.camera is CameraMove.pan_left and template.motion.intensity == 0.8
    assert template.pacing.preset == "every-2-beats" and template.pacing.transition.frames == 6
    assert template.files() == ["ref0.png", "ref1.png", "look.cube", "thumbnail.png"]


def test_a_missing_thumbnail_is_allowed_but_no_other_named_file(tmp_path: Path) -> None:
    folder = write_template(tmp_path / "plain", references=1, thumbnail=False)
    assert load_template_folder(folder).thumbnail == "thumbnail.png"
    (folder / "ref0.png").unlink()
    with pytest.raises(InputError, match=r"template plain: ref0\.png is named in template\.json but missing"):
        load_template_folder(folder)


def _break_json(folder: Path) -> None:
    (folder / "template.json").write_text("{ not json")


def _break_field(folder: Path) -> None:
    data = json.loads((folder / "template.json").read_text())
    (folder / "template.json").write_text(json.dumps({**data, "motion": {"intensity": 7}}))


def _break_id(folder: Path) -> None:
    data = json.loads((folder / "template.json").read_text())
    (folder / "template.json").write_text(json.dumps({**data, "id": "other"}))


def _break_image(folder: Path) -> None:
    (folder / "ref0.png").write_text("not a picture")


def _break_lut(folder: Path) -> None:
    (folder / "look.cube").write_text("LUT_1D_SIZE 2\n0 0 0\n1 1 1\n")


def _add_code(folder: Path) -> None:
    (folder / "setup.py").write_text("print('hi')")


def _add_link(folder: Path) -> None:
    (folder / "ref0.png").unlink()
    (folder / "ref0.png").symlink_to(folder / "thumbnail.png")


def _add_subfolder(folder: Path) -> None:
    (folder / "more").mkdir()


def _newer_format(folder: Path) -> None:
    data = json.loads((folder / "template.json").read_text())
    (folder / "template.json").write_text(json.dumps({**data, "format_version": 99}))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_break_json, "template.json is not valid JSON"),
        (_break_field, "field motion.intensity: must be 1.0 or less, not 7"),
        (_break_id, "has id 'other'; it must match the folder name"),
        (_break_image, "ref0.png: not an image"),
        (_break_lut, "1D LUTs are not supported"),
        (_add_code, "setup.py: file type not allowed"),
        (_add_link, "ref0.png is not a plain file"),
        (_add_subfolder, "more is not a plain file"),
        (_newer_format, "field format_version: format 99 is newer"),
    ],
)
def test_a_broken_folder_is_refused_and_reported_by_the_library(
    library: TemplateLibrary, damage: Any, expected: str
) -> None:
    write_template(library.builtin_dir / "good")
    broken = write_template(library.user_dir / "broken", lut=True, references=1)
    damage(broken)
    with pytest.raises(InputError, match=r"^template broken: ") as error:
        load_template_folder(broken)
    assert expected in str(error.value) and "\n" not in str(error.value)

    assert [entry.template.id for entry in library.all()] == ["good"]
    assert len(library.problems) == 1 and expected in library.problems[0]
    with pytest.raises(InputError, match=re.escape(expected.split(":")[0])):
        library.get("broken")


def test_the_built_in_library_loads_without_problems(tmp_path: Path) -> None:
    library = TemplateLibrary(user_dir=tmp_path / "none")
    assert library.builtin_dir == BUILTIN_DIR and BUILTIN_DIR.name == "templates"
    entries = library.all()
    assert library.problems == []
    assert all(entry.builtin for entry in entries)


def test_the_user_folder_follows_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STORYBEAT_DATA_DIR", str(tmp_path / "elsewhere"))
    assert user_templates_dir() == tmp_path / "elsewhere" / "templates"
    assert TemplateLibrary().user_dir == tmp_path / "elsewhere" / "templates"


# -- listing, shadowing, search ------------------------------------------------------------------------------


def test_a_user_template_shadows_the_built_in_with_its_id(library: TemplateLibrary) -> None:
    write_template(library.builtin_dir / "noir", name="Noir")
    write_template(library.builtin_dir / "pastel", name="Dreamy pastel")
    write_template(library.user_dir / "noir", name="Noir (newer)", version=2)
    entries = library.all()
    assert [(entry.template.id, entry.builtin) for entry in entries] == [("pastel", True), ("noir", False)]
    noir = library.get("noir")
    assert noir.template.version == 2 and noir.folder == library.user_dir / "noir"
    assert noir.thumbnail_path == library.user_dir / "noir" / "thumbnail.png"

    library.delete("noir")
    assert library.get("noir").builtin and library.get("noir").template.version == 1


def test_get_names_the_id_and_the_choices(library: TemplateLibrary) -> None:
    write_template(library.builtin_dir / "noir")
    write_template(library.user_dir / "mine")
    with pytest.raises(InputError, match=r"no template 'nope' \(available: mine, noir\)"):
        library.get("nope")


def test_search_matches_text_anywhere_and_requires_every_tag(library: TemplateLibrary) -> None:
    write_template(
        library.builtin_dir / "noir", name="Noir", tags=["dark", "film"], description="Hard shadows"
    )
    write_template(library.builtin_dir / "vhs", name="Retro VHS", tags=["retro", "film"])
    write_template(library.user_dir / "dusk", name="Dusk", tags=["dark"], style_prompt="golden hour haze")
    ids = lambda entries: [entry.template.id for entry in entries]  # noqa: E731
    assert ids(library.search("SHADOW")) == ["noir"]
    assert ids(library.search("retro")) == ["vhs"]
    assert ids(library.search("Golden")) == ["dusk"]
    assert ids(library.search(tags=["film"])) == ["noir", "vhs"]
    assert ids(library.search(tags=["film", "dark"])) == ["noir"]
    assert ids(library.search("hour", tags=["film"])) == []
    assert ids(library.search()) == ["dusk", "noir", "vhs"]
    assert library.tags() == ["dark", "film", "retro"]


def test_new_ids_are_slugs_not_in_use(library: TemplateLibrary) -> None:
    write_template(library.builtin_dir / "noir")
    (library.user_dir / "noir-2").mkdir(parents=True)  # a broken folder still takes its name
    assert library.new_id("Noir") == "noir-3"
    assert library.new_id("  Café au lait! ") == "cafe-au-lait"
    assert library.new_id("!!!") == "template"
    assert len(library.new_id("x" * 200)) <= 64


# -- the user's changes --------------------------------------------------------------------------------------


def test_save_writes_the_folder_with_its_files(library: TemplateLibrary, tmp_path: Path) -> None:
    lut = tmp_path / "grade.cube"
    lut.write_text(cube_text(0.3))
    template = Template(id="mine", name="Mine", lut="look.cube", tags=("warm",))
    entry = library.save(template, {"look.cube": lut})
    assert entry.folder == library.user_dir / "mine" and not entry.builtin
    assert sorted(path.name for path in entry.folder.iterdir()) == ["look.cube", "template.json"]
    assert (entry.folder / "look.cube").read_bytes() == lut.read_bytes()
    assert load_template_folder(entry.folder) == template
    assert entry.thumbnail_path is None
    with pytest.raises(InputError, match=r"'other\.png' is not a file the template names"):
        library.save(template, {"other.png": lut})


def test_a_failed_save_leaves_the_installed_folder_and_nothing_else(
    library: TemplateLibrary, tmp_path: Path
) -> None:
    installed = library.save(Template(id="mine", name="Mine"))
    before = listing(library.user_dir.parent)
    broken = Template(id="mine", name="Mine 2", references=("frame.png",))
    not_an_image = tmp_path / "frame.png"
    not_an_image.write_text("text")
    with pytest.raises(InputError, match=r"frame\.png: not an image"):
        library.save(broken, {"frame.png": not_an_image})
    assert listing(library.user_dir.parent) == before
    assert library.get("mine").template == installed.template


def test_duplicate_edit_rename_tag_and_delete(library: TemplateLibrary) -> None:
    write_template(library.builtin_dir / "noir", lut=True, references=1, name="Noir", version=3)
    copy = library.duplicate("noir", "My Noir")
    assert (copy.template.id, copy.template.name, copy.template.version) == ("my-noir", "My Noir", 1)
    assert not copy.builtin
    for name in ("look.cube", "ref0.png", "thumbnail.png", "template.json"):
        assert (copy.folder / name).is_file(), name
    for name in ("look.cube", "ref0.png", "thumbnail.png"):
        assert (copy.folder / name).read_bytes() == (library.builtin_dir / "noir" / name).read_bytes()

    edited = library.edit("my-noir", motion=MotionSettings(camera=CameraMove.dolly_in), realism=0.4)
    assert edited.template.version == 2 and edited.template.motion.camera is CameraMove.dolly_in
    assert edited.template.realism == 0.4 and edited.template.lut == "look.cube"
    assert library.get("my-noir").template == edited.template

    renamed = library.rename("my-noir", "Noir, my way")
    assert (renamed.template.id, renamed.template.name, renamed.template.version) == (
        "my-noir",
        "Noir, my way",
        3,
    )
    tagged = library.set_tags("my-noir", ["Night", "night ", "city lights"])
    assert tagged.template.tags == ("night", "city lights") and tagged.template.version == 4
    assert tagged.template.motion.camera is CameraMove.dolly_in  # earlier edits kept

    library.delete("my-noir")
    assert [entry.template.id for entry in library.all()] == ["noir"]
    assert not (library.user_dir / "my-noir").exists()


def test_bad_edits_are_refused_with_the_field_and_change_nothing(library: TemplateLibrary) -> None:
    library.save(Template(id="mine", name="Mine"))
    before = listing(library.user_dir.parent)
    with pytest.raises(InputError, match=r"template mine: field realism: must be 1.0 or less"):
        library.edit("mine", realism=3.0)
    with pytest.raises(InputError, match="template mine: field tags: tag '!!'"):
        library.set_tags("mine", ["!!"])
    with pytest.raises(InputError, match="version cannot be edited"):
        library.edit("mine", version=9)
    with pytest.raises(InputError, match="field color: is not a field Storybeat knows"):
        library.edit("mine", color="red")
    assert listing(library.user_dir.parent) == before
    assert library.get("mine").template.version == 1


def test_built_in_templates_cannot_be_changed(library: TemplateLibrary) -> None:
    write_template(library.builtin_dir / "noir")
    before = listing(library.builtin_dir)
    for change in (
        lambda: library.edit("noir", realism=0.5),
        lambda: library.rename("noir", "Mine"),
        lambda: library.set_tags("noir", ["x"]),
        lambda: library.delete("noir"),
        lambda: library.save_thumbnail("noir", np.zeros((4, 4, 3), np.uint8)),
    ):
        with pytest.raises(InputError, match=r"is built in .* duplicate it first"):
            change()
    assert listing(library.builtin_dir) == before
    assert not library.user_dir.exists()


def test_save_thumbnail_stores_the_rgb_image_as_png(library: TemplateLibrary) -> None:
    library.save(Template(id="mine", name="Mine", thumbnail=None))
    image = np.zeros((18, 32, 3), np.uint8)
    image[:, :16] = (255, 0, 0)  # red on the left, in RGB
    image[:, 16:] = (0, 0, 255)
    entry = library.save_thumbnail("mine", image)
    assert entry.template.thumbnail == "thumbnail.png" and entry.template.version == 1
    assert entry.thumbnail_path == entry.folder / "thumbnail.png"
    stored = cv2.imread(str(entry.thumbnail_path))
    assert stored is not None
    read = cv2.cvtColor(stored, cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(read, image)
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8 RGB"):
        library.save_thumbnail("mine", np.zeros((4, 4), np.uint8))


# -- templates and projects ----------------------------------------------------------------------------------


def test_embed_template_copies_the_files_and_hashes_them(library: TemplateLibrary, tmp_path: Path) -> None:
    write_template(library.builtin_dir / "noir", lut=True, references=2, version=2)
    entry = library.get("noir")
    project_dir = tmp_path / "project"
    project_dir.mkdir()
    embedded = embed_template(entry, project_dir)
    assert embedded.template == entry.template and embedded.key == ("noir", 2)
    refs = [embedded.lut, *embedded.references]
    assert [ref.path for ref in refs if ref] == [
        "template-assets/noir-v2/look.cube",
        "template-assets/noir-v2/ref0.png",
        "template-assets/noir-v2/ref1.png",
    ]
    for ref, name in zip(refs, ("look.cube", "ref0.png", "ref1.png"), strict=True):
        assert ref is not None
        copied = ref.resolve(project_dir)
        assert copied.read_bytes() == (entry.folder / name).read_bytes()
        assert ref.sha256 == hashlib.sha256(copied.read_bytes()).hexdigest()

    # Identical files are left alone; a file that differs is never overwritten (acts may use it): the
    # template's own copy goes beside it under a name with its hash.
    lut_copy = project_dir / "template-assets/noir-v2/look.cube"
    stamp = lut_copy.stat().st_mtime_ns
    ref_copy = project_dir / "template-assets/noir-v2/ref0.png"
    ref_copy.write_bytes(b"changed")
    again = embed_template(entry, project_dir)
    assert again.lut == embedded.lut and lut_copy.stat().st_mtime_ns == stamp
    assert ref_copy.read_bytes() == b"changed"
    assert again.references[0].path != embedded.references[0].path
    assert again.references[0].resolve(project_dir).read_bytes() == (entry.folder / "ref0.png").read_bytes()


def _applied(template: Template, **act_fields: Any) -> Act:
    act = Act(duration_frames=24, **act_fields)
    for path, value in template_values(EmbeddedTemplate(template=template)).items():
        with_path(act, path, value)
    return act


def test_template_from_one_act_inverts_what_applying_sets() -> None:
    original = Template(
        id="look",
        name="Look",
        style_prompt="ink wash",
        negative_prompt="photo",
        realism=0.35,
        motion={"camera": "pan_up", "intensity": 0.7, "audio_reactivity": 0.4, "react_release_frames": 9},
        interpolation={"generation_fps": 12, "method": "nearest"},
        pacing={"transition": {"kind": "dip", "frames": 8, "color": "#ffffff"}},
        grade={"saturation": 0.2, "contrast": 1.4, "grain": 0.3, "vignette": 0.5},
        backends={"draft": "motion", "final": "wan", "steps": 30, "guidance": 5.5},
    )
    made = template_from_acts([_applied(original, prompt="a fox")], "look", "Look")
    assert made == original.model_copy(update={"thumbnail": "thumbnail.png"})


def test_template_from_a_group_averages_differing_numbers() -> None:
    base = Template(id="base", name="Base", motion={"camera": "zoom_out"}, backends={"steps": 20})
    first = _applied(base)
    second = _applied(base)
    first.motion = first.motion.model_copy(update={"intensity": 0.2})
    second.motion = MotionSettings(camera=CameraMove.pan_left, intensity=0.6)
    first.transition = first.transition.model_copy(update={"frames": 10})
    second.transition = second.transition.model_copy(update={"frames": 14})
    first.grade = GradeSettings(stylize=0.2)
    second.grade = GradeSettings(stylize=0.6)
    second.generation = second.generation.model_copy(update={"steps": 25})
    made = template_from_acts([first, second], "group", "Group", tags=["Mine"], description="two acts")
    assert made.motion.camera is CameraMove.zoom_out  # not a number: the first act's
    assert made.motion.intensity == pytest.approx(0.4)
    assert made.pacing.transition.frames == 12 and made.pacing.preset is None
    assert made.realism == pytest.approx(0.6)
    assert made.backends.steps == 22 and isinstance(made.backends.steps, int)
    assert (made.tags, made.description, made.lut) == (("mine",), "two acts", None)
    with pytest.raises(InputError, match="no acts"):
        template_from_acts([], "x", "X")


def test_an_act_lut_travels_into_the_saved_template(library: TemplateLibrary, tmp_path: Path) -> None:
    (tmp_path / "luts").mkdir()
    (tmp_path / "luts" / "teal.cube").write_text(cube_text(0.2))
    act = Act(duration_frames=24, grade=GradeSettings(lut=MediaRef(path="luts/teal.cube")))
    template = template_from_acts([act], library.new_id("Teal"), "Teal")
    files = template_files_from_act(act, tmp_path)
    assert template.lut == "look.cube" and files == {"look.cube": tmp_path / "luts" / "teal.cube"}
    saved = library.save(template, files)
    assert (saved.folder / "look.cube").read_text() == cube_text(0.2)
    assert template_files_from_act(Act(duration_frames=1), tmp_path) == {}
    (tmp_path / "luts" / "teal.cube").unlink()
    with pytest.raises(InputError, match=r"teal\.cube: file not found"):
        template_files_from_act(act, tmp_path)


def test_saving_into_another_folder_carries_the_template_files_along(tmp_path: Path) -> None:
    from app.engine.templates.library import moved_with_template_assets
    from app.model import Project
    from app.model.history import History
    from app.model.template_commands import ApplyTemplate

    library = TemplateLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "user")
    write_template(tmp_path / "user" / "noir", lut=True, references=1)
    old_dir, new_dir = tmp_path / "scratch", tmp_path / "films"
    old_dir.mkdir()
    new_dir.mkdir()
    (old_dir / "own.png").write_bytes(png_bytes((1, 2, 3)))
    project = Project(
        acts=[
            Act(id="a", duration_frames=12),
            Act(id="b", duration_frames=12, references=[MediaRef(path="own.png")]),
        ]
    )
    History(project).execute(ApplyTemplate(["a", "b"], embed_template(library.get("noir"), old_dir)))

    moved = moved_with_template_assets(project, old_dir, new_dir)

    a, b = moved.acts
    assert a.grade.lut is not None and a.grade.lut.path == "template-assets/noir-v1/look.cube"
    assert (new_dir / a.grade.lut.path).read_bytes() == (old_dir / a.grade.lut.path).read_bytes()
    assert [ref.path for ref in a.references] == ["template-assets/noir-v1/ref0.png"]
    assert (new_dir / a.references[0].path).is_file()
    assert moved.templates == project.templates  # the embedded copy still names files beside the project
    assert b.references[0].path == "../scratch/own.png"  # other media still point at the same file


def test_embedding_never_overwrites_a_file_the_project_already_uses(tmp_path: Path) -> None:
    project_dir = tmp_path / "film"
    project_dir.mkdir()
    first = TemplateLibrary(builtin_dir=tmp_path / "b1", user_dir=tmp_path / "u1")
    write_template(tmp_path / "u1" / "noir", lut=True)
    used = embed_template(first.get("noir"), project_dir)
    assert used.lut is not None
    kept = (project_dir / used.lut.path).read_bytes()
    # Another template took the same id and version (a deleted one's, an import that replaced it).
    second = TemplateLibrary(builtin_dir=tmp_path / "b2", user_dir=tmp_path / "u2")
    write_template(tmp_path / "u2" / "noir", lut=True)
    (tmp_path / "u2" / "noir" / "look.cube").write_text(cube_text(cast=0.3))
    other = embed_template(second.get("noir"), project_dir)
    assert other.lut is not None and other.lut.path != used.lut.path
    assert (project_dir / used.lut.path).read_bytes() == kept
    assert other.lut.sha256 != used.lut.sha256
