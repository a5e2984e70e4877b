"""The media bin: importing, removing from the bin, listing every picture and sound once, inserting pictures
as acts; every edit, undo and redo keeps the document consistent."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import PurePosixPath

import pytest

from app.model import Act, AudioClip, AudioTrack, BeatGrid, MediaRef, Project, ProjectSettings
from app.model.bin_commands import (
    AddActsFromMedia,
    BinItem,
    ImportMedia,
    MediaKind,
    RemoveFromBin,
    bin_items,
    distinct_names,
    media_kind,
    new_act_frames,
)
from app.model.commands import Command, EditError
from app.model.history import History
from app.model.project_file import dumps_project

STILL = MediaRef(path="media/still.png")
SONG = MediaRef(path="media/song.MP3")
SKY = MediaRef(path="/elsewhere/sky.jpg")


def _project() -> Project:
    return Project(
        settings=ProjectSettings(fps=Fraction(24)),
        acts=[
            Act(id="a0", name="Intro", duration_frames=48, references=[MediaRef(path="intro.jpg")]),
            Act(id="a1", name="Outro", duration_frames=48, references=[MediaRef(path="intro.jpg"), STILL]),
        ],
        audio_tracks=[AudioTrack(), AudioTrack(name="Voice")],
        audio=[
            AudioClip(media=MediaRef(path="music.wav"), track=0),
            AudioClip(media=MediaRef(path="music.wav"), track=1, offset_frames=10),
            AudioClip(media=MediaRef(path="voice.flac"), track=1),
        ],
    )


def _run_undo_redo(history: History, command: Command) -> None:
    """Execute, undo and redo `command`, checking the document after each; undo restores it exactly."""
    before = dumps_project(history.project)
    history.execute(command)
    history.project.check_consistency()
    after = dumps_project(history.project)
    history.undo()
    history.project.check_consistency()
    assert dumps_project(history.project) == before
    history.redo()
    history.project.check_consistency()
    assert dumps_project(history.project) == after


def test_media_kind_follows_the_suffix_whatever_its_case() -> None:
    assert media_kind("a/b.JPG") is MediaKind.image
    assert media_kind("song.m4a") is MediaKind.audio
    assert media_kind("notes.txt") is None
    assert media_kind("look.cube") is None


def test_bin_lists_every_picture_and_sound_once_with_what_uses_it() -> None:
    project = _project()
    project.media_bin = [SONG, STILL]
    # Media in use that was never imported first, then the bin in import order.
    assert bin_items(project) == [
        BinItem(MediaRef(path="intro.jpg"), MediaKind.image, in_bin=False, used_by=("Intro", "Outro")),
        BinItem(
            MediaRef(path="music.wav"), MediaKind.audio, in_bin=False, used_by=("audio track 1", "Voice")
        ),
        BinItem(MediaRef(path="voice.flac"), MediaKind.audio, in_bin=False, used_by=("Voice",)),
        BinItem(SONG, MediaKind.audio, in_bin=True),
        BinItem(STILL, MediaKind.image, in_bin=True, used_by=("Outro",)),
    ]
    items = bin_items(project)
    assert [item.name for item in items] == ["intro.jpg", "music.wav", "voice.flac", "song.MP3", "still.png"]
    assert [item.used for item in items] == [True, True, True, False, True]


def test_luts_and_template_references_are_not_media_of_the_bin() -> None:
    project = _project()
    act = project.acts[0]
    act.grade = act.grade.model_copy(update={"lut": MediaRef(path="film.cube")})
    assert "film.cube" not in {item.ref.path for item in bin_items(project)}


def test_import_adds_new_files_once_and_undo_takes_them_out() -> None:
    history = History(_project())
    history.project.media_bin = [STILL]
    command = ImportMedia([SKY, STILL, SONG, SKY])
    _run_undo_redo(history, command)
    assert history.project.media_bin == [STILL, SKY, SONG]
    assert history.undo_label == "Import 2 files"


def test_importing_only_files_already_in_the_bin_is_refused_and_changes_nothing() -> None:
    history = History(_project())
    history.project.media_bin = [STILL]
    with pytest.raises(EditError, match=r"media/still\.png is already in the media bin"):
        history.execute(ImportMedia([STILL]))
    assert history.project.media_bin == [STILL] and not history.can_undo


def test_a_picture_used_by_an_act_can_still_be_imported_into_the_bin() -> None:
    history = History(_project())
    history.execute(ImportMedia([MediaRef(path="intro.jpg")]))
    item = next(item for item in bin_items(history.project) if item.ref.path == "intro.jpg")
    assert item.in_bin and item.used_by == ("Intro", "Outro")
    assert history.undo_label == "Import 1 file"


def _hashed(path: str, content: str) -> MediaRef:
    return MediaRef(path=path, sha256=hashlib.sha256(content.encode()).hexdigest())


def test_an_import_is_added_at_the_end_of_the_bin_and_moves_nothing() -> None:
    history = History(_project())
    history.project.media_bin = [SONG]
    before = [item.ref.path for item in bin_items(history.project)]
    history.execute(ImportMedia([SKY]))
    assert [item.ref.path for item in bin_items(history.project)] == [*before, SKY.path]


def test_a_copy_of_a_picture_already_listed_is_not_imported_again() -> None:
    project = _project()
    project.acts[0].references = [_hashed("intro.jpg", "cat")]
    history = History(project)
    copy = _hashed("../elsewhere/intro.jpg", "cat")
    with pytest.raises(
        EditError,
        match=r"^intro\.jpg is already in the bin \(same picture as intro\.jpg in the project folder\)$",
    ):
        history.execute(ImportMedia([copy]))
    assert history.project.media_bin == [] and not history.can_undo

    # With a new file beside it, the new one is imported and the copy is named as skipped.
    song = _hashed("media/song.wav", "tune")
    command = ImportMedia([copy, song, _hashed("media/song-again.wav", "tune")])
    _run_undo_redo(history, command)
    assert history.project.media_bin == [song]
    assert [str(skip) for skip in command.skipped] == [
        "intro.jpg is already in the bin (same picture as intro.jpg in the project folder)",
        "song-again.wav is already in the bin (same sound as media/song.wav)",
    ]
    assert [skip.existing for skip in command.skipped] == [project.acts[0].references[0], song]
    assert history.undo_label == "Import 1 file"


def test_files_with_the_same_name_are_told_apart_by_their_folders() -> None:
    paths = [
        PurePosixPath("/films/demo/02_chelsea.jpg"),
        PurePosixPath("/films/demo-copy/02_chelsea.jpg"),
        PurePosixPath("/films/demo/song.wav"),
        PurePosixPath("/a/shots/sky.jpg"),
        PurePosixPath("/b/shots/sky.jpg"),
    ]
    assert distinct_names(paths) == [
        "02_chelsea.jpg — demo/",
        "02_chelsea.jpg — demo-copy/",
        "song.wav",
        "sky.jpg — a/shots/",
        "sky.jpg — b/shots/",
    ]


def test_remove_from_bin_takes_out_bin_entries_only_and_media_in_use_stays_listed() -> None:
    history = History(_project())
    history.project.media_bin = [SONG, STILL, SKY]
    _run_undo_redo(history, RemoveFromBin([STILL.path, SKY.path, "intro.jpg"]))
    assert history.project.media_bin == [SONG]
    paths = [item.ref.path for item in bin_items(history.project)]
    assert STILL.path in paths and "intro.jpg" in paths  # still used by the acts
    assert SKY.path not in paths
    intro = MediaRef(path="intro.jpg")
    assert [act.references for act in history.project.acts] == [[intro], [intro, STILL]]  # untouched
    assert history.undo_label == "Remove 2 files from bin"
    history.undo()
    assert history.project.media_bin == [SONG, STILL, SKY]  # back in their places


def test_removing_media_that_is_only_used_by_acts_is_refused() -> None:
    history = History(_project())
    with pytest.raises(EditError, match=r"intro\.jpg is not in the media bin"):
        history.execute(RemoveFromBin(["intro.jpg"]))
    assert not history.can_undo


def test_add_acts_from_media_inserts_one_act_per_picture_as_one_step() -> None:
    history = History(_project())
    command = AddActsFromMedia([STILL, SKY], index=1, duration_frames=30)
    _run_undo_redo(history, command)
    acts = history.project.acts
    assert [act.name for act in acts] == ["Intro", "still", "sky", "Outro"]
    assert [act.duration_frames for act in acts[1:3]] == [30, 30]
    assert [act.references for act in acts[1:3]] == [[STILL], [SKY]]
    assert [act.id for act in acts[1:3]] == [act.id for act in command.acts]  # redo: the same acts
    assert history.undo_label == "Add 2 acts"


def test_add_acts_from_media_appends_by_default_with_the_length_a_dropped_picture_gets() -> None:
    project = _project()
    project.beats = BeatGrid(tempo=120.0)
    history = History(project)
    history.execute(AddActsFromMedia([STILL]))
    assert history.project.acts[-1].name == "still"
    assert history.project.acts[-1].duration_frames == new_act_frames(project) == 96  # 8 beats at 120 BPM
    assert new_act_frames(Project(settings=ProjectSettings(fps=Fraction(25)))) == 50  # no tempo: 2 seconds


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (AddActsFromMedia([STILL, SONG]), r"media/song\.MP3 is not a picture"),
        (AddActsFromMedia([]), "no pictures"),
        (AddActsFromMedia([STILL], index=5), r"act position 5 is outside 0\.\.2"),
        (AddActsFromMedia([STILL], duration_frames=0), "cannot be 0 frames long"),
    ],
)
def test_add_acts_from_media_refuses_bad_input_and_changes_nothing(command: Command, message: str) -> None:
    history = History(_project())
    before = dumps_project(history.project)
    with pytest.raises(EditError, match=message):
        history.execute(command)
    assert dumps_project(history.project) == before and not history.can_undo
