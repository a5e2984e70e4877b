"""The project's audio mix (render.audio_mixer, used by export and playback): muted tracks are left out."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.engine.cache import StageCache
from app.engine.pipeline import ActPipeline
from app.engine.render import EXPORT_SAMPLE_RATE, audio_mixer, render_project
from app.model import Act, AudioClip, AudioTrack, MediaRef, Project, ProjectSettings
from app.model.audio_commands import SetAudioTrack
from app.model.history import History
from tests.engine.audio_fixtures import tone, write_wav

SECOND = EXPORT_SAMPLE_RATE


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    write_wav(tmp_path / "music.wav", tone(220.0, 1.0, EXPORT_SAMPLE_RATE, amplitude=0.5), EXPORT_SAMPLE_RATE)
    write_wav(tmp_path / "voice.wav", tone(660.0, 1.0, EXPORT_SAMPLE_RATE, amplitude=0.5), EXPORT_SAMPLE_RATE)
    return tmp_path


def _project() -> Project:
    """One second of film: music on A1 for the first second, a voice on A2 for the second second."""
    return Project(
        settings=ProjectSettings(fps=Fraction(12), width=32, height=32),
        acts=[Act(id="a0", name="A", duration_frames=24)],
        audio=[
            AudioClip(id="music", media=MediaRef(path="music.wav"), track=0),
            AudioClip(id="voice", media=MediaRef(path="voice.wav"), track=1, offset_frames=12),
        ],
        audio_tracks=[AudioTrack(), AudioTrack(name="Voice")],
    )


def _peak(samples: np.ndarray) -> float:
    return float(np.abs(samples).max())


def test_a_muted_track_is_left_out_of_the_mix(project_dir: Path) -> None:
    project = _project()
    pipeline = ActPipeline(project_dir, StageCache())
    both = audio_mixer(project, pipeline)
    assert both is not None
    assert _peak(both.render(SECOND + 100, 1000)) > 0.4  # the voice plays in the second second

    History(project).execute(SetAudioTrack(1, muted=True))
    mixer = audio_mixer(project, pipeline)
    assert mixer is not None
    assert _peak(mixer.render(SECOND + 100, 1000)) == 0.0  # the voice is gone
    np.testing.assert_array_equal(mixer.render(100, 1000), both.render(100, 1000))  # the music is not


def test_with_every_track_muted_the_mix_is_silence_of_the_asked_length(project_dir: Path) -> None:
    project = _project()
    project.audio_tracks = [AudioTrack(muted=True), AudioTrack(muted=True)]
    mixer = audio_mixer(project, ActPipeline(project_dir, StageCache()))
    assert mixer is not None, "muted audio is silence, not no audio"
    out = mixer.render(0, 2 * SECOND)
    assert out.shape == (2 * SECOND, 2) and not out.any()
    assert audio_mixer(Project(), ActPipeline(project_dir, StageCache())) is None  # no clips: no audio


def test_an_export_whose_only_track_is_muted_has_a_silent_audio_stream(project_dir: Path) -> None:
    project = _project()
    project.audio = project.audio[:1]
    project.audio_tracks = [AudioTrack(muted=True)]
    out = render_project(project, project_dir, project_dir / "film.mp4", draft=True)
    with av.open(str(out)) as container:
        assert container.streams.audio, "the export keeps its audio stream"
        samples = np.concatenate([frame.to_ndarray().ravel() for frame in container.decode(audio=0)])
    assert len(samples) > 0 and _peak(samples) < 1e-4
