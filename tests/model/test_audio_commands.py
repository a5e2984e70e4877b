"""Audio clip levels and fades, moving clips, and adding, removing, muting and renaming audio tracks."""

from __future__ import annotations

import pytest

from app.model import Act, AudioClip, AudioTrack, MediaRef, Project
from app.model.audio_commands import (
    AddAudioTrack,
    MoveAudioClip,
    RemoveAudioTrack,
    SetAudioClipLevels,
    SetAudioTrack,
    remove_track_refusal,
    track_label,
)
from app.model.commands import Command, EditError
from app.model.history import History
from app.model.project import MAX_AUDIO_TRACKS
from app.model.project_file import dumps_project


def _project() -> Project:
    return Project(
        acts=[Act(id="a0", name="A", duration_frames=240)],
        audio=[
            AudioClip(id="music", media=MediaRef(path="songs/music.wav"), length_frames=200, track=0),
            AudioClip(id="open", media=MediaRef(path="voice.wav"), track=0),  # to the end of its source
            AudioClip(id="voice", media=MediaRef(path="voice.wav"), length_frames=48, track=2),
        ],
        audio_tracks=[AudioTrack(name="Music"), AudioTrack(), AudioTrack(name="Voice")],
    )


def _do_undo_redo(project: Project, command: Command) -> None:
    """Execute through a History, then undo (byte-identical to before) and redo (identical to after)."""
    before = dumps_project(project)
    history = History(project)
    changes = history.execute(command)
    assert changes.audio and not changes.acts and not changes.timing
    project.check_consistency()
    after = dumps_project(project)
    assert history.undo_label == command.label
    history.undo()
    project.check_consistency()
    assert dumps_project(project) == before
    history.redo()
    project.check_consistency()
    assert dumps_project(project) == after


def _refused(project: Project, command: Command, match: str) -> None:
    before = dumps_project(project)
    with pytest.raises(EditError, match=match):
        History(project).execute(command)
    assert dumps_project(project) == before


# -- levels ----------------------------------------------------------------------------------------------


def test_setting_volume_and_fades_is_one_undo_step() -> None:
    project = _project()
    command = SetAudioClipLevels("music", gain_db=-6.5, fade_in_frames=24, fade_out_frames=48)
    _do_undo_redo(project, command)
    clip = project.audio_clip("music")
    assert (clip.gain_db, clip.fade_in_frames, clip.fade_out_frames) == (-6.5, 24, 48)
    assert command.label == "Change audio levels"


def test_levels_left_as_none_keep_their_value_and_name_the_undo_step() -> None:
    project = _project()
    History(project).execute(SetAudioClipLevels("music", fade_out_frames=30))
    command = SetAudioClipLevels("music", fade_in_frames=12)
    assert command.label == "Change fade in"
    assert SetAudioClipLevels("music", gain_db=0.0).label == "Change volume"
    assert SetAudioClipLevels("music", fade_out_frames=1).label == "Change fade out"
    _do_undo_redo(project, command)
    clip = project.audio_clip("music")
    assert (clip.gain_db, clip.fade_in_frames, clip.fade_out_frames) == (0.0, 12, 30)


@pytest.mark.parametrize("gain", [-60.5, 24.1, float("nan"), float("inf")])
def test_a_volume_outside_minus_60_to_plus_24_db_is_refused(gain: float) -> None:
    _refused(_project(), SetAudioClipLevels("music", gain_db=gain), "music.wav': volume must be -60..")


def test_the_volume_range_ends_are_allowed() -> None:
    project = _project()
    History(project).execute(SetAudioClipLevels("music", gain_db=-60.0))
    History(project).execute(SetAudioClipLevels("voice", gain_db=24.0))
    assert project.audio_clip("music").gain_db == -60.0 and project.audio_clip("voice").gain_db == 24.0


def test_fades_may_fill_the_clip_but_not_more() -> None:
    project = _project()
    History(project).execute(SetAudioClipLevels("voice", fade_in_frames=20, fade_out_frames=28))  # = 48
    _refused(project, SetAudioClipLevels("voice", fade_in_frames=21), r"fades of 21 \+ 28 frames .* \(48")
    _refused(project, SetAudioClipLevels("voice", fade_out_frames=-1), "fade out must be 0 frames or more")


def test_a_clip_to_the_end_of_its_source_is_checked_against_the_length_the_caller_knows() -> None:
    project = _project()
    # Without a known length each fade only has to be >= 0 (the mixer copes with overlapping ramps).
    History(project).execute(SetAudioClipLevels("open", fade_in_frames=500, fade_out_frames=500))
    _refused(
        project,
        SetAudioClipLevels("open", fade_in_frames=50, fade_out_frames=51, clip_length_frames=100),
        r"50 \+ 51 frames are longer than the clip \(100 frames\)",
    )
    History(project).execute(SetAudioClipLevels("open", fade_in_frames=50, clip_length_frames=1000))
    # The clip's own length wins over what the caller says.
    _refused(project, SetAudioClipLevels("voice", fade_in_frames=49, clip_length_frames=1000), r"\(48 frames")


def test_levels_of_an_unknown_clip_are_refused() -> None:
    _refused(_project(), SetAudioClipLevels("nope", gain_db=0.0), "no audio clip with id 'nope'")


# -- moving a clip ---------------------------------------------------------------------------------------


def test_moving_a_clip_along_and_between_tracks() -> None:
    project = _project()
    _do_undo_redo(project, MoveAudioClip("voice", 96, 1))
    clip = project.audio_clip("voice")
    assert (clip.offset_frames, clip.track) == (96, 1)


def test_moving_a_clip_before_zero_or_to_a_missing_track_is_refused() -> None:
    project = _project()
    _refused(project, MoveAudioClip("voice", -1, 0), "cannot start before frame 0")
    _refused(project, MoveAudioClip("voice", 0, 3), r"no audio track 4 \(the project has 3\)")


# -- tracks ----------------------------------------------------------------------------------------------


def test_adding_tracks_up_to_eight() -> None:
    project = _project()
    _do_undo_redo(project, AddAudioTrack("  Effects "))
    assert project.audio_tracks[-1] == AudioTrack(name="Effects")
    while len(project.audio_tracks) < MAX_AUDIO_TRACKS:
        History(project).execute(AddAudioTrack())
    _refused(project, AddAudioTrack(), "at most 8 audio tracks")


def test_a_track_name_longer_than_80_characters_is_refused() -> None:
    _refused(_project(), AddAudioTrack("x" * 81), "audio track name: must be at most 80 characters")
    _refused(_project(), SetAudioTrack(0, name="x" * 81), "audio track name: must be at most 80")


def test_removing_an_empty_track_moves_the_clips_below_up_with_their_track() -> None:
    project = _project()
    _do_undo_redo(project, RemoveAudioTrack(1))
    assert [track.name for track in project.audio_tracks] == ["Music", "Voice"]
    assert project.audio_clip("voice").track == 1  # still on "Voice"
    assert project.audio_clip("music").track == 0


def test_removing_a_track_with_clips_is_refused_naming_how_many() -> None:
    project = _project()
    assert remove_track_refusal(project, 1) is None
    _refused(project, RemoveAudioTrack(0), "track Music holds 2 audio clips: move or delete them first")
    _refused(project, RemoveAudioTrack(2), "track Voice holds 1 audio clip: move or delete it first")
    _refused(project, RemoveAudioTrack(5), "no audio track 6")


def test_the_last_track_cannot_be_removed() -> None:
    project = Project()
    _refused(project, RemoveAudioTrack(0), "the only audio track; a project keeps at least one")


def test_muting_and_renaming_a_track() -> None:
    project = _project()
    mute = SetAudioTrack(1, muted=True)
    assert mute.label == "Mute A2"
    _do_undo_redo(project, mute)
    assert project.audio_tracks[1] == AudioTrack(muted=True)
    unmute = SetAudioTrack(1, muted=False)
    assert unmute.label == "Unmute A2"
    _do_undo_redo(project, unmute)
    rename = SetAudioTrack(2, name="Dialogue")
    assert rename.label == "Rename track"
    _do_undo_redo(project, rename)
    assert project.audio_tracks[2] == AudioTrack(name="Dialogue") and track_label(project, 2) == "Dialogue"
    History(project).execute(SetAudioTrack(2, name=""))
    assert track_label(project, 2) == "A3"  # an empty name shows the track's number
    _refused(project, SetAudioTrack(3, muted=True), "no audio track 4")
