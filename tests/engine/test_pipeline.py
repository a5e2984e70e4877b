"""Act pipeline, timeline composition and whole-project renders on small real projects."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from app.engine.cache import StageCache
from app.engine.cancel import CancelToken
from app.engine.pipeline import ActPipeline, RenderTarget
from app.engine.render import render_project
from app.engine.timeline import TimelineFrames
from app.errors import Cancelled, InputError
from app.model import (
    Act,
    AudioClip,
    CameraMove,
    MediaRef,
    MotionSettings,
    Project,
    ProjectSettings,
    TransitionKind,
    TransitionSpec,
)
from app.model.commands import MoveAct, SetActField, SplitAct
from app.model.history import History
from tests.engine.audio_fixtures import drum_track, write_wav

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    for photo in sorted(DEMO.glob("0*.jpg"))[:3]:
        image = cv2.imread(str(photo))
        cv2.imwrite(str(tmp_path / photo.name), cv2.resize(image, (200, 150)))
    track = drum_track(120, 4.0, sample_rate=22050)
    write_wav(tmp_path / "music.wav", track.samples, track.sample_rate)
    return tmp_path


def _project(project_dir: Path, acts: int = 3, length: int = 12) -> Project:
    photos = sorted(p.name for p in project_dir.glob("0*.jpg"))
    return Project(
        settings=ProjectSettings(fps=Fraction(12), width=96, height=64),
        acts=[
            Act(
                id=f"act{i}",
                name=f"Act {i}",
                duration_frames=length,
                references=[MediaRef(path=photos[i % len(photos)])],
                motion=MotionSettings(camera=CameraMove.pan_right),
                seed=i,
            )
            for i in range(acts)
        ],
        audio=[AudioClip(media=MediaRef(path="music.wav"))],
    )


def test_final_clip_and_timeline_frames_have_the_project_size(project_dir: Path) -> None:
    project = _project(project_dir)
    pipeline = ActPipeline(project_dir, StageCache())
    target = RenderTarget.final(project)
    clips = [pipeline.clip(act, target) for act in project.acts]
    timeline = TimelineFrames(project.acts, clips)
    assert timeline.length == 36
    for index in (0, 11, 12, 35):
        frame = timeline.frame(index)
        assert frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    # Outside a transition, a timeline frame is exactly the act's own frame.
    assert np.array_equal(timeline.frame(13), clips[1].frame(1))
    with pytest.raises(IndexError):
        timeline.frame(36)


def test_crossfade_is_centred_on_the_cut_and_blends_both_acts(project_dir: Path) -> None:
    project = _project(project_dir)
    project.acts[0].transition = TransitionSpec(kind=TransitionKind.crossfade, frames=4)
    pipeline = ActPipeline(project_dir, StageCache())
    target = RenderTarget.final(project)
    clips = [pipeline.clip(act, target) for act in project.acts]
    timeline = TimelineFrames(project.acts, clips)
    assert timeline.windows[0] == (10, 14)  # cut at 12, two frames either side
    assert np.array_equal(timeline.frame(9), clips[0].frame(9))
    assert np.array_equal(timeline.frame(14), clips[1].frame(2))
    inside = timeline.frame(12).astype(float)
    outgoing, incoming = clips[0].frame(12).astype(float), clips[1].frame(0).astype(float)
    # progress 0.625 at frame 12: closer to the incoming act, but not equal to either
    err_out, err_in = np.abs(inside - outgoing).mean(), np.abs(inside - incoming).mean()
    assert err_in < err_out and err_in > 1.0


def test_acts_without_references_get_a_placeholder_slate(project_dir: Path) -> None:
    project = _project(project_dir, acts=1)
    project.acts[0].references = []
    project.acts[0].prompt = "a lighthouse in fog"
    pipeline = ActPipeline(project_dir, StageCache())
    frame = pipeline.clip(project.acts[0], RenderTarget.final(project)).frame(0)
    assert frame.shape == (64, 96, 3) and frame.std() > 1.0


def test_draft_proxies_rerender_only_the_edited_act(project_dir: Path) -> None:
    project = _project(project_dir, acts=20, length=6)
    history = History(project)
    pipeline = ActPipeline(project_dir, StageCache())
    target = RenderTarget.preview(project)

    def render_all() -> int:
        before = pipeline.renders
        for act in project.acts:
            pipeline.draft_clip(act, target).frame(0)
        return pipeline.renders - before

    assert render_all() == 20
    history.execute(SetActField("act7", "motion", MotionSettings(camera=CameraMove.zoom_out)))
    assert render_all() == 1
    history.execute(MoveAct("act3", 15))
    assert render_all() == 0  # reordering changes no act's pictures
    history.execute(SetActField("act5", "name", "Renamed"))
    assert render_all() == 0  # names are not part of the pictures
    history.undo()
    history.undo()
    history.undo()
    assert render_all() == 0  # undo brings back pictures the cache still holds


def test_render_writes_video_audio_and_recipe(project_dir: Path) -> None:
    project = _project(project_dir)
    project.acts[1].prompt = "a tabby cat"
    out = project_dir / "film.mp4"
    seen: list[tuple[int, int]] = []
    written = render_project(
        project, project_dir, out, progress=lambda done, total: seen.append((done, total))
    )
    assert written == out
    assert seen[-1] == (36, 36)
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (96, 64)
        assert sum(1 for _ in container.decode(video=0)) == 36
        assert container.streams.audio, "the music should be muxed"
        recipe = json.loads(container.metadata["storybeat_recipe"])
    assert [act["prompt"] for act in recipe["acts"]] == ["", "a tabby cat", ""]
    assert [act["seed"] for act in recipe["acts"]] == [0, 1, 2]
    assert recipe["acts"][0]["backend"] == "motion"
    assert len(recipe["acts"][0]["references"][0]["sha256"]) == 64


def test_render_refuses_missing_media_and_lists_every_file(project_dir: Path) -> None:
    project = _project(project_dir)
    project.acts[0].references = [MediaRef(path="gone.jpg")]
    project.audio = [AudioClip(media=MediaRef(path="lost.wav"))]
    out = project_dir / "film.mp4"
    with pytest.raises(InputError) as caught:
        render_project(project, project_dir, out)
    assert "gone.jpg" in str(caught.value) and "lost.wav" in str(caught.value)
    assert not out.exists()


def test_cancelled_render_leaves_no_file(project_dir: Path) -> None:
    project = _project(project_dir)
    out = project_dir / "film.mp4"
    token = CancelToken()

    def cancel_midway(done: int, total: int) -> None:
        if done == 10:
            token.cancel()

    with pytest.raises(Cancelled):
        render_project(project, project_dir, out, progress=cancel_midway, cancel=token)
    assert not out.exists()
    assert [p.name for p in project_dir.iterdir() if "partial" in p.name] == []


def test_same_project_and_seed_render_the_same_frames(project_dir: Path) -> None:
    project = _project(project_dir)
    project.acts[0].motion = MotionSettings(camera=CameraMove.drift)
    target = RenderTarget.final(project)
    first = ActPipeline(project_dir, StageCache()).clip(project.acts[0], target)
    second = ActPipeline(project_dir, StageCache()).clip(project.acts[0], target)
    for index in (0, 5, 11):
        assert np.array_equal(first.frame(index), second.frame(index))


def test_reactive_acts_follow_the_music_under_them(project_dir: Path) -> None:
    project = _project(project_dir, acts=2, length=24)  # 2 s per act at 12 fps over a 120 BPM drum track
    reactive = MotionSettings(camera=CameraMove.static, audio_reactivity=1.0, react_zoom=0.0, react_flash=1.0)
    project.acts[1].motion = reactive
    pipeline = ActPipeline(project_dir, StageCache())
    pipeline.set_project(project)
    assert pipeline.reactivity(project.acts[0]) is None  # not reactive: no analysis needed
    envelope = pipeline.reactivity(project.acts[1])
    assert envelope is not None and envelope.shape == (24,)
    # A 120 BPM beat every 6 frames at 12 fps: the envelope peaks about that often.
    peaks = [i for i in range(1, 23) if envelope[i] >= 0.5 and envelope[i] >= envelope[i - 1]]
    assert 3 <= len(peaks) <= 8
    clip = pipeline.clip(project.acts[1], RenderTarget.final(project))
    brightness = [clip.frame(i).mean() for i in range(24)]
    assert max(brightness) > min(brightness) * 1.1  # flashes on the hits
    key_here = pipeline.act_key(project.acts[1], RenderTarget.final(project))
    project.acts.reverse()  # the reactive act now sits over other music: a different picture
    pipeline.set_project(project)
    assert pipeline.act_key(project.acts[0], RenderTarget.final(project)) != key_here


def test_the_parts_of_a_split_act_key_apart_from_whole_acts_their_length(project_dir: Path) -> None:
    # The second part of a 24-frame act split at 12 shows the end of the move; a 12-frame act shows all of it.
    project = _project(project_dir, acts=2, length=24)
    whole_short = project.acts[1].model_copy(update={"duration_frames": 12})
    History(project).execute(SplitAct("act0", 12, new_id="act0-2"))
    pipeline = ActPipeline(project_dir, StageCache())
    pipeline.set_project(project)
    target = RenderTarget.preview(project)
    second = project.act("act0-2").model_copy(update={"references": whole_short.references, "seed": 1})
    assert second.motion.path_start > 0
    assert pipeline.act_key(second, target) != pipeline.act_key(whole_short, target)
    unsplit = second.model_copy(update={"motion": whole_short.motion})
    assert pipeline.act_key(unsplit, target) == pipeline.act_key(whole_short, target)
