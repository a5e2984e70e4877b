"""The command line contract: commands, JSON output, exit statuses and one-line errors on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from app.cli import run
from app.model.project_file import load_project
from tests.engine.audio_fixtures import drum_track, write_wav

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
ROOT = DEMO.parents[1]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    track = drum_track(120, 12.0, sample_rate=22050)
    write_wav(folder / "song.wav", track.samples, track.sample_rate)
    write_wav(folder / "silence.wav", np.zeros(22050 * 5), 22050)
    for photo in sorted(DEMO.glob("0*.jpg"))[:2]:
        shutil.copy(photo, folder / photo.name)
    (folder / "fake.png").write_text("this is not an image")
    (folder / "notes.wav").write_text("this is not audio")
    return folder


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


@pytest.mark.slow
def test_new_then_render_a_beat_cut_video(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_path = tmp_path / "film.storybeat"
    images = sorted(media.glob("0*.jpg"))
    status = run(
        [
            "new",
            str(project_path),
            "--audio",
            str(media / "song.wav"),
            "--image",
            str(images[0]),
            "--image",
            str(images[1]),
            "--prompt",
            "dawn",
            "--size",
            "160x96",
            "--fps",
            "24",
            "--beats-per-act",
            "4",
            "--json",
        ]
    )
    assert status == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["acts"] == 2 and abs(summary["tempo"] - 120) < 1.5
    project = load_project(project_path)
    # Cuts every 4 beats (2 s at 120 BPM) counted from the first downbeat; the first act holds the pickup.
    cut = project.cut_frames()[0] / 24
    assert abs(cut - (project.beats.downbeats[0] + 2.0)) < 1.5 / 24
    assert abs(project.acts[1].duration_frames - 48) <= 2
    assert project.audio and project.acts[0].prompt == "dawn"

    out = tmp_path / "film.mp4"
    assert run(["render", str(project_path), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.width == 160
        assert container.streams.audio


@pytest.mark.slow
def test_new_with_a_pacing_preset_cuts_on_beats_over_the_whole_song(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project_path = tmp_path / "paced.storybeat"
    args = ["new", str(project_path), "--audio", str(media / "song.wav"), "--size", "160x96"]
    prompts = [arg for i in range(3) for arg in ("--prompt", f"scene {i}")]
    assert run([*args, *prompts, "--pacing", "every-4-beats"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out.splitlines()
    project = load_project(project_path)
    beats = project.beats.beat_frames(project.settings.fps)
    assert len(project.acts) == 3
    assert all(cut in beats for cut in project.cut_frames())
    # The 12 s song at 120 BPM (24 beats, the first 0.3 s in) has 5 slots of 4 beats and one of 3 plus the
    # lead-in: the 3 acts take two slots each instead of the last act taking whatever the first two leave.
    assert project.duration_frames == 12 * 24
    assert [act.duration_frames for act in project.acts][:2] == [7 + 96, 96]
    # `new` first cut every 8 beats (--beats-per-act's default): only the last act changes length
    assert printed[-1] == "Cut every 4 beats: 1 act re-timed, 3 more acts would cover the song"

    assert run([*args, *prompts, "--pacing", "every-4-beats", "--force", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["acts_needed"] == 3 and summary["pacing_summary"] == printed[-1]


def test_new_refuses_an_unknown_pacing_preset(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["new", str(tmp_path / "x.storybeat"), "--audio", str(media / "song.wav"), "--prompt", "a"]
    assert run([*args, "--pacing", "whenever"]) == 2
    _one_line_error(capsys, "whenever")
    assert not (tmp_path / "x.storybeat").exists()


@pytest.mark.slow
def test_beats_json_contract(media: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["beats", str(media / "song.wav"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"tempo", "beats", "downbeats"}
    assert abs(result["tempo"] - 120) < 1.2
    assert result["beats"] == sorted(result["beats"])
    assert set(result["downbeats"]) <= set(result["beats"])


def test_render_png_sequence_and_prores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "tiny.storybeat"
    photo = shutil.copy(DEMO / "02_chelsea.jpg", tmp_path / "cat.jpg")
    project.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "settings": {"fps": "12", "width": 64, "height": 48},
                "acts": [{"name": "Cat", "duration_frames": 6, "references": [{"path": Path(photo).name}]}],
            }
        )
    )
    assert run(["render", str(project), "-o", str(tmp_path / "frames"), "--format", "png"]) == 0
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 6
    assert run(["render", str(project), "-o", str(tmp_path / "film.mov"), "--format", "mov"]) == 0
    with av.open(str(tmp_path / "film.mov")) as container:
        assert container.streams.video[0].codec_context.name == "prores"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--image", "{media}/missing.jpg"],
            "missing.jpg",
        ),
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--image", "{media}/fake.png"],
            "fake.png",
        ),
        (["new", "{tmp}/a.storybeat", "--audio", "{media}/notes.wav", "--prompt", "x"], "notes.wav"),
        (["new", "{tmp}/a.storybeat", "--audio", "{media}/silence.wav", "--prompt", "x"], "silent"),
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--prompt", "x", "--size", "10x10"],
            "size",
        ),
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--prompt", "x", "--size", "wide"],
            "size",
        ),
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--prompt", "x", "--fps", "0"],
            "frame rate",
        ),
        (
            ["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav", "--prompt", "x", "--fps", "1000"],
            "frame rate",
        ),
        (["new", "{tmp}/a.storybeat", "--audio", "{media}/song.wav"], "--image or --prompt"),
        (["new", "{tmp}/nofolder/a.storybeat", "--audio", "{media}/song.wav", "--prompt", "x"], "nofolder"),
        (["render", "{tmp}/absent.storybeat", "-o", "{tmp}/x.mp4"], "absent.storybeat"),
        (["render", "{media}/song.wav", "-o", "{tmp}/x.mp4"], "song.wav"),
        (["render"], "required"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], expected: str, media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(tmp=tmp_path, media=media) for a in args]
    assert run(argv) == 2
    _one_line_error(capsys, expected)
    assert not (tmp_path / "a.storybeat").exists()
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.jpg", b"shot list: dawn, noon, dusk\n", "notes.jpg: not an image: text data"),
        ("page.jpg", b"<!DOCTYPE html><html><body>404</body></html>", "page.jpg: not an image: an HTML page"),
        ("cut.jpg", (DEMO / "02_chelsea.jpg").read_bytes()[:9000], "cut.jpg: truncated JPEG"),
    ],
)
def test_new_refuses_an_image_that_is_not_one_before_analysing_the_music(
    name: str,
    content: bytes,
    expected: str,
    media: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = tmp_path / name
    image.write_bytes(content)

    def no_analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("the music was analysed before the images were checked")

    monkeypatch.setattr("app.engine.audio.beats.analyze_beats", no_analysis)
    project = tmp_path / "a.storybeat"
    assert run(["new", str(project), "--audio", str(media / "song.wav"), "--image", str(image)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and expected in err and str(image) in err, err
    assert not project.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{oops", "not valid JSON"),
        ('{"schema_version": 2, "acts": [{"duration_frames": "long"}]}', "acts.0.duration_frames"),
        ('{"schema_version": 7}', "newer Storybeat"),
        (
            '{"schema_version": 2, "acts": [{"duration_frames": 5, "references": [{"path": "gone.jpg"}]}]}',
            "gone.jpg",
        ),
    ],
)
def test_bad_project_files_exit_2_and_are_not_touched(
    content: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "bad.storybeat"
    project.write_text(content)
    out = tmp_path / "out.mp4"
    assert run(["render", str(project), "-o", str(out)]) == 2
    _one_line_error(capsys, expected)
    assert project.read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.storybeat"]


def test_output_into_a_missing_or_unusable_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    for out in (tmp_path / "missing" / "film.mp4", not_a_folder / "film.mp4"):
        assert run(["render", str(DEMO / "demo.storybeat"), "-o", str(out)]) == 2
        _one_line_error(capsys, str(out.parent))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_an_unusable_cache_folder_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("STORYBEAT_CACHE_DIR", str(blocker / "cache"))
    assert run(["render", str(DEMO / "demo.storybeat"), "-o", str(tmp_path / "o.mp4"), "--draft"]) == 2
    _one_line_error(capsys, "cache")


def test_new_refuses_to_overwrite_an_existing_project(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "film.storybeat"
    existing.write_text("precious")
    assert run(["new", str(existing), "--audio", str(media / "song.wav"), "--prompt", "x"]) == 2
    _one_line_error(capsys, "already exists")
    assert existing.read_text() == "precious"


def test_console_script_exit_status_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "render",
            str(tmp_path / "nope.storybeat"),
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert "nope.storybeat" in result.stderr and "Traceback" not in result.stderr
    help_result = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert help_result.returncode == 0 and "render" in help_result.stdout
