"""`storybeat check PROJECT|VIDEO [--audio FILE] [--json]`, through `run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import run
from app.model.project_file import save_project
from tests.engine.test_qc_scene import three_shot_film, tiny_project, write_video

FINDING_KEYS = {"kind", "severity", "start", "end", "act", "value", "threshold", "message"}
KINDS = {"flicker", "lighting_jump", "off_beat_motion", "texture_artifacts", "reference_overfit"}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "film.mp4", three_shot_film())


def _one_line_error(capsys: pytest.CaptureFixture[str], *expected: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""
    assert err.count("\n") == 0 and err.startswith("storybeat: error: "), err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err


def test_json_report_of_a_video_follows_the_contract(video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", str(video), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar in --json mode
    report = json.loads(captured.out)
    assert set(report) == {"ok", "findings", "metrics"}
    assert report["ok"] is False  # the 30 % exposure step at 1.0 s fails
    assert report["findings"], report
    for finding in report["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["kind"] in KINDS and finding["severity"] in ("warn", "fail")
        assert finding["act"] is None  # a video has shots, not acts
        assert finding["start"] <= finding["end"] and isinstance(finding["message"], str)
    starts = [finding["start"] for finding in report["findings"]]
    assert starts == sorted(starts)
    assert any(f["kind"] == "lighting_jump" and f["severity"] == "fail" for f in report["findings"])
    assert report["metrics"]["cuts_s"] == [1.0, 2.5]


def test_text_report_prints_a_line_per_finding_and_a_summary(
    video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["check", str(video)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    *findings, summary = lines
    assert findings and all(line.startswith(("WARN", "FAIL")) for line in findings)
    assert any("lighting_jump" in line and "brighter" in line for line in findings)
    fails = sum(line.startswith("FAIL") for line in findings)
    assert summary == f"{video}: FAILED, {fails} fail, {len(findings) - fails} warn over 3.5 s"


def test_a_project_is_checked_with_its_act_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project_path = tmp_path / "tiny.storybeat"
    save_project(tiny_project(tmp_path), project_path)
    assert run(["check", str(project_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert set(report["metrics"]["still_share"]) == {"a", "b", "c"}
    assert all(finding["act"] in {"a", "b", "c"} for finding in report["findings"])
    assert report["metrics"]["beat_sync"] is True and report["metrics"]["cut_offsets"]["judged"] == 2


def test_bad_input_is_exit_2_with_one_line(
    tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.mp4"
    assert run(["check", str(missing)]) == 2
    _one_line_error(capsys, str(missing), "no such file")

    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    assert run(["check", str(text), "--json"]) == 2
    _one_line_error(capsys, str(text), "not a video")

    broken = tmp_path / "broken.storybeat"
    broken.write_text("{ not json")
    assert run(["check", str(broken)]) == 2
    _one_line_error(capsys, str(broken))

    project_path = tmp_path / "tiny.storybeat"
    save_project(tiny_project(tmp_path), project_path)
    assert run(["check", str(project_path), "--audio", str(video)]) == 2
    _one_line_error(capsys, "--audio")

    assert run(["check", str(video), "--audio", str(tmp_path / "song.wav")]) == 2
    _one_line_error(capsys, "song.wav", "no such audio file")

    assert run(["check"]) == 2
    _one_line_error(capsys, "PROJECT|VIDEO")
