"""Scene checks (lighting, beat sync, reference overfit) and shot-cut detection, on the labelled QC set and
on small films made here."""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.engine.backends.motion import MotionClip
from app.engine.cache import StageCache
from app.engine.export import ExportSettings, export_video
from app.engine.keyframe import load_image
from app.engine.qc import (
    beat_sync,
    cuts,
    flow_stats,
    lighting,
    overfit,
    qc_input_from_project,
    qc_input_from_video,
    run_checks,
)
from app.engine.qc.types import ActSpan, CheckKind, Finding, QCInput, Severity
from app.errors import InputError, MediaError
from app.model import Act, AudioClip, BeatGrid, MediaRef, Project, ProjectSettings, TemplateLink
from app.model.act import CameraMove, Easing, FitMode, MotionSettings
from tests.engine.audio_fixtures import drum_track, write_wav
from tests.engine.qc_dataset import DEMO, LabelledClip, clean_clips, defect_clips

ASTRONAUT, CAT, COFFEE, ROCKET = "01_astronaut.jpg", "02_chelsea.jpg", "03_coffee.jpg", "04_rocket.jpg"


@pytest.fixture(scope="module")
def clean() -> list[LabelledClip]:
    return clean_clips()


@pytest.fixture(scope="module")
def defects() -> list[LabelledClip]:
    return defect_clips()


@functools.cache
def _photo(name: str) -> np.ndarray:
    return load_image(DEMO / name)


def _named(clips: list[LabelledClip], prefix: str) -> list[LabelledClip]:
    chosen = [clip for clip in clips if clip.name.startswith(prefix)]
    assert chosen, prefix
    return chosen


def _overlaps(finding: Finding, clip: LabelledClip) -> bool:
    return any(finding.start < defect.end and finding.end > defect.start for defect in clip.defects)


def _shot(
    photo: str, camera: CameraMove, frames: int, width: int = 320, intensity: float = 0.7
) -> list[np.ndarray]:
    settings = MotionSettings(camera=camera, intensity=intensity, easing=Easing.linear)
    clip = MotionClip([_photo(photo)], FitMode.cover, settings, frames, width, width * 9 // 16, seed=1)
    return [clip.frame(index) for index in range(frames)]


def _film(*shots: list[np.ndarray], **fields: object) -> QCInput:
    frames = [frame for shot in shots for frame in shot]
    bounds = np.cumsum([0, *(len(shot) for shot in shots)])
    spans = [ActSpan(start=int(a), end=int(b)) for a, b in itertools.pairwise(bounds)]
    return QCInput(frames=frames, fps=Fraction(24), spans=spans, **fields)  # type: ignore[arg-type]


# -- lighting ------------------------------------------------------------------------------------------------


def test_lighting_finds_every_moderate_step_at_its_cut(defects: list[LabelledClip]) -> None:
    for clip in _named(defects, "lighting_jump/moderate/"):
        findings = lighting.check(clip.qc_input).findings
        assert findings, clip.name
        assert all(f.kind == CheckKind.lighting_jump and _overlaps(f, clip) for f in findings), clip.name
        assert all(f.value >= lighting.DELTA_E_WARN for f in findings)


def test_lighting_flags_no_clean_cut_even_between_very_different_photos(clean: list[LabelledClip]) -> None:
    for clip in clean:
        result = lighting.check(clip.qc_input)
        assert result.findings == [], clip.name
        cut_metrics = result.metrics["lighting_cuts"]
        assert len(cut_metrics) == len(clip.qc_input.cuts)
        # Cuts between two crops of one photo are judged (and measure small); the rest are other scenes.
        same_scene = [
            m["delta_e"]
            for m, span in zip(cut_metrics, clip.qc_input.spans[1:], strict=True)
            if span.template is not None
        ]
        assert all(value is not None and value < 1.5 for value in same_scene), clip.name


def test_lighting_step_measure_grows_with_the_step_and_strong_steps_fail(defects: list[LabelledClip]) -> None:
    values = {}
    for strength in ("mild", "moderate", "strong"):
        (clip,) = _named(defects, f"lighting_jump/{strength}/exposure/")
        comparisons = [m["delta_e"] for m in lighting.check(clip.qc_input).metrics["lighting_cuts"]]
        values[strength] = max(v for v in comparisons if v is not None)
    assert values["mild"] < values["moderate"] < values["strong"]
    for clip in _named(defects, "lighting_jump/strong/"):
        assert any(f.severity == Severity.fail for f in lighting.check(clip.qc_input).findings)


def test_lighting_compares_distant_spans_sharing_a_template() -> None:
    left = _shot(CAT, CameraMove.pan_right, 12)
    other = _shot(ROCKET, CameraMove.zoom_in, 12)
    brighter = [
        np.clip(frame * 1.25, 0, 255).astype(np.uint8) for frame in _shot(CAT, CameraMove.pan_left, 12)
    ]
    film = _film(left, other, brighter)
    looks = [replace(span, template="look", name=f"a{n}") for n, span in enumerate(film.spans)]
    looks[1] = replace(looks[1], template=None)
    (finding,) = lighting.check(replace(film, spans=looks)).findings
    assert finding.start == pytest.approx(1.0) and "shares template 'look'" in finding.message
    assert "brighter" in finding.message
    untouched = _film(left, other, _shot(CAT, CameraMove.pan_left, 12))
    untouched_spans = [replace(span, template="look") for span in untouched.spans]
    untouched_spans[1] = replace(untouched_spans[1], template=None)
    assert lighting.check(replace(untouched, spans=untouched_spans)).findings == []


def test_lighting_leaves_a_crossfaded_cut_alone() -> None:
    outgoing = _shot(CAT, CameraMove.pan_right, 24)
    incoming = [np.clip(f * 1.3, 0, 255).astype(np.uint8) for f in _shot(CAT, CameraMove.zoom_in, 24)]
    (finding,) = lighting.check(_film(outgoing, incoming)).findings
    assert finding.severity == Severity.fail and finding.start < 1.0 < finding.end
    # The same step under a 12-frame crossfade centred on the cut: the transition carries the eye across.
    fade = [
        cv2.addWeighted(
            outgoing[min(18 + k, 23)], 1 - (k + 0.5) / 12, incoming[max(0, k - 6)], (k + 0.5) / 12, 0
        )
        for k in range(12)
    ]
    faded = _film(outgoing[:18] + fade[:6], fade[6:] + incoming[6:])
    result = lighting.check(faded)
    assert result.findings == [] and result.metrics["lighting_cuts"] == [{"at": 1.0, "delta_e": None}]


# -- beat sync -----------------------------------------------------------------------------------------------


def _no_motion(qc: QCInput) -> np.ndarray:
    return np.zeros(len(qc.frames))


def test_beat_sync_reports_every_moderate_off_beat_cut_with_its_offset(defects: list[LabelledClip]) -> None:
    for clip in _named(defects, "off_beat_motion/moderate/"):
        result = beat_sync.check(clip.qc_input, _no_motion(clip.qc_input))
        assert len(result.findings) == len(clip.qc_input.cuts) == len(clip.defects)
        for finding in result.findings:
            assert _overlaps(finding, clip) and finding.severity == Severity.fail
            assert finding.value == pytest.approx(120.0, abs=1.0)
        assert result.metrics["cut_offsets"]["max_ms"] == pytest.approx(120.0, abs=1.0)


def test_beat_sync_mild_offsets_warn_and_clean_cuts_pass(
    clean: list[LabelledClip], defects: list[LabelledClip]
) -> None:
    for clip in _named(defects, "off_beat_motion/mild/"):
        findings = beat_sync.check(clip.qc_input, _no_motion(clip.qc_input)).findings
        assert findings and all(f.severity == Severity.warn for f in findings)
    for clip in clean:
        result = beat_sync.check(clip.qc_input, _no_motion(clip.qc_input))
        assert result.findings == [] and result.metrics["cut_offsets"]["max_ms"] == 0.0


def test_beat_sync_is_silent_when_the_film_does_not_ask_for_it(defects: list[LabelledClip]) -> None:
    clip = _named(defects, "off_beat_motion/strong/")[0]
    for qc in (replace(clip.qc_input, beat_sync=False), replace(clip.qc_input, beats=(), onsets=())):
        result = beat_sync.check(qc, _no_motion(qc))
        assert result.findings == [] and result.metrics == {}


def test_motion_bursts_off_the_beat_are_found_and_bursts_on_it_are_not() -> None:
    frames = 72
    on_beat, off_beat = 24, 42  # beats every 12 frames (0.5 s); frame 42 is 250 ms from the nearest
    envelope = np.zeros(frames, dtype=np.float32)
    for hit in (on_beat, off_beat):
        envelope[hit : hit + 4] = [1.0, 0.5, 0.25, 0.1]
    settings = MotionSettings(
        camera=CameraMove.pan_right, intensity=0.3, audio_reactivity=1.0, react_zoom=1.0
    )
    clip = MotionClip([_photo(COFFEE)], FitMode.cover, settings, frames, 160, 90, seed=2, reactivity=envelope)
    qc = _film([clip.frame(i) for i in range(frames)], beats=tuple(k * 0.5 for k in range(7)), beat_sync=True)
    energy = flow_stats.compute(qc).motion_energy
    assert set(beat_sync.strong_peaks(qc, energy)) >= {on_beat, off_beat}
    (finding,) = beat_sync.check(qc, energy).findings
    assert finding.severity == Severity.warn and finding.end == pytest.approx(off_beat / 24)
    assert finding.value == pytest.approx(250.0, abs=1.0)


def test_cuts_on_beats_needs_most_cuts_near_a_beat() -> None:
    beats = [0.5 * k for k in range(10)]
    assert beat_sync.cuts_on_beats([1.0, 2.02, 3.5], beats)
    assert not beat_sync.cuts_on_beats([1.2, 2.3, 3.5], beats)
    assert not beat_sync.cuts_on_beats([], beats) and not beat_sync.cuts_on_beats([1.0], [])


# -- reference overfit ---------------------------------------------------------------------------------------


def test_overfit_finds_every_moderate_near_still_act_and_reused_reference(
    defects: list[LabelledClip],
) -> None:
    for clip in _named(defects, "reference_overfit/moderate/"):
        findings = overfit.check(clip.qc_input).findings
        assert findings, clip.name
        assert all(_overlaps(f, clip) and f.severity == Severity.warn for f in findings), clip.name
    for clip in _named(defects, "reference_overfit/moderate/near-still/"):
        (finding,) = overfit.check(clip.qc_input).findings
        assert finding.value >= overfit.STILL_SHARE_WARN and "Near-static" in finding.message


def test_overfit_flags_nothing_on_clean_clips(clean: list[LabelledClip]) -> None:
    for clip in clean:
        result = overfit.check(clip.qc_input)
        assert result.findings == [], clip.name
        assert max(result.metrics["still_share"].values()) < overfit.STILL_SHARE_WARN


def test_repeated_shots_of_a_video_look_the_same_without_references() -> None:
    shot = _shot(ASTRONAUT, CameraMove.zoom_in, 12)
    film = _film(shot, _shot(CAT, CameraMove.pan_left, 12), shot)
    (finding,) = overfit.check(film).findings
    assert finding.start == pytest.approx(1.0) and finding.act is None
    assert finding.message.startswith("Shot 3 at 1.0–1.5 s looks the same as shot 1")


def test_scene_checks_take_odd_films_in_their_stride() -> None:
    black = [np.zeros((90, 160, 3), np.uint8)] * 24
    one_frame = _film(_shot(CAT, CameraMove.zoom_in, 1, width=160), beats=(0.0,), beat_sync=True)
    for film in (_film(black, black, beats=(0.0, 0.5, 1.0), beat_sync=True), one_frame):
        assert lighting.check(film).findings == []
        assert overfit.check(film).findings == []
        assert beat_sync.check(film, _no_motion(film)).findings == []
    empty = QCInput(frames=[], fps=Fraction(24), spans=[])
    assert lighting.check(empty).findings == overfit.check(empty).findings == []


# -- cut detection -------------------------------------------------------------------------------------------


def test_cut_detection_finds_the_true_cuts_of_every_clean_clip(clean: list[LabelledClip]) -> None:
    for clip in clean:
        qc = clip.qc_input
        assert cuts.detect(qc.frames, qc.fps) == qc.cuts, clip.name


def test_cut_detection_ignores_flicker_and_shimmer(defects: list[LabelledClip]) -> None:
    for clip in _named(defects, "flicker/strong/") + _named(defects, "texture_artifacts/strong/"):
        qc = clip.qc_input
        assert cuts.detect(qc.frames, qc.fps) == qc.cuts, clip.name


def test_cut_detection_does_not_fire_on_fast_camera_motion() -> None:
    # A whip: the whole pan range in half a second, then the opposite pan of the same picture (no cut).
    whip = _shot(CAT, CameraMove.pan_right, 12, intensity=1.0) + _shot(
        CAT, CameraMove.pan_left, 12, intensity=1.0
    )
    spin = _shot(COFFEE, CameraMove.rotate_cw, 12, intensity=1.0)
    frames = whip + spin + _shot(ROCKET, CameraMove.dolly_in, 12, intensity=1.0)
    assert cuts.detect(frames, 24) == [24, 36]


def test_cut_detection_finds_gradual_transitions_but_not_fades_within_a_shot() -> None:
    outgoing = _shot(ASTRONAUT, CameraMove.zoom_in, 36, width=160)
    incoming = _shot(ROCKET, CameraMove.pan_right, 36, width=160)
    # A 12-frame crossfade over frames 24-35 and an 8-frame dip to black over frames 28-35 (centres 30, 32).
    crossfade = [
        cv2.addWeighted(outgoing[24 + k], 1 - (k + 0.5) / 12, incoming[k], (k + 0.5) / 12, 0)
        for k in range(12)
    ]
    (cut,) = cuts.detect(outgoing[:24] + crossfade + incoming[12:], 24)
    assert abs(cut - 30) <= 1
    dip = [(outgoing[28 + k] * (0.75 - 0.25 * k)).astype(np.uint8) for k in range(4)]
    dip += [(incoming[k] * (0.25 + 0.25 * k)).astype(np.uint8) for k in range(4)]
    (cut,) = cuts.detect(outgoing[:28] + dip + incoming[4:], 24)
    assert abs(cut - 32) <= 1
    # A shot darkening to 30 % and one brightening by 60 %: the light changes, the shot does not.
    fade_out = [(frame * (1 - 0.7 * k / 36)).astype(np.uint8) for k, frame in enumerate(outgoing)]
    ramp = [np.clip(frame * (0.6 + k / 36), 0, 255).astype(np.uint8) for k, frame in enumerate(incoming)]
    assert cuts.detect(fade_out, 24) == [] and cuts.detect(ramp, 24) == []


def test_cut_detection_keeps_shots_apart_by_the_minimum_length() -> None:
    shots = [_shot(photo, CameraMove.zoom_in, 4, width=160) for photo in (ASTRONAUT, CAT, COFFEE, ROCKET)]
    frames = [frame for shot in shots for frame in shot]
    assert cuts.detect(frames, 24, min_shot_s=0.1) == [4, 8, 12]
    spaced = cuts.detect(frames, 24, min_shot_s=0.25)
    assert len(spaced) < 3 and all(b - a >= 6 for a, b in itertools.pairwise(spaced))
    assert cuts.detect(frames[:1], 24) == [] and cuts.detect([], 24) == []


# -- the runner: a video file, a project ---------------------------------------------------------------------


def write_video(path: Path, frames: list[np.ndarray], music: np.ndarray | None = None) -> Path:
    """Encode RGB frames at 24 fps to an H.264 file, with `music` (mono, 48 kHz) as its soundtrack."""
    height, width = frames[0].shape[:2]
    settings = ExportSettings(fps=Fraction(24), width=width, height=height, preset="ultrafast")

    def soundtrack(start: int, count: int) -> np.ndarray:
        assert music is not None
        block = np.zeros((count, 2), dtype=np.float32)
        chunk = music[max(0, start) : max(0, start + count)]
        block[: chunk.size] = chunk[:, None]
        return block

    return export_video(
        path, iter(frames), len(frames), settings, audio=soundtrack if music is not None else None
    )


def three_shot_film(width: int = 192) -> list[np.ndarray]:
    """1 s of a cat, 1.5 s of the same cat 30 % brighter, 1 s of a rocket: cuts at frames 24 and 60."""
    cat = _shot(CAT, CameraMove.pan_right, 24, width=width)
    brighter = [
        np.clip(frame * 1.3, 0, 255).astype(np.uint8)
        for frame in _shot(CAT, CameraMove.zoom_in, 36, width=width, intensity=0.5)
    ]
    return cat + brighter + _shot(ROCKET, CameraMove.pan_up, 24, width=width)


def test_a_video_file_is_decoded_cut_into_shots_and_checked(tmp_path: Path) -> None:
    video = write_video(tmp_path / "film.mp4", three_shot_film())
    seen: list[tuple[int, int]] = []
    qc = qc_input_from_video(video, width=160, progress=lambda done, total: seen.append((done, total)))
    assert len(qc.frames) == 84 and qc.frames[0].shape == (90, 160, 3) and qc.fps == 24
    assert qc.cuts == [24, 60]
    assert all(span.act_id is None for span in qc.spans) and qc.beats == () and not qc.beat_sync
    assert seen[-1][0] == seen[-1][1] and all(done <= total for done, total in seen)

    report = run_checks(qc)
    document = report.to_json()
    assert json.loads(json.dumps(document)) == document
    assert set(document) == {"ok", "findings", "metrics"}
    starts = [finding["start"] for finding in document["findings"]]
    assert starts == sorted(starts)
    (jump,) = [f for f in report.findings if f.kind == CheckKind.lighting_jump]
    assert jump.severity == Severity.fail and jump.start < 1.0 < jump.end and "brighter" in jump.message
    assert not report.ok and document["metrics"]["cuts_s"] == [1.0, 2.5]


def test_bad_video_files_are_refused_in_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    image = tmp_path / "still.jpg"
    image.write_bytes((DEMO / CAT).read_bytes())
    for path, expected in (
        (tmp_path / "missing.mp4", "no such video file"),
        (text, "not a video"),
        (image, "not a video"),
    ):
        with pytest.raises(MediaError, match=expected) as error:
            qc_input_from_video(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)


def tiny_project(folder: Path, music: bool = False) -> Project:
    """Three acts of 12 frames at 12 fps (96x64): two crops of one photo sharing a template, then a third
    photo; cuts on a 120 BPM beat grid. With `music`, a drum track plays under it."""
    cat = cv2.cvtColor(_photo(CAT), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "left.jpg"), cat[:, : cat.shape[1] * 2 // 3])
    cv2.imwrite(str(folder / "right.jpg"), cat[:, cat.shape[1] // 3 :])
    cv2.imwrite(str(folder / "rocket.jpg"), cv2.cvtColor(_photo(ROCKET), cv2.COLOR_RGB2BGR))
    look = TemplateLink(id="warm-look", version=1)
    acts = [
        Act(id="a", name="Left", duration_frames=12, references=[MediaRef(path="left.jpg")], template=look),
        Act(id="b", name="Right", duration_frames=12, references=[MediaRef(path="right.jpg")], template=look),
        Act(id="c", name="Rocket", duration_frames=12, references=[MediaRef(path="rocket.jpg")]),
    ]
    project = Project(
        settings=ProjectSettings(fps=Fraction(12), width=96, height=64),
        acts=acts,
        beats=BeatGrid(tempo=120.0, beats=tuple(0.5 * k for k in range(7))),
    )
    if music:
        track = drum_track(120, 4.0, sample_rate=22050)
        write_wav(folder / "music.wav", track.samples, track.sample_rate)
        project.audio = [AudioClip(media=MediaRef(path="music.wav"))]
    return project


def test_a_project_is_checked_through_its_drafts_with_its_acts_and_beats(tmp_path: Path) -> None:
    project = tiny_project(tmp_path)
    qc = qc_input_from_project(project, tmp_path, cache=StageCache(tmp_path / "cache"), width=80)
    assert len(qc.frames) == 36 and qc.frames[0].shape[1] == 80 and qc.fps == 12
    assert [(s.start, s.end, s.act_id, s.name, s.template) for s in qc.spans] == [
        (0, 12, "a", "Left", "warm-look"),
        (12, 24, "b", "Right", "warm-look"),
        (24, 36, "c", "Rocket", None),
    ]
    assert all(len(span.references) == 1 and span.references[0].shape[1] <= 160 for span in qc.spans)
    assert qc.beat_sync and qc.beats == project.beats.effective_beats() and qc.onsets == ()
    report = run_checks(qc)
    assert report.ok
    assert set(report.metrics["still_share"]) == {"a", "b", "c"}
    assert report.metrics["cut_offsets"]["max_ms"] == 0.0 and report.metrics["beat_sync"] is True


def test_a_project_that_cannot_render_is_refused(tmp_path: Path) -> None:
    project = tiny_project(tmp_path)
    (tmp_path / "rocket.jpg").unlink()
    with pytest.raises(InputError, match=r"rocket\.jpg"):
        qc_input_from_project(project, tmp_path, cache=StageCache(tmp_path / "cache"))


@pytest.mark.slow
def test_beats_come_from_the_music_a_video_or_project_carries(tmp_path: Path) -> None:
    track = drum_track(120, 3.5, sample_rate=48000, lead_in_s=0.0)
    video = write_video(tmp_path / "film.mp4", three_shot_film(width=160), music=track.samples)
    qc = qc_input_from_video(video, width=160)
    # The film cuts at 1.0 and 2.5 s, on the drum's beats: the video is taken to follow them.
    assert qc.beat_sync and min(abs(b - 1.0) for b in qc.beats) < 0.05 and qc.onsets
    project = tiny_project(tmp_path, music=True)
    project_qc = qc_input_from_project(project, tmp_path, cache=StageCache(tmp_path / "cache"))
    assert project_qc.onsets and all(0.0 <= t <= 3.0 for t in project_qc.onsets)
