"""The built-in template library in templates/: every template valid, each with its own character, visibly
different from the others when applied to the same act, and with a thumbnail the engine still renders."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from app.engine.grade import load_cube_lut
from app.engine.templates.library import TEMPLATE_FILE, TemplateLibrary, load_template_folder
from app.model.act import InterpolationMethod, TransitionKind
from app.model.pacing import PRESETS, parse_pacing
from app.model.template import TEMPLATE_FORMAT_VERSION, Template

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "templates"
REQUIRED_IDS = {
    "documentary",
    "painterly",
    "anime-cel",
    "noir",
    "dreamy-pastel",
    "retro-vhs",
    "music-video",
    "slow-cinematic",
}
#: Mean absolute difference (8-bit levels) two looks must at least differ by on the same act.
MIN_LOOK_DIFFERENCE = 6.0
#: A committed thumbnail may differ from a fresh render by rounding only (another OpenCV build, CPU).
MAX_THUMBNAIL_DRIFT = 1.0


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_thumbnails", BUILTIN_DIR / "make_thumbnails.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _load_script()
FOLDERS: list[Path] = SCRIPT.template_folders()


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return {folder.name: load_template_folder(folder) for folder in FOLDERS}


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """Every built-in applied to the same demo act and rendered by the engine (as its thumbnail is)."""
    return {
        folder.name: SCRIPT.render_thumbnail(folder, tmp_path_factory.mktemp(folder.name))
        for folder in FOLDERS
    }


def test_the_library_has_the_required_looks_and_loads_without_problems(tmp_path: Path) -> None:
    assert len(FOLDERS) >= 8
    assert {folder.name for folder in FOLDERS} >= REQUIRED_IDS
    library = TemplateLibrary(builtin_dir=BUILTIN_DIR, user_dir=tmp_path / "user")
    entries = library.all()
    assert library.problems == []
    assert sorted(entry.template.id for entry in entries) == sorted(folder.name for folder in FOLDERS)
    assert all(entry.builtin for entry in entries)


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_each_template_is_complete_and_names_only_files_it_ships(folder: Path) -> None:
    template = load_template_folder(folder)
    assert template.id == folder.name
    assert template.format_version == TEMPLATE_FORMAT_VERSION and template.version >= 1
    assert template.name and template.description and template.style_prompt and template.negative_prompt
    assert template.tags
    # Nothing in the folder but template.json and the files it names, all present.
    assert sorted(item.name for item in folder.iterdir()) == sorted([TEMPLATE_FILE, *template.files()])
    assert template.thumbnail is not None
    thumbnail = cv2.imread(str(folder / template.thumbnail))
    assert thumbnail is not None and thumbnail.shape == (180, 320, 3)
    if template.lut is not None:
        assert load_cube_lut(folder / template.lut).size >= 17
    if template.pacing.preset is not None:
        # The schema only checks the preset's name; the parameters must suit the preset too.
        preset, params = parse_pacing(template.pacing.preset)
        assert set(params) <= set(PRESETS[preset][1])
    assert template.backends.steps is not None and template.backends.guidance is not None


def test_each_template_has_its_own_settings(templates: dict[str, Template]) -> None:
    def character(template: Template) -> tuple[object, ...]:
        return template.motion, template.interpolation, template.pacing, template.grade, template.realism

    for (first, a), (second, b) in itertools.combinations(templates.items(), 2):
        assert character(a) != character(b), f"{first} and {second} set the same values"
        assert a.style_prompt != b.style_prompt, f"{first} and {second} share a style prompt"


def test_the_named_looks_have_their_defining_traits(templates: dict[str, Template]) -> None:
    assert templates["noir"].grade.saturation == 0.0 and templates["noir"].grade.contrast > 1.2
    anime = templates["anime-cel"]
    assert anime.realism < 0.3 and anime.interpolation.generation_fps == 12
    assert anime.interpolation.method == InterpolationMethod.nearest
    assert templates["painterly"].realism < 1.0
    assert templates["dreamy-pastel"].interpolation.method == InterpolationMethod.blend
    assert templates["dreamy-pastel"].grade.contrast < 1.0
    vhs = templates["retro-vhs"]
    assert vhs.lut is not None and vhs.grade.grain > 0 and vhs.grade.vignette > 0
    assert vhs.interpolation.generation_fps == 15
    music = templates["music-video"]
    assert music.motion.audio_reactivity > 0.5 and music.pacing.preset == "every-2-beats"
    cinematic = templates["slow-cinematic"]
    assert cinematic.pacing.preset is not None and cinematic.pacing.preset.startswith(
        ("structure", "downbeats")
    )
    assert cinematic.pacing.transition.kind == TransitionKind.crossfade


def test_any_two_templates_look_different_on_the_same_act(renders: dict[str, np.ndarray]) -> None:
    for (first, a), (second, b) in itertools.combinations(renders.items(), 2):
        difference = float(np.abs(a.astype(float) - b).mean())
        assert difference > MIN_LOOK_DIFFERENCE, f"{first} and {second} differ by {difference:.1f} levels"


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_the_committed_thumbnail_is_what_the_engine_renders(
    folder: Path, renders: dict[str, np.ndarray], templates: dict[str, Template]
) -> None:
    thumbnail_name = templates[folder.name].thumbnail
    assert thumbnail_name is not None
    committed = cv2.imread(str(folder / thumbnail_name))
    assert committed is not None
    drift = float(
        np.abs(cv2.cvtColor(committed, cv2.COLOR_BGR2RGB).astype(float) - renders[folder.name]).mean()
    )
    assert drift < MAX_THUMBNAIL_DRIFT, (
        f"{folder.name}: the thumbnail is out of date ({drift:.1f} levels off): "
        "run python templates/make_thumbnails.py"
    )
