"""PlaybackController and TransportBar: clocks, shuttle, step, loop, the audio master clock and muted mode."""

from __future__ import annotations

import builtins
import sys
import time
import types
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from app.model import Project
from app.model.act import Act
from app.model.project import ProjectSettings
from app.ui.document import DocumentController
from app.ui.playback import ElapsedClock, PlaybackController, TransportBar

if TYPE_CHECKING:
    from app.engine.worker import DraftService

RATE = 48_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def seconds(self) -> float:
        return self.now


class RampMixer:
    """Stands in for AudioMixer: sample n of the timeline has the value n / RATE in both channels."""

    sample_rate = RATE
    channels = 2

    def __init__(self) -> None:
        self.fail: Exception | None = None

    def render(self, start: int, count: int) -> np.ndarray:
        if self.fail is not None:
            raise self.fail
        ramp = (np.arange(start, start + count, dtype=np.float64) / RATE).astype(np.float32)
        return np.repeat(ramp[:, None], 2, axis=1)


class FakeDrafts(QObject):
    """The part of DraftService playback uses: mixer() and audio_ready."""

    audio_ready = Signal()

    def __init__(self, mixer: RampMixer | None = None) -> None:
        super().__init__()
        self.current_mixer = mixer

    def mixer(self) -> RampMixer | None:
        return self.current_mixer


class FakePortAudioError(Exception):
    pass


class FakeStream:
    """A sounddevice.OutputStream whose callback the test calls and whose clock the test sets."""

    opened: ClassVar[list[FakeStream]] = []

    def __init__(
        self,
        samplerate: int,
        channels: int,
        dtype: str,
        callback: Callable[..., None],
        device: str | None = None,
    ) -> None:
        assert (samplerate, channels, dtype) == (RATE, 2, "float32")
        self.callback = callback
        self.time = 0.0
        self.latency = 0.05
        self.closed = False
        FakeStream.opened.append(self)

    def start(self) -> None:
        pass

    def close(self, ignore_errors: bool = False) -> None:
        self.closed = True

    def pull(self, frames: int, dac_time: float) -> np.ndarray:
        """Run the callback as PortAudio would for one block; returns what it wrote."""
        out = np.full((frames, 2), 9.0, dtype=np.float32)
        self.callback(out, frames, types.SimpleNamespace(outputBufferDacTime=dac_time), None)
        return out


def make_playback(
    document: DocumentController, clock: Any, mixer: RampMixer | None = None, drafts: FakeDrafts | None = None
) -> PlaybackController:
    drafts = drafts or FakeDrafts(mixer)
    return PlaybackController(document, cast("DraftService", drafts), clock=clock)


@pytest.fixture
def fake_sounddevice(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeStream]]:
    FakeStream.opened = []
    module = types.SimpleNamespace(OutputStream=FakeStream, PortAudioError=FakePortAudioError)
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    yield FakeStream


@pytest.fixture
def document() -> DocumentController:
    """Two acts of 48 frames at 24 fps: 96 frames, 4 s."""
    project = Project(acts=[Act(duration_frames=48), Act(duration_frames=48)])
    return DocumentController(project)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def controller(qtbot: QtBot, document: DocumentController, clock: FakeClock) -> Iterator[PlaybackController]:
    playback = make_playback(document, clock)
    yield playback
    playback.shutdown()


def wait_for_playhead(qtbot: QtBot, document: DocumentController, frame: int) -> None:
    qtbot.waitUntil(lambda: document.playhead == frame, timeout=3000)


@pytest.mark.parametrize(("fps", "after_1s"), [(Fraction(24), 24), (Fraction(30000, 1001), 29)])
def test_play_advances_the_playhead_at_the_project_rate(
    qtbot: QtBot, clock: FakeClock, fps: Fraction, after_1s: int
) -> None:
    project = Project(settings=ProjectSettings(fps=fps), acts=[Act(duration_frames=200)])
    document = DocumentController(project)
    playback = make_playback(document, clock)
    try:
        playback.play()
        assert playback.is_playing and playback.speed == 1
        clock.now = 1.0
        wait_for_playhead(qtbot, document, after_1s)
        clock.now = 2.5
        wait_for_playhead(qtbot, document, int(2.5 * fps))
    finally:
        playback.shutdown()


def test_real_clock_moves_the_playhead_in_proportion_to_elapsed_time(
    qtbot: QtBot, document: DocumentController
) -> None:
    playback = make_playback(document, ElapsedClock())
    try:
        started = time.monotonic()
        playback.play()
        qtbot.waitUntil(lambda: document.playhead >= 8, timeout=5000)
        qtbot.wait(150)
        playback.pause()
        elapsed = time.monotonic() - started
    finally:
        playback.shutdown()
    # Never ahead of real time; behind by at most a few frames plus what a slow machine delays the timer.
    assert 8 <= document.playhead <= elapsed * 24 + 1
    assert document.playhead >= elapsed * 24 * 0.5 - 2


def test_shuttle_speeds_double_up_to_eight_and_k_stops(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, controller: PlaybackController
) -> None:
    speeds = []
    for direction in (1, 1, 1, 1, 1, -1, -1, 1):
        controller.shuttle(direction)
        speeds.append(controller.speed)
    assert speeds == [1, 2, 4, 8, 8, -1, -2, 1]

    controller.shuttle(0)
    assert not controller.is_playing and controller.speed == 0


def test_shuttle_forward_and_backward_move_at_their_speed(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, controller: PlaybackController
) -> None:
    for _ in range(3):
        controller.shuttle(1)  # 4x
    clock.now = 0.25
    wait_for_playhead(qtbot, document, 24)  # 0.25 s * 24 fps * 4

    controller.shuttle(-1)
    controller.shuttle(-1)  # -2x from frame 24
    clock.now = 0.5
    wait_for_playhead(qtbot, document, 12)


def test_step_pauses_and_moves_by_frames_within_the_timeline(
    document: DocumentController, controller: PlaybackController
) -> None:
    controller.play()
    controller.step(5)
    assert not controller.is_playing and document.playhead == 5
    controller.step(-10)
    assert document.playhead == 0
    controller.step(500)
    assert document.playhead == 95


def test_stops_at_the_end_when_not_looping(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, controller: PlaybackController
) -> None:
    document.set_playhead(90)
    controller.play()
    clock.now = 1.0
    qtbot.waitUntil(lambda: not controller.is_playing, timeout=3000)
    assert document.playhead == 95

    controller.play()  # at the end: play starts over
    assert document.playhead == 0 and controller.is_playing


def test_loop_wraps_forwards_and_backwards(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, controller: PlaybackController
) -> None:
    controller.set_loop(True)
    document.set_playhead(90)
    controller.play()
    clock.now = 0.5
    wait_for_playhead(qtbot, document, 6)  # 90 + 12 = 102 -> 6
    assert controller.is_playing

    document.set_playhead(3)  # a scrub while playing: play on from there
    controller.shuttle(-1)
    clock.now = 0.75
    wait_for_playhead(qtbot, document, 93)  # 3 - 6 = -3 -> 93


def test_scrubbing_while_playing_continues_from_the_new_frame(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, controller: PlaybackController
) -> None:
    controller.play()
    clock.now = 0.5
    wait_for_playhead(qtbot, document, 12)
    document.set_playhead(50)
    clock.now = 1.0
    wait_for_playhead(qtbot, document, 62)


def test_muted_with_one_notice_when_portaudio_is_missing(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def import_without_portaudio(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_portaudio)
    messages: list[str] = []
    document.message.connect(messages.append)
    playback = make_playback(document, clock, RampMixer())
    try:
        playback.play()
        playback.pause()
        playback.play()
        assert not playback.audio_playing
        clock.now = 1.0
        wait_for_playhead(qtbot, document, 24)  # the timer clock runs instead
    finally:
        playback.shutdown()
    assert messages == [
        "No audio playback: the PortAudio sound library is not installed, so playback is muted"
    ]


def test_muted_with_one_notice_when_there_is_no_output_device(
    document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    def no_device(*args: Any, **kwargs: Any) -> None:
        raise FakePortAudioError("Error querying device -1")

    sys.modules["sounddevice"].OutputStream = no_device  # type: ignore[attr-defined]
    messages: list[str] = []
    document.message.connect(messages.append)
    playback = make_playback(document, clock, RampMixer())
    try:
        for _ in range(3):
            playback.play()
            playback.pause()
    finally:
        playback.shutdown()
    assert messages == ["No audio output device: playback is muted"]  # not PortAudio's words


def test_the_muted_notice_names_the_output_device_that_failed(
    document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    def busy(*args: Any, **kwargs: Any) -> None:
        raise FakePortAudioError("Error opening OutputStream: Device unavailable [PaErrorCode -9985]")

    module = sys.modules["sounddevice"]
    module.OutputStream = busy  # type: ignore[attr-defined]
    default = {"name": "HDA Intel PCH: ALC892 Analog", "max_output_channels": 2}
    module.query_devices = lambda kind=None: default  # type: ignore[attr-defined]
    for device, expected in (
        (None, "Audio output 'HDA Intel PCH: ALC892 Analog' could not be opened: playback is muted"),
        (
            "USB Headset",
            "Audio output 'USB Headset' is not available: playback is muted (choose another in Preferences)",
        ),
    ):
        messages: list[str] = []
        document.message.connect(messages.append)
        playback = make_playback(document, clock, RampMixer())
        playback.output_device = device
        try:
            playback.play()
        finally:
            playback.shutdown()
            document.message.disconnect(messages.append)
        assert messages == [expected]


def test_the_audio_stream_is_the_clock_at_1x(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    document.set_playhead(24)  # 1 s: sample 48000
    playback = make_playback(document, clock, RampMixer())
    try:
        playback.play()
        assert playback.audio_playing
        (stream,) = fake_sounddevice.opened
        block = stream.pull(480, dac_time=10.0)
        np.testing.assert_allclose(block[:, 0], (RATE + np.arange(480)) / RATE, rtol=1e-6)

        clock.now = 30.0  # wall time is ignored while the audio plays
        stream.time = 10.5  # half a second after the block's first sample reached the DAC
        wait_for_playhead(qtbot, document, 36)
        stream.time = 10.25  # a clock that jitters backwards never moves the picture back
        qtbot.wait(60)
        assert document.playhead == 36

        playback.shuttle(1)  # 2x: the audio stops and the timer clock takes over from here
        assert stream.closed and not playback.audio_playing
        clock.now = 30.5
        wait_for_playhead(qtbot, document, 36 + 24)
    finally:
        playback.shutdown()


def test_without_stream_times_the_clock_is_what_was_written_minus_latency(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    document.set_playhead(24)
    playback = make_playback(document, clock, RampMixer())
    try:
        playback.play()
        stream = fake_sounddevice.opened[0]
        stream.pull(RATE, dac_time=0.0)  # one second written; the host API gives no DAC time
        # 96000 written - 0.05 s latency (2400) = sample 93600 = 1.95 s = frame 46.8
        wait_for_playhead(qtbot, document, 46)
    finally:
        playback.shutdown()


def test_audio_ready_hands_the_clock_to_a_new_mix_once(
    document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    drafts = FakeDrafts()
    playback = make_playback(document, clock, drafts=drafts)
    try:
        playback.play()
        assert not playback.audio_playing and not fake_sounddevice.opened  # no mix yet: the timer runs

        drafts.current_mixer = RampMixer()
        drafts.audio_ready.emit()
        assert playback.audio_playing and len(fake_sounddevice.opened) == 1
        drafts.audio_ready.emit()  # the same mix again: the stream plays on
        assert len(fake_sounddevice.opened) == 1 and not fake_sounddevice.opened[0].closed
    finally:
        playback.shutdown()


def test_audio_loops_over_the_timeline_and_is_silent_past_the_end(
    document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    end = 96 * RATE // 24  # 4 s
    playback = make_playback(document, clock, RampMixer())
    try:
        document.set_playhead(95)
        playback.set_loop(True)
        playback.play()
        block = fake_sounddevice.opened[-1].pull(4800, dac_time=1.0)
        start = 95 * RATE // 24
        expected = np.concatenate([np.arange(start, end), np.arange(0, 4800 - (end - start))]) / RATE
        np.testing.assert_allclose(block[:, 1], expected, rtol=1e-6)

        playback.set_loop(False)  # restarts the stream from the playhead, now stopping at the end
        assert fake_sounddevice.opened[-2].closed
        block = fake_sounddevice.opened[-1].pull(4800, dac_time=2.0)
        assert np.all(block[end - start :] == 0) and block[0, 0] == pytest.approx(start / RATE)
    finally:
        playback.shutdown()
    assert all(stream.closed for stream in fake_sounddevice.opened)


def test_an_audio_read_failure_goes_muted_and_keeps_playing(
    qtbot: QtBot, document: DocumentController, clock: FakeClock, fake_sounddevice: type[FakeStream]
) -> None:
    mixer = RampMixer()
    messages: list[str] = []
    document.message.connect(messages.append)
    playback = make_playback(document, clock, mixer)
    try:
        playback.play()
        mixer.fail = OSError("pcm file vanished")
        block = fake_sounddevice.opened[0].pull(256, dac_time=1.0)
        assert np.all(block == 0)
        qtbot.waitUntil(lambda: not playback.audio_playing, timeout=3000)
        assert playback.is_playing and fake_sounddevice.opened[0].closed
        clock.now = 1.0
        wait_for_playhead(qtbot, document, 24)
    finally:
        playback.shutdown()
    assert messages == ["The music could not be read (pcm file vanished): playback goes on muted"]


def test_transport_bar_buttons_drive_playback(
    qtbot: QtBot, document: DocumentController, controller: PlaybackController
) -> None:
    bar = TransportBar(controller, document)
    qtbot.addWidget(bar)
    tooltips = " ".join(button.toolTip() for button in bar.buttons.values())
    for key in ("Space", "(J)", "(K)", "(L)", "←", "→"):
        assert key in tooltips

    bar.buttons["step_forward"].click()
    assert document.playhead == 1 and bar.timecode_label.text().startswith("00:00:00:01 / 00:00:04:00")
    bar.buttons["forward"].click()
    bar.buttons["forward"].click()
    assert controller.speed == 2 and bar.speed_label.text() == "▶ 2x"
    bar.buttons["play"].click()
    assert not controller.is_playing and bar.speed_label.text() == "Paused"
    bar.loop_button.click()
    assert controller.loop
    controller.set_loop(False)
    assert not bar.loop_button.isChecked()
