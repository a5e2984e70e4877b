"""In and out points in the editor: the keys that mark them, playback over the range, the transport's range
duration and the band on the timeline's ruler."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from statistics import median

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from app.engine.cache import StageCache
from app.engine.worker import DraftService
from app.model import Act, FrameRange, Project, ProjectSettings
from app.model.project_file import save_project
from app.model.range_commands import SetInOut
from app.model.recovery import RecoveryStore
from app.ui.document import DocumentController
from app.ui.main_window import MainWindow
from app.ui.playback import PlaybackController, TransportBar, play_span
from app.ui.preferences import Preferences
from app.ui.timeline import TimelineView
from app.ui.timeline.geometry import RowKind
from app.ui.timeline.style import Fonts, Palette
from app.ui.timeline.tracks import IN_OUT_ARM_PX, IN_OUT_BRACKET_PX
from tests.ui.test_playback import RATE, FakeClock, FakeStream, RampMixer, make_playback


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    """The assembled editor (as tests/ui/test_main_window.py builds it) on a 96-frame film at 24 fps."""
    path = tmp_path / "film.storybeat"
    project = Project(
        settings=ProjectSettings(fps=Fraction(24), width=64, height=36),
        acts=[Act(name="One", duration_frames=48, prompt="dawn"), Act(name="Two", duration_frames=48)],
    )
    save_project(project, path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    main = MainWindow(
        DocumentController(),
        DraftService(StageCache(tmp_path / "cache")),
        settings,
        RecoveryStore(tmp_path / "recovery"),
        Preferences.defaults(),
        restore_layout=False,
    )
    assert main.files.open(path)
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    qtbot.waitUntil(main.isActiveWindow)  # the menu shortcuts work in the active window
    yield main
    main.shutdown()
    main.document.history.mark_saved()
    main.close()
    main.deleteLater()


def _press(
    qtbot: QtBot, window: MainWindow, key: Qt.Key, modifier: Qt.KeyboardModifier | None = None
) -> None:
    qtbot.keyClick(window.timeline, key, modifier or Qt.KeyboardModifier.NoModifier)


def test_i_and_o_mark_the_range_and_shift_i_shift_o_and_alt_x_use_it(
    qtbot: QtBot, window: MainWindow
) -> None:
    document = window.document
    window.timeline.setFocus()
    document.set_playhead(6)
    _press(qtbot, window, Qt.Key.Key_I)
    assert document.project.in_out == FrameRange(start=6, end=96)
    document.set_playhead(29)
    _press(qtbot, window, Qt.Key.Key_O)
    assert document.project.in_out == FrameRange(start=6, end=30)  # the playhead's frame is the last one
    assert document.history.undo_label == "Mark out"
    label = window.transport.in_out_label
    assert not label.isHidden() and label.text() == "In–Out 00:00:01:00"

    _press(qtbot, window, Qt.Key.Key_O)  # where it already is: no undo step that does nothing
    document.undo()
    assert document.project.in_out == FrameRange(start=6, end=96)
    document.redo()

    document.set_playhead(60)
    _press(qtbot, window, Qt.Key.Key_I, Qt.KeyboardModifier.ShiftModifier)
    assert document.playhead == 6
    _press(qtbot, window, Qt.Key.Key_O, Qt.KeyboardModifier.ShiftModifier)
    assert document.playhead == 29

    _press(qtbot, window, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)
    assert document.project.in_out is None and document.history.undo_label == "Clear in and out"
    assert label.isHidden()
    document.undo()
    assert document.project.in_out == FrameRange(start=6, end=30)


def test_marking_changes_no_act_so_no_draft_is_rendered_again(qtbot: QtBot, window: MainWindow) -> None:
    drafts = window.drafts
    qtbot.waitUntil(lambda: drafts.wait_idle(0), timeout=30_000)
    first = drafts.act_draft(window.document.project.acts[0].id)
    assert first is not None
    window.timeline.setFocus()
    _press(qtbot, window, Qt.Key.Key_I)
    assert window.document.project.in_out is not None
    qtbot.waitUntil(lambda: drafts.wait_idle(0), timeout=30_000)
    assert drafts.act_draft(window.document.project.acts[0].id) is first  # the same proxy, not a new one


# -- playback over the range ---------------------------------------------------------------------------------


@pytest.fixture
def document() -> DocumentController:
    """96 frames at 24 fps, frames 24..47 marked."""
    project = Project(
        acts=[Act(duration_frames=48), Act(duration_frames=48)], in_out=FrameRange(start=24, end=48)
    )
    return DocumentController(project)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def playback(document: DocumentController, clock: FakeClock) -> Iterator[PlaybackController]:
    controller = make_playback(document, clock)
    yield controller
    controller.shutdown()


def _wait_for(qtbot: QtBot, document: DocumentController, frame: int) -> None:
    qtbot.waitUntil(lambda: document.playhead == frame, timeout=3000)


def test_loop_plays_over_the_range_and_starting_outside_jumps_to_the_in_point(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, playback: PlaybackController
) -> None:
    playback.set_loop(True)
    document.set_playhead(70)
    playback.play()
    assert document.playhead == 24
    clock.now = 0.5
    _wait_for(qtbot, document, 36)
    clock.now = 1.25  # 30 frames past the in point: wraps from the out point back into the range
    _wait_for(qtbot, document, 30)
    assert playback.is_playing


def test_loop_without_a_range_loops_over_the_film(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, playback: PlaybackController
) -> None:
    document.execute(SetInOut(None))
    playback.set_loop(True)
    document.set_playhead(90)
    playback.play()
    clock.now = 0.5
    _wait_for(qtbot, document, 6)


def test_playing_from_inside_the_range_stops_at_the_out_point_and_plays_it_again(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, playback: PlaybackController
) -> None:
    document.set_playhead(40)
    playback.play()
    clock.now = 1.0
    qtbot.waitUntil(lambda: not playback.is_playing, timeout=3000)
    assert document.playhead == 47
    playback.play()  # at the out point: the range plays again from its in point
    assert document.playhead == 24 and playback.is_playing


def test_playing_from_outside_the_range_plays_to_the_films_end(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, playback: PlaybackController
) -> None:
    document.set_playhead(60)
    playback.play()
    clock.now = 2.0
    qtbot.waitUntil(lambda: not playback.is_playing, timeout=3000)
    assert document.playhead == 95


def test_marking_a_range_while_looping_moves_play_into_it(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, playback: PlaybackController
) -> None:
    document.execute(SetInOut(None))
    playback.set_loop(True)
    document.set_playhead(80)
    playback.play()
    document.execute(SetInOut(FrameRange(start=10, end=20)))
    assert document.playhead == 10
    clock.now = 0.5  # 12 frames on: 10 + 12 wraps to 12
    _wait_for(qtbot, document, 12)


@pytest.mark.parametrize(
    ("marked", "playhead", "loop", "span"),
    [
        (None, 50, True, (0, 96)),
        (None, 50, False, (0, 96)),
        (FrameRange(start=24, end=48), 70, True, (24, 48)),
        (FrameRange(start=24, end=48), 30, False, (24, 48)),
        (FrameRange(start=24, end=48), 70, False, (0, 96)),
        (FrameRange(start=24, end=200), 30, True, (24, 96)),  # marked before the film was shortened
    ],
)
def test_play_span(marked: FrameRange | None, playhead: int, loop: bool, span: tuple[int, int]) -> None:
    assert play_span(marked, 96, playhead, loop) == span


@pytest.fixture
def fake_sounddevice(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeStream]]:
    FakeStream.opened = []
    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(OutputStream=FakeStream))
    yield FakeStream


def test_the_sound_loops_over_the_range_too(
    document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    playback = make_playback(document, clock, RampMixer())
    try:
        document.set_playhead(47)
        playback.set_loop(True)
        playback.play()
        block = fake_sounddevice.opened[-1].pull(4800, dac_time=1.0)
        first, start, end = 24 * RATE // 24, 47 * RATE // 24, 48 * RATE // 24
        expected = np.concatenate([np.arange(start, end), np.arange(first, first + 4800 - (end - start))])
        np.testing.assert_allclose(block[:, 0], expected / RATE, rtol=1e-6)
    finally:
        playback.shutdown()


def test_the_transport_bar_shows_the_ranges_duration(qtbot: QtBot, document: DocumentController) -> None:
    bar = TransportBar(make_playback(document, FakeClock()), document)
    qtbot.addWidget(bar)
    assert bar.in_out_label.text() == "In–Out 00:00:01:00"
    document.execute(SetInOut(FrameRange(start=0, end=36)))
    assert bar.in_out_label.text() == "In–Out 00:00:01:12"


# -- the ruler -------------------------------------------------------------------------------------------


def test_the_ruler_shows_the_marked_range_as_a_band(qtbot: QtBot, document: DocumentController) -> None:
    view = TimelineView(document, None)
    qtbot.addWidget(view)
    view.resize(800, view.sizeHint().height())
    view.show()
    qtbot.waitExposed(view)
    view.zoom_to_fit()
    geometry = view.timeline_geometry
    row = geometry.row(RowKind.ruler)

    def blueness(first: int, last: int) -> float:
        """How much bluer than red the ruler is between frames first..last (median over pixel columns)."""
        image = view.grab().toImage()
        y = row.top + row.height // 2
        xs = range(int(geometry.x_of(first)) + 3, int(geometry.x_of(last)) - 3)
        return median(image.pixelColor(x, y).blue() - image.pixelColor(x, y).red() for x in xs)

    inside, outside = blueness(26, 46), blueness(60, 90)
    assert inside > outside + 15
    document.execute(SetInOut(None))
    assert blueness(26, 46) == pytest.approx(outside, abs=3)


def test_the_in_and_out_brackets_stay_below_the_labels_and_show_beside_the_playhead(
    qtbot: QtBot, document: DocumentController
) -> None:
    document.execute(SetInOut(FrameRange(start=30, end=48)))
    document.set_playhead(47)  # on the last marked frame
    view = TimelineView(document, None)
    qtbot.addWidget(view)
    view.resize(800, view.sizeHint().height())
    view.show()
    qtbot.waitExposed(view)
    view.zoom_to_fit()
    geometry = view.timeline_geometry
    row = geometry.row(RowKind.ruler)
    bracket_top = row.bottom - 1 - IN_OUT_BRACKET_PX
    image = view.grab().toImage()

    def edge_pixels(left: int, right: int, top: int, bottom: int) -> int:
        return sum(
            image.pixelColor(x, y) == Palette.in_out_edge
            for x in range(left, right)
            for y in range(top, bottom)
        )

    # The in point lies under the label of second 1, which starts at frame 24: no mark crosses it.
    x0, label_x = int(geometry.x_of(30)), int(geometry.x_of(24)) + 4
    assert label_x < x0 < label_x + Fonts(view.font()).small_metrics.horizontalAdvance("00:00:01")
    assert edge_pixels(x0 - 2, x0 + 4, row.top, bracket_top) == 0
    assert edge_pixels(x0, x0 + 2, bracket_top, row.bottom - 1) == 2 * IN_OUT_BRACKET_PX  # "[" below it

    view.zoom_out()
    view.zoom_out()  # the playhead on the last marked frame now stands inside the "]"
    image = view.grab().toImage()
    x1, playhead = int(geometry.x_of(48)), int(geometry.x_of(47))
    assert x1 - IN_OUT_ARM_PX < playhead < x1
    assert image.pixelColor(playhead, bracket_top) == Palette.playhead
    for beside in (playhead - 1, playhead + 1):  # the bracket's arm shows either side of the playhead
        assert image.pixelColor(beside, bracket_top) == Palette.in_out_edge
    assert edge_pixels(x1 - IN_OUT_ARM_PX, x1, bracket_top, row.bottom - 1) >= 24
