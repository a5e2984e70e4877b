"""Building a project from images and a beat analysis: cuts on beats counted from the first downbeat."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from app.engine.audio.analysis import SectionInfo
from app.engine.audio.beats import BeatAnalysis
from app.engine.builder import ActSource, act_sources, apply_pacing, build_project, cut_times
from app.errors import InputError, MediaError

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"

# 120 BPM with a pickup: the first downbeat is the third detected beat.
BEATS = BeatAnalysis(
    tempo=120.0,
    beats=tuple(0.5 * i for i in range(1, 21)),
    downbeats=tuple(0.5 * i for i in range(3, 21, 4)),
    duration_s=10.5,
)


def test_cuts_fall_every_n_beats_from_the_first_downbeat() -> None:
    assert cut_times(BEATS, acts=2, beats_per_act=4) == [3.5, 5.5]
    # beyond the detected beats the grid continues at the tempo
    assert cut_times(BEATS, acts=3, beats_per_act=8) == [5.5, 9.5, 10.0 + 3.5]


def test_images_and_prompts_pair_up() -> None:
    sources = act_sources([Path("a.jpg")], ["dawn", "dusk"])
    assert sources == [ActSource(Path("a.jpg"), "dawn"), ActSource(None, "dusk")]
    with pytest.raises(InputError, match="at least one"):
        act_sources([], [])


def test_build_project_references_media_relatively(tmp_path: Path) -> None:
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"RIFF")  # only hashed here, not decoded
    image = DEMO / "02_chelsea.jpg"
    project = build_project(
        tmp_path / "film.storybeat",
        [ActSource(image, "cat"), ActSource(None, "dusk")],
        audio,
        BEATS,
        Fraction(24),
        (640, 360),
        4,
    )
    assert [a.duration_frames for a in project.acts] == [84, 48]
    assert project.acts[0].references[0].sha256 is not None
    assert project.audio[0].media.path == "song.wav"
    assert project.beats.tempo == 120.0
    project.check_consistency()


def test_a_bad_image_is_reported_before_anything_is_built(tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("not a picture")
    with pytest.raises(MediaError, match=r"photo\.png"):
        build_project(
            tmp_path / "f.storybeat", [ActSource(fake, "")], fake, BEATS, Fraction(24), (640, 360), 4
        )


def test_pacing_a_new_project_keeps_the_first_beat_off_the_cuts_and_spans_the_song(tmp_path: Path) -> None:
    # As the demo music: the first beat 0.026 s in (frame 1 at 24 fps), bars of 4 beats, 19 s of song.
    beats = tuple(round(0.026 + 0.5 * i, 6) for i in range(37))
    analysis = BeatAnalysis(
        tempo=120.0,
        beats=beats,
        downbeats=beats[::4],
        duration_s=19.0,
        sections=(SectionInfo(0.0, 19.0, "A", 0.6),),
    )
    audio = tmp_path / "song.wav"
    audio.write_bytes(b"RIFF")
    sources = [ActSource(None, f"scene {i}") for i in range(4)]
    project = build_project(tmp_path / "film.storybeat", sources, audio, analysis, Fraction(24), (64, 36), 8)

    before = [act.duration_frames for act in project.acts]
    result = apply_pacing(project, "downbeats")

    durations = [act.duration_frames for act in project.acts]
    retimed = sum(a != b for a, b in zip(before, durations, strict=True))
    assert min(durations) >= 12  # never the one-frame act the first beat used to make
    assert project.duration_frames == 19 * 24
    assert set(project.cut_frames()) <= set(project.beats.beat_frames(Fraction(24)))
    assert result.acts_needed == 9 + 1 - 4  # 9 downbeats after the first make 10 bars
    assert result.summary == (
        f"Cut on downbeats: {retimed} acts re-timed, {result.acts_needed} more acts would cover the song"
    )
