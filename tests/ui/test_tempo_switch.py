"""Music ▸ Half Tempo / Double Tempo in the editor: one click switches the grid, cuts stay on beats, undo."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from app.engine.audio.beats import analyze_beats
from app.engine.builder import ActSource, build_project
from app.model.beat_commands import SetTempoFromTaps
from app.model.project_file import dumps_project, save_project
from app.ui.main_window import MainWindow
from tests.engine.audio_fixtures import drum_track, write_wav
from tests.ui.test_main_window import Editor


@pytest.fixture
def editor(qtbot: QtBot, tmp_path: Path) -> Iterator[Editor]:
    made = Editor(qtbot, tmp_path / "editor")
    (tmp_path / "editor").mkdir()
    yield made
    made.close_all()


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    """Four acts cut every 3 beats of a 120 BPM groove: the cuts alternate between the beats the half-tempo
    grid keeps and those it drops."""
    track = drum_track(120.0, 16.0, lead_in_s=0.0)
    song = write_wav(tmp_path / "song.wav", track.samples, track.sample_rate)
    path = tmp_path / "film.storybeat"
    sources = [ActSource(None, f"act {i}") for i in range(4)]
    project = build_project(path, sources, song, analyze_beats(song), Fraction(24), (160, 96), 3)
    save_project(project, path)
    return path


def _music_menu(window: MainWindow) -> QMenu:
    return next(action.menu() for action in window.menuBar().actions() if action.text() == "&Music")


def _music_action(window: MainWindow, text: str) -> QAction:
    return next(action for action in _music_menu(window).actions() if action.text() == text)


def test_half_tempo_halves_the_grid_keeps_cuts_on_beats_and_undoes(
    editor: Editor, project_path: Path
) -> None:
    window = editor.open(project_path)
    project = window.document.project
    fps = project.settings.fps
    before = dumps_project(project)
    old_tempo, old_cuts = project.beats.tempo, project.cut_frames()
    half, double = _music_action(window, "&Half Tempo"), _music_action(window, "&Double Tempo")
    assert half.isEnabled() and double.isEnabled()

    half.trigger()

    beats = project.beats.beat_frames(fps)
    assert project.beats.tempo == pytest.approx(old_tempo / 2, rel=0.02)
    assert all(cut in beats for cut in project.cut_frames())
    kept = [cut for cut in old_cuts if cut in beats]
    assert kept and set(kept) <= set(project.cut_frames())  # cuts on kept beats did not move
    assert project.cut_frames() != old_cuts  # the others moved onto the half grid
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Tempo {old_tempo:.0f} → {project.beats.tempo:.0f} BPM; ")
    assert "moved to the nearest beat" in message
    assert window.document.history.undo_label == "Half tempo"
    project.check_consistency()

    _music_action(window, "&Double Tempo").trigger()  # back to the detected level
    assert project.beats.tempo == old_tempo
    window.document.undo()
    window.document.undo()
    assert dumps_project(project) == before


def test_without_the_level_the_entries_are_disabled_and_say_why(editor: Editor, project_path: Path) -> None:
    window = editor.open(project_path)
    window.document.execute(SetTempoFromTaps([1.0, 1.5, 2.0, 2.5]))  # a tapped grid has no other levels
    half = _music_action(window, "&Half Tempo")
    assert not half.isEnabled() and not _music_action(window, "&Double Tempo").isEnabled()
    assert half.statusTip().startswith("No half-tempo grid to switch to")
    assert half.toolTip() == half.statusTip()  # shown on the greyed-out entry, where no status tip appears
    assert _music_menu(window).toolTipsVisible()
    tapped = dumps_project(window.document.project)

    window.music.switch_tempo("half")  # reached anyway (e.g. by a stale menu): refused with the reason

    assert window.statusBar().currentMessage().startswith("No half-tempo grid to switch to")
    assert dumps_project(window.document.project) == tapped
    window.document.undo()  # the tap is undone: the analysed grid and its levels are back
    assert half.isEnabled()
