"""`storybeat templates` (list, show, import, export) and `storybeat new --template`, through `run`."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path

import pytest

from app.cli import run
from app.engine.templates import library as library_module
from app.model.act import CameraMove, TemplateLink, TransitionKind
from app.model.project_file import load_project
from tests.engine.audio_fixtures import drum_track, write_wav
from tests.engine.test_template_library import write_template


@pytest.fixture
def builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A built-in library of our own (the real one is filled elsewhere) and a private user library."""
    folder = tmp_path / "builtin"
    monkeypatch.setattr(library_module, "BUILTIN_DIR", folder)
    monkeypatch.setenv("STORYBEAT_DATA_DIR", str(tmp_path / "data"))
    write_template(
        folder / "noir",
        name="Noir",
        tags=["dark", "film"],
        lut=True,
        references=1,
        motion={"camera": "pan_left", "intensity": 0.9},
        grade={"saturation": 0.0, "contrast": 1.5},
        pacing={"preset": "every-2-beats", "transition": {"kind": "crossfade", "frames": 6}},
    )
    write_template(folder / "pastel", name="Dreamy pastel", tags=["soft"], thumbnail=False)
    return folder


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    track = drum_track(120, 8.0, sample_rate=22050)
    return write_wav(tmp_path_factory.mktemp("music") / "song.wav", track.samples, track.sample_rate)


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def _listed(capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, object]]:
    assert run(["templates", "list", "--json", *extra]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert isinstance(listed, list)
    return listed


def test_list_json_describes_every_template(builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pastel, noir = _listed(capsys)
    assert noir == {
        "id": "noir",
        "name": "Noir",
        "version": 1,
        "tags": ["dark", "film"],
        "description": "",
        "thumbnail": str(builtin / "noir" / "thumbnail.png"),
        "builtin": True,
        "folder": str(builtin / "noir"),
    }
    assert pastel["id"] == "pastel" and pastel["thumbnail"] is None
    assert [item["id"] for item in _listed(capsys, "--tag", "dark")] == ["noir"]
    assert [item["id"] for item in _listed(capsys, "--search", "DREAMY")] == ["pastel"]

    assert run(["templates", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "pastel: Dreamy pastel v1  [soft]  (built-in)",
        "noir: Noir v1  [dark, film]  (built-in)",
    ]


def test_list_warns_about_broken_folders_on_stderr(builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (builtin / "broken").mkdir()
    assert [item["id"] for item in _listed(capsys)] == ["pastel", "noir"]
    assert run(["templates", "list", "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: skipped built-in template broken: no template.json" in captured.err
    assert len(json.loads(captured.out)) == 2


def test_show_prints_the_settings(builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["templates", "show", "noir", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "noir" and shown["builtin"] is True
    assert shown["template"]["motion"]["camera"] == "pan_left"
    assert (
        shown["template"]["pacing"]["preset"] == "every-2-beats" and shown["template"]["lut"] == "look.cube"
    )

    assert run(["templates", "show", "noir"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("noir: Noir v1  [dark, film]  (built-in)\n")
    assert "camera=pan_left intensity=0.9" in out and "preset=every-2-beats kind=crossfade frames=6" in out


def test_unknown_ids_and_bad_arguments_exit_2_with_one_line(
    builtin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["templates", "show", "nope"]) == 2
    _one_line_error(capsys, "no template 'nope' (available: noir, pastel)")
    assert run(["templates", "export", "nope", str(tmp_path / "x.zip")]) == 2
    _one_line_error(capsys, "no template 'nope'")
    assert run(["templates", "export", "noir", str(tmp_path / "missing" / "x.zip")]) == 2
    _one_line_error(capsys, "folder does not exist")
    assert run(["templates", "import", str(tmp_path / "absent.zip")]) == 2
    _one_line_error(capsys, "absent.zip: no such file")
    assert run(["templates", "frobnicate"]) == 2
    _one_line_error(capsys, "invalid choice: 'frobnicate'")


def test_export_then_import_through_the_cli(
    builtin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "noir.zip"
    assert run(["templates", "export", "noir", str(bundle), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": "noir", "version": 1, "output": str(bundle)}
    with zipfile.ZipFile(bundle) as archive:
        assert "noir/template.json" in archive.namelist()

    assert run(["templates", "import", str(bundle)]) == 2
    _one_line_error(capsys, "'noir' is installed already (version 1)")
    assert run(["templates", "import", str(bundle), "--replace", "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    user_folder = tmp_path / "data" / "templates" / "noir"
    assert imported["builtin"] is False and imported["folder"] == str(user_folder)
    assert [(item["id"], item["builtin"]) for item in _listed(capsys)] == [("pastel", True), ("noir", False)]

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../evil.json", "{}")
    assert run(["templates", "import", str(evil)]) == 2
    _one_line_error(capsys, "evil.zip: entry '../evil.json': '..' is refused")


def test_new_with_a_template_applies_it_to_every_act(
    builtin: Path, song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_path = tmp_path / "film" / "noir.storybeat"
    project_path.parent.mkdir()
    args = [
        "new",
        str(project_path),
        "--audio",
        str(song),
        "--size",
        "160x96",
        "--template",
        "noir",
        "--json",
    ]
    assert run([*args, "--prompt", "a", "--prompt", "b", "--prompt", "c"]) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["template"] == "noir v1" and summary["pacing"] == "every-2-beats"

    project = load_project(project_path)
    [embedded] = project.templates
    assert embedded.key == ("noir", 1) and embedded.lut is not None
    assert (
        embedded.lut.resolve(project_path.parent).read_bytes()
        == (builtin / "noir" / "look.cube").read_bytes()
    )
    for act in project.acts:
        assert act.template == TemplateLink(id="noir", version=1)
        assert act.motion.camera is CameraMove.pan_left and act.motion.intensity == 0.9
        assert act.grade.saturation == 0.0 and act.grade.lut == embedded.lut
        assert act.transition.kind is TransitionKind.crossfade and act.transition.frames == 6
        assert act.references == list(embedded.references)  # prompt-only acts get the template's frames
    # The template's pacing: a cut every 2 beats (24 frames at 120 BPM and 24 fps) makes 8 slots of the 8 s
    # song (the first beat, 0.3 s in, is too early for a cut); the 3 acts take 3, 2 and 3 of them.
    cuts = project.cut_frames()
    assert set(cuts) <= set(project.beats.beat_frames(project.settings.fps))
    assert [b - a for a, b in itertools.pairwise(cuts)] == [48]
    assert project.duration_frames == 8 * 24
    assert summary["acts_needed"] == 5 and summary["pacing_summary"].startswith("Cut every 2 beats: ")


def test_new_pacing_beats_the_template_preset_and_unknown_templates_fail_fast(
    builtin: Path, song: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_path = tmp_path / "paced.storybeat"
    prompts = [arg for name in "abc" for arg in ("--prompt", name)]
    args = ["new", str(project_path), "--audio", str(song), "--size", "160x96", *prompts]
    assert run([*args, "--template", "noir", "--pacing", "every-4-beats"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "pacing every-4-beats" in out and "template noir v1" in out
    project = load_project(project_path)
    assert all(act.template == TemplateLink(id="noir", version=1) for act in project.acts)
    # 4 slots of 4 beats for 3 acts: the middle act takes two of them
    cuts = project.cut_frames()
    assert [b - a for a, b in itertools.pairwise(cuts)] == [96]
    assert "Cut every 4 beats: " in out and "1 more act would cover the song" in out

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args[1] = str(elsewhere / "missing.storybeat")
    assert run([*args, "--template", "nope"]) == 2
    _one_line_error(capsys, "no template 'nope'")
    assert list(elsewhere.iterdir()) == []
