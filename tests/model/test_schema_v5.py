"""Schema 5: audio tracks as objects, the media bin, in/out points, export settings, camera keyframes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.model import (
    Act,
    AudioClip,
    AudioTrack,
    CameraKey,
    Easing,
    ExportOptions,
    ExportRange,
    FrameRange,
    MediaRef,
    MotionSettings,
    Project,
)
from app.model.commands import SplitAct
from app.model.history import History
from app.model.project_file import ProjectError, load_project, save_project


def test_a_version_4_file_gets_one_audio_track_for_each_track_its_clips_use(tmp_path: Path) -> None:
    path = tmp_path / "v4.storybeat"
    clips = [{"media": {"path": "a.wav"}, "track": 0}, {"media": {"path": "b.wav"}, "track": 2}]
    path.write_text(json.dumps({"schema_version": 4, "acts": [], "audio": clips}))
    project = load_project(path)
    assert project.audio_tracks == [AudioTrack(), AudioTrack(), AudioTrack()]
    assert project.media_bin == [] and project.in_out is None and project.export == ExportOptions()


def test_a_version_4_file_without_audio_gets_one_empty_track(tmp_path: Path) -> None:
    path = tmp_path / "v4.storybeat"
    path.write_text(json.dumps({"schema_version": 4, "acts": []}))
    assert load_project(path).audio_tracks == [AudioTrack()]


def test_a_file_with_a_clip_on_a_missing_track_is_refused_naming_the_clip(tmp_path: Path) -> None:
    path = tmp_path / "bad.storybeat"
    raw = Project(audio=[AudioClip(media=MediaRef(path="song.wav"))]).model_dump(mode="json")
    raw["audio"][0]["track"] = 1
    path.write_text(json.dumps(raw))
    with pytest.raises(ProjectError, match=r"song\.wav.*track 2.*1 audio track"):
        load_project(path)


def test_a_project_keeps_at_least_one_and_at_most_eight_audio_tracks() -> None:
    with pytest.raises(ValidationError):
        Project(audio_tracks=[])
    with pytest.raises(ValidationError):
        Project(audio_tracks=[AudioTrack()] * 9)


def test_tracks_bin_in_out_and_export_settings_survive_a_save(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    project = Project(
        audio_tracks=[AudioTrack(name="Music"), AudioTrack(name="Voice", muted=True)],
        audio=[AudioClip(media=MediaRef(path="media/voice.wav"), track=1)],
        media_bin=[MediaRef(path="media/still.png")],
        in_out=FrameRange(start=12, end=48),
        export=ExportOptions(format="h265", height=1080, crf=22, range=ExportRange.in_out, output="out.mp4"),
    )
    path = tmp_path / "p.storybeat"
    save_project(project, path)
    assert load_project(path) == project


def test_moving_the_project_file_rebases_the_media_bin_and_the_export_file(tmp_path: Path) -> None:
    project = Project(media_bin=[MediaRef(path="still.png")], export=ExportOptions(output="renders/film.mp4"))
    moved = project.moved(tmp_path / "a", tmp_path / "b")
    assert moved.media_bin == [MediaRef(path="../a/still.png")]
    assert moved.export.output == "../a/renders/film.mp4"
    assert ("media bin", MediaRef(path="still.png")) in list(project.media_refs())


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 5), (-1, 4)])
def test_an_empty_or_negative_range_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValidationError):
        FrameRange(start=start, end=end)


def test_a_range_is_clipped_to_the_film() -> None:
    assert FrameRange(start=10, end=100).clipped(50) == FrameRange(start=10, end=50)
    assert FrameRange(start=10, end=100).clipped(10) is None
    assert FrameRange(start=10, end=20).length == 10


def test_export_options_refuse_an_unknown_format_and_odd_heights() -> None:
    with pytest.raises(ValidationError):
        ExportOptions(format="gif")
    with pytest.raises(ValidationError):
        ExportOptions(height=721)


# -- camera keyframes ---------------------------------------------------------------------------------------


def _keyed(easing: Easing = Easing.linear) -> MotionSettings:
    return MotionSettings(
        easing=easing,
        keyframes=(
            CameraKey(frame=0, zoom=1.0),
            CameraKey(frame=10, x=0.2, y=-0.1, zoom=4.0, rotation=30.0),
        ),
    )


def test_keys_must_be_at_distinct_frames_in_order() -> None:
    with pytest.raises(ValidationError, match="distinct frames"):
        MotionSettings(keyframes=(CameraKey(frame=5), CameraKey(frame=5)))
    with pytest.raises(ValidationError, match="distinct frames"):
        MotionSettings(keyframes=(CameraKey(frame=5), CameraKey(frame=2)))


def test_the_pose_between_keys_follows_the_easing_with_zoom_on_a_log_scale() -> None:
    middle = _keyed().key_at(5)
    assert middle.x == pytest.approx(0.1) and middle.y == pytest.approx(-0.05)
    assert middle.rotation == pytest.approx(15.0)
    assert middle.zoom == pytest.approx(2.0)  # half way from 1 to 4 on a log scale
    eased = _keyed(Easing.ease_in).key_at(5)
    assert eased.x == pytest.approx(0.2 * 0.25)


def test_the_pose_holds_before_the_first_key_and_after_the_last() -> None:
    motion = _keyed()
    assert motion.key_at(-3) == motion.keyframes[0]
    assert motion.key_at(40) == motion.keyframes[1]


def test_an_act_without_keys_has_no_keyed_pose() -> None:
    with pytest.raises(ValueError, match="no camera keyframes"):
        MotionSettings().key_at(0)


def test_adding_a_key_at_a_keyed_frame_replaces_it_and_removing_takes_it_away() -> None:
    motion = _keyed().with_key(CameraKey(frame=10, zoom=2.0)).with_key(CameraKey(frame=4))
    assert [(k.frame, k.zoom) for k in motion.keyframes] == [(0, 1.0), (4, 1.0), (10, 2.0)]
    assert [k.frame for k in motion.without_key(4).keyframes] == [0, 10]


def test_splitting_a_keyed_act_keeps_every_pose_of_the_shot() -> None:
    act = Act(id="a", duration_frames=12, motion=_keyed(Easing.ease_in_out))
    project = Project(acts=[act])
    before = [act.motion.key_at(frame) for frame in range(12)]
    History(project).execute(SplitAct("a", 4, new_id="b"))
    first, second = project.acts
    after = [first.motion.key_at(f) for f in range(4)] + [second.motion.key_at(f) for f in range(8)]
    for pose_before, pose_after in zip(before, after, strict=True):
        assert pose_after.model_dump(exclude={"frame"}) == pytest.approx(
            pose_before.model_dump(exclude={"frame"})
        )
    assert [k.frame for k in second.motion.keyframes] == [-4, 6]
