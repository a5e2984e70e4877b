"""Export options of a whole-project render: a frame range (pictures and sound of exactly that stretch), an
output height and the encoder quality."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from app.engine.pipeline import ActPipeline
from app.engine.render import render_project
from app.errors import InputError
from app.model import (
    Act,
    AudioClip,
    CameraMove,
    FrameRange,
    MediaRef,
    MotionSettings,
    Project,
    ProjectSettings,
    TransitionKind,
    TransitionSpec,
)
from tests.engine.audio_fixtures import tone, write_wav

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
FPS = 12
RATE = 48_000  # the export rate: the music needs no resampling, so samples compare exactly


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    for photo in sorted(DEMO.glob("0*.jpg"))[:3]:
        cv2.imwrite(str(tmp_path / photo.name), cv2.resize(cv2.imread(str(photo)), (160, 90)))
    write_wav(tmp_path / "music.wav", tone(440.0, 2.0, RATE) * np.linspace(0.2, 1.0, 2 * RATE), RATE)
    return tmp_path


def _project(project_dir: Path) -> Project:
    """Three 8-frame acts of a 64x36 (16:9) film, a crossfade on the first cut, music under all of it."""
    photos = sorted(p.name for p in project_dir.glob("0*.jpg"))
    acts = [
        Act(
            id=f"act{i}",
            name=f"Act {i}",
            duration_frames=8,
            references=[MediaRef(path=photos[i])],
            motion=MotionSettings(camera=CameraMove.pan_right),
            seed=i,
        )
        for i in range(3)
    ]
    acts[0].transition = TransitionSpec(kind=TransitionKind.crossfade, frames=4)
    return Project(
        settings=ProjectSettings(fps=Fraction(FPS), width=64, height=36),
        acts=acts,
        audio=[AudioClip(media=MediaRef(path="music.wav"))],
    )


def _png_frames(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(path)) for path in sorted(folder.glob("frame_*.png"))]


def _wav_samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == RATE
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, wav.getnchannels())


def test_a_range_export_holds_exactly_the_frames_and_sound_of_that_stretch(project_dir: Path) -> None:
    project = _project(project_dir)
    whole = render_project(project, project_dir, project_dir / "whole", fmt="png")
    span = FrameRange(start=5, end=14)  # across the crossfade on the first cut, into the second act
    excerpt = render_project(project, project_dir, project_dir / "excerpt", fmt="png", frames=span)

    frames, all_frames = _png_frames(excerpt), _png_frames(whole)
    assert len(frames) == span.length == 9
    for index, frame in enumerate(frames):
        assert np.array_equal(frame, all_frames[span.start + index]), f"frame {span.start + index}"

    sound, all_sound = _wav_samples(excerpt / "audio.wav"), _wav_samples(whole / "audio.wav")
    per_frame = RATE // FPS
    assert len(sound) == span.length * per_frame  # the duration of the pictures, to the sample
    assert np.array_equal(sound, all_sound[span.start * per_frame : span.end * per_frame])
    assert np.abs(sound).max() > 1000  # the music, not silence


def test_a_range_export_renders_only_the_acts_it_shows(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    original = ActPipeline.clip

    def recording_clip(self: ActPipeline, act: Act, *args: object, **kwargs: object) -> object:
        built.append(act.id)
        return original(self, act, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ActPipeline, "clip", recording_clip)
    project = _project(project_dir)
    render_project(project, project_dir, project_dir / "last.mp4", frames=FrameRange(start=18, end=22))
    assert built == ["act2"]


def test_an_output_height_keeps_the_projects_aspect(project_dir: Path) -> None:
    project = _project(project_dir)
    out = project_dir / "sized.mp4"
    render_project(project, project_dir, out, height=360, frames=FrameRange(start=0, end=2))
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert sum(1 for _ in container.decode(video=0)) == 2


def test_a_draft_with_a_height_has_that_size(project_dir: Path) -> None:
    project = _project(project_dir)
    out = project_dir / "draft.mp4"
    render_project(project, project_dir, out, draft=True, height=72, frames=FrameRange(start=0, end=2))
    with av.open(str(out)) as container:
        assert (container.streams.video[0].width, container.streams.video[0].height) == (128, 72)


def test_the_quality_setting_reaches_the_encoder(project_dir: Path) -> None:
    project = _project(project_dir)
    out = project_dir / "small.mp4"
    render_project(project, project_dir, out, crf=33, frames=FrameRange(start=0, end=2))
    # x264 writes its settings into the stream (an SEI message): the file says which quality it used.
    assert b"crf=33.0" in out.read_bytes()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"height": 361}, "export height 361 must be an even number"),
        ({"height": 8}, "export height 8 must be an even number of pixels in 16..4320"),
        ({"height": 4322}, "16..4320"),
        ({"crf": 52}, "crf must be in 0..51"),
        ({"frames": FrameRange(start=20, end=30)}, r"export range 20..29 is outside the film \(0..23\)"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    project_dir: Path, options: dict[str, object], expected: str
) -> None:
    out = project_dir / "refused.mp4"
    with pytest.raises(InputError, match=expected):
        render_project(_project(project_dir), project_dir, out, **options)  # type: ignore[arg-type]
    assert not out.exists()
