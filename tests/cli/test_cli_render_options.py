"""`storybeat render --range whole|in-out --height N --crf N`: what they write; one line for bad values."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import pytest

from app.cli import run
from app.model import Act, FrameRange, MediaRef, Project, ProjectSettings
from app.model.project_file import save_project

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _project(folder: Path, in_out: FrameRange | None) -> Path:
    shutil.copy(DEMO / "02_chelsea.jpg", folder / "cat.jpg")
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=64, height=36),
        acts=[
            Act(name="Cat", duration_frames=6, references=[MediaRef(path="cat.jpg")]),
            Act(name="Lighthouse", duration_frames=6, prompt="a lighthouse"),
        ],
        in_out=in_out,
    )
    path = folder / "tiny.storybeat"
    save_project(project, path)
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_render_the_in_to_out_range_at_a_chosen_height(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, FrameRange(start=4, end=9))
    out = tmp_path / "cut.mp4"
    argv = ["render", str(project), "-o", str(out), "--range", "in-out", "--height", "72", "--crf", "30"]
    assert run([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 5
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height) == (128, 72)
        assert sum(1 for _ in container.decode(video=0)) == 5
    assert b"crf=30.0" in out.read_bytes()


def test_the_defaults_render_the_whole_film_at_the_project_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, FrameRange(start=4, end=9))  # marked, but not asked for
    out = tmp_path / "whole.mp4"
    assert run(["render", str(project), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 12
    with av.open(str(out)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (64, 36)
    assert b"crf=18.0" in out.read_bytes()


def test_in_out_without_marks_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, None)
    out = tmp_path / "cut.mp4"
    assert run(["render", str(project), "-o", str(out), "--range", "in-out"]) == 2
    _one_line_error(capsys, "tiny.storybeat", "--range in-out", "no in and out points are marked")
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--height", "361"], "height 361 must be an even number of pixels in 16..4320"),
        (["--height", "8"], "16..4320"),
        (["--height", "tall"], "height 'tall' is not a whole number"),
        (["--crf", "52"], "crf 52 is outside 0..51"),
        (["--crf", "-1"], "crf"),
        (["--range", "middle"], "--range"),
    ],
)
def test_bad_export_options_exit_2_with_one_line(
    flags: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path, None)
    out = tmp_path / "x.mp4"
    assert run(["render", str(project), "-o", str(out), *flags]) == 2
    _one_line_error(capsys, expected)
    assert not out.exists()
