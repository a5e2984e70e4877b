"""Playback: a clock that moves the playhead at the project frame rate, and the transport bar that drives it.

At 1x forward with an audio output the audio stream is the master clock: the frame shown is the one under
the sample being heard, so video frames are dropped rather than drifting from the sound. Otherwise (shuttle
speeds, reverse, no audio, no device) a monotonic clock is. sounddevice is imported on first play: it loads
PortAudio, which may be missing or have no output device; the editor then plays muted and says so once, in
the user's words (`muted_notice`: which device, what happened), never in PortAudio's ("Error querying
device -1"), which goes to the log.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStyle, QToolButton, QWidget

from app.model import FrameRange
from app.model.commands import Changes
from app.model.timebase import timecode
from app.ui.document import DocumentController

if TYPE_CHECKING:
    from app.engine.audio.mix import AudioMixer
    from app.engine.worker import DraftService

_log = logging.getLogger(__name__)

#: Shuttle speeds reached by pressing J or L repeatedly (timeline frames per real-time frame).
MAX_SHUTTLE_SPEED = 8
NO_PORTAUDIO_NOTICE = "No audio playback: the PortAudio sound library is not installed, so playback is muted"
NO_DEVICE_NOTICE = "No audio output device: playback is muted"


def muted_notice(device: str | None, default_device: str | None) -> str:
    """The status-bar line when the output stream cannot be opened: the device chosen in Preferences
    (`device`), else the system's default output (`default_device`, None when there is none)."""
    if device is not None:
        return f"Audio output '{device}' is not available: playback is muted (choose another in Preferences)"
    if default_device is not None:
        return f"Audio output '{default_device}' could not be opened: playback is muted"
    return NO_DEVICE_NOTICE


class Clock(Protocol):
    def seconds(self) -> float:
        """Monotonic time in seconds (any origin)."""
        ...


class ElapsedClock:
    """Seconds since construction from QElapsedTimer (monotonic, the clock Qt's timers use)."""

    def __init__(self) -> None:
        self._timer = QElapsedTimer()
        self._timer.start()

    def seconds(self) -> float:
        return self._timer.nsecsElapsed() / 1e9


class AudioOutput:
    """The mix played from timeline sample `start` through a sounddevice OutputStream.

    Samples are counted unwrapped (start + samples written so far); with `loop` they wrap from `end` back to
    `first` (the in point, or 0). The stream callback runs on PortAudio's thread: it only copies samples from
    the mixer (which reads PCM from disk) and records when its block reaches the DAC; it never touches Qt.
    The GUI thread reads `position()` and `error`.
    """

    def __init__(
        self,
        sounddevice: Any,
        mixer: AudioMixer,
        start: int,
        end: int,
        loop: bool,
        device: str | None = None,
        first: int = 0,
    ) -> None:
        self.rate = mixer.sample_rate
        self.mixer = mixer
        self.error: str | None = None
        self._first = first
        self._end = end
        self._loop = loop
        self._written = start
        self._timing: tuple[int, float] | None = None  # first sample of the latest block, its DAC time
        self._audible = float(start)
        self._stream = sounddevice.OutputStream(
            samplerate=self.rate,
            channels=mixer.channels,
            dtype="float32",
            callback=self._on_stream_callback,
            device=device,
        )
        try:
            self._stream.start()
        except BaseException:
            self._stream.close(ignore_errors=True)
            raise

    def position(self) -> float | None:
        """The unwrapped sample heard now (never earlier than the last answer); None before any block."""
        timing = self._timing  # one tuple, replaced whole by the callback: read it once
        if timing is None:
            return None
        first, dac_time = timing
        now = self._stream.time
        if dac_time > 0 and now > 0:
            audible = first + (now - dac_time) * self.rate
        else:  # some host APIs report no stream times: what was written minus what the device still buffers
            audible = self._written - self._stream.latency * self.rate
        self._audible = max(self._audible, audible)
        return self._audible

    def close(self) -> None:
        """Stop at once (pending buffers are dropped) and release the device; idempotent."""
        self._stream.close(ignore_errors=True)

    def _on_stream_callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        first = self._written
        try:
            self._fill(outdata, first)
        except Exception as error:  # raising here would kill PortAudio's thread: the GUI thread reports it
            outdata.fill(0)
            self.error = str(error) or type(error).__name__
        self._timing = (first, float(time.outputBufferDacTime))
        self._written = first + frames

    def _fill(self, out: np.ndarray, first: int) -> None:
        out.fill(0)
        done = 0
        while done < len(out):
            sample = first + done
            if self._loop:
                sample = self._first + (sample - self._first) % (self._end - self._first)
            elif sample >= self._end:
                return
            count = min(len(out) - done, self._end - sample)
            out[done : done + count] = self.mixer.render(sample, count)
            done += count


def play_span(marked: FrameRange | None, duration: int, playhead: int, loop: bool) -> tuple[int, int]:
    """The frames [first, end) a play starting at `playhead` stays within, given the in/out range `marked`.

    As in Resolve: with loop on and a range marked, play loops over the range (the caller moves a playhead
    outside it to the in point); with loop off, a play that starts inside the range stops at its out point
    (backwards: its in point), one that starts outside it plays to the film's end. Without a range: the film.
    """
    marked = marked.clipped(duration) if marked is not None else None
    if marked is not None and (loop or marked.start <= playhead < marked.end):
        return marked.start, marked.end
    return 0, duration


def _default_output(sounddevice: Any) -> str | None:
    """The name of the system's default output device, or None when there is none (PortAudio's query
    fails then)."""
    try:
        found = sounddevice.query_devices(kind="output")
    except Exception:  # PortAudioError, ValueError: no default output
        return None
    name = found.get("name") if isinstance(found, dict) else None
    return str(name) if name else None


class PlaybackController(QObject):
    """Plays the timeline by moving `document.playhead` (see the module docstring for the clocks).

    `speed` is timeline frames per real-time frame: 0 stopped, 1 normal, negative backwards.
    """

    #: Playing, speed or loop changed.
    state_changed = Signal()

    def __init__(
        self,
        document: DocumentController,
        drafts: DraftService,
        clock: Clock | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._drafts = drafts
        self._clock = clock or ElapsedClock()
        self._speed = 0
        self._loop = False
        self._span = (0, 0)  # the frames [first, end) the current play stays within (see play_span)
        self._anchor_frame = 0.0  # the timer clock: the frame shown at `_anchor_time` (seconds)
        self._anchor_time = 0.0
        self._shown_frame = 0  # the frame this controller last put on the playhead
        self._audio: AudioOutput | None = None
        self._sounddevice: Any = None
        self._sounddevice_missing = False
        self._muted_notice_shown = False
        #: PortAudio output device name (Preferences › Audio output); None = the system default.
        self.output_device: str | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)
        document.playhead_changed.connect(self._on_document_playhead_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        drafts.audio_ready.connect(self._on_drafts_audio_ready)

    @property
    def speed(self) -> int:
        return self._speed

    @property
    def is_playing(self) -> bool:
        return self._speed != 0

    @property
    def loop(self) -> bool:
        return self._loop

    @property
    def audio_playing(self) -> bool:
        """Whether the audio stream is the clock right now (False when muted or not at 1x)."""
        return self._audio is not None

    # -- transport -----------------------------------------------------------------------------------------

    @Slot()
    def play(self) -> None:
        """Play forwards at 1x (from the start when the playhead is at the end and loop is off)."""
        if self._speed != 1:
            self._rewind_if_at_end(1)
            self._run(1)

    @Slot()
    def pause(self) -> None:
        if self._speed != 0:
            self._run(0)

    @Slot()
    def toggle_play(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    @Slot(int)
    def shuttle(self, direction: int) -> None:
        """J (-1) / K (0) / L (+1): K stops; J or L again the same way doubles the speed, up to 8x."""
        if direction == 0:
            self.pause()
            return
        sign = 1 if direction > 0 else -1
        same_way = self._speed * sign > 0
        magnitude = min(abs(self._speed) * 2, MAX_SHUTTLE_SPEED) if same_way else 1
        self._rewind_if_at_end(sign)
        self._run(sign * magnitude)

    @Slot(int)
    def step(self, frames: int) -> None:
        """Stop and move the playhead by `frames` (negative: backwards), clamped to the timeline."""
        self.pause()
        self._document.set_playhead(self._document.playhead + frames)

    @Slot(bool)
    def set_loop(self, enabled: bool) -> None:
        """Loop over the in/out range (the whole timeline when none is marked) instead of stopping."""
        if enabled == self._loop:
            return
        self._loop = enabled
        if self.is_playing:
            self._run(self._speed)  # the audio stream snapshots the loop: restart it from here
        self.state_changed.emit()

    @Slot()
    def shutdown(self) -> None:
        """Stop playing and close the audio stream; idempotent."""
        self._timer.stop()
        self._close_audio()
        self._speed = 0

    # -- clocks --------------------------------------------------------------------------------------------

    def _rewind_if_at_end(self, direction: int) -> None:
        """Starting from a stop at the end (backwards: the start) without loop plays from the other end; the
        end of the in/out range when the playhead is in it."""
        if self.is_playing or self._loop:
            return
        project, playhead = self._document.project, self._document.playhead
        first, end = play_span(project.in_out, project.duration_frames, playhead, loop=False)
        last = max(first, end - 1)
        if direction > 0 and playhead >= last:
            self._document.set_playhead(first)
        elif direction < 0 and playhead <= first:
            self._document.set_playhead(last)

    def _run(self, speed: int, with_audio: bool = True) -> None:
        """(Re)start the clock at `speed` from the current playhead; 0 stops."""
        self._close_audio()
        project = self._document.project
        duration = project.duration_frames
        if duration == 0:
            speed = 0
        self._span = play_span(project.in_out, duration, self._document.playhead, self._loop)
        if speed != 0 and not self._span[0] <= self._document.playhead < self._span[1]:
            self._shown_frame = self._span[0]  # our own move: the playhead handler must not restart play
            self._document.set_playhead(self._span[0])  # looping over the range from outside it
        start = self._document.playhead
        self._shown_frame = start
        self._anchor_frame = float(start)
        self._anchor_time = self._clock.seconds()
        changed = speed != self._speed
        self._speed = speed
        if speed == 0:
            self._timer.stop()
        else:
            if speed == 1 and with_audio:
                self._audio = self._open_audio(start, *self._span)
            # Twice per frame: a tick landing just before a frame boundary would otherwise hold a frame twice.
            fps = float(self._document.project.settings.fps)
            self._timer.start(max(4, int(500 / fps)))
        if changed:
            self.state_changed.emit()

    def _open_audio(self, start_frame: int, first_frame: int, end_frame: int) -> AudioOutput | None:
        mixer = self._drafts.mixer()
        if mixer is None:
            return None  # nothing to hear (no audio, or not decoded yet): the timer clock runs
        sounddevice = self._load_sounddevice()
        if sounddevice is None:
            return None
        fps = self._document.project.settings.fps
        start, first, end = (
            round(frame / fps * mixer.sample_rate) for frame in (start_frame, first_frame, end_frame)
        )
        try:
            return AudioOutput(sounddevice, mixer, start, end, self._loop, self.output_device, first)
        except (sounddevice.PortAudioError, OSError, ValueError) as error:  # no device, busy, bad format
            _log.warning("cannot open the audio output: %s", error)
            self._notify_muted(muted_notice(self.output_device, _default_output(sounddevice)))
            return None

    def _load_sounddevice(self) -> Any:
        if self._sounddevice is None and not self._sounddevice_missing:
            try:
                import sounddevice
            except (ImportError, OSError) as error:  # OSError: the PortAudio library is not installed
                _log.warning("cannot load sounddevice: %s", error)
                self._sounddevice_missing = True
                self._notify_muted(NO_PORTAUDIO_NOTICE)
            else:
                self._sounddevice = sounddevice
        return self._sounddevice

    def _notify_muted(self, notice: str) -> None:
        if not self._muted_notice_shown:
            self._muted_notice_shown = True
            self._document.message.emit(notice)

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None

    @Slot()
    def _on_timer_timeout(self) -> None:
        fps = float(self._document.project.settings.fps)
        if self._audio is not None:
            if self._audio.error is not None:
                error = self._audio.error
                self._notify_muted(f"The music could not be read ({error}): playback goes on muted")
                self._run(self._speed, with_audio=False)
                return
            sample = self._audio.position()
            if sample is None:
                return  # the first block is not queued yet: hold the start frame
            position = sample / self._audio.rate * fps
        else:
            elapsed = self._clock.seconds() - self._anchor_time
            position = self._anchor_frame + self._speed * elapsed * fps
        self._show(math.floor(position))

    def _show(self, frame: int) -> None:
        first, end = self._span
        if self._loop and end > first:
            frame = first + (frame - first) % (end - first)
        elif not first <= frame < end:
            self._shown_frame = min(max(frame, first), max(first, end - 1))
            self._document.set_playhead(self._shown_frame)
            self.pause()
            return
        self._shown_frame = frame
        self._document.set_playhead(frame)

    # -- document ------------------------------------------------------------------------------------------

    @Slot(int)
    def _on_document_playhead_changed(self, frame: int) -> None:
        if self.is_playing and frame != self._shown_frame:
            self._run(self._speed)  # the user scrubbed (or an edit clamped it): play on from there

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        if self.is_playing and (changes.timing or changes.audio or changes.settings):
            # The end of the timeline, the in/out range or the mix changed: the stream must know.
            self._run(self._speed)

    @Slot()
    def _on_document_replaced(self) -> None:
        self.pause()

    @Slot()
    def _on_drafts_audio_ready(self) -> None:
        playing = self._audio.mixer if self._audio is not None else None
        if self._speed == 1 and not self._sounddevice_missing and self._drafts.mixer() is not playing:
            self._run(1)  # a new mix: hand the clock to a stream that plays it


class TransportBar(QWidget):
    """Step / shuttle / play buttons, a loop toggle, the timecode and the speed. Shortcuts live in menus."""

    def __init__(
        self, playback: PlaybackController, document: DocumentController, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._playback = playback
        self._document = document
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        icons = QStyle.StandardPixmap
        buttons = (
            ("step_back", icons.SP_MediaSkipBackward, "Step back one frame (←)", lambda: playback.step(-1)),
            (
                "backward",
                icons.SP_MediaSeekBackward,
                "Play backwards; again: 2x, 4x, 8x (J)",
                lambda: playback.shuttle(-1),
            ),
            ("play", icons.SP_MediaPlay, "Play / pause (Space); stop (K)", playback.toggle_play),
            (
                "forward",
                icons.SP_MediaSeekForward,
                "Play forwards; again: 2x, 4x, 8x (L)",
                lambda: playback.shuttle(1),
            ),
            (
                "step_forward",
                icons.SP_MediaSkipForward,
                "Step forward one frame (→)",
                lambda: playback.step(1),
            ),
        )
        #: The transport buttons by name: step_back, backward, play, forward, step_forward.
        self.buttons: dict[str, QToolButton] = {}
        for name, icon, tooltip, slot in buttons:
            button = QToolButton(self)
            button.setIcon(self.style().standardIcon(icon))
            button.setToolTip(tooltip)
            button.setAccessibleName(tooltip.split(" (")[0])
            button.clicked.connect(slot)
            layout.addWidget(button)
            self.buttons[name] = button
        self.loop_button = QToolButton(self)
        self.loop_button.setText("⟲ Loop")
        self.loop_button.setToolTip("Loop over the in/out range, or the whole timeline when none is marked")
        self.loop_button.setCheckable(True)
        self.loop_button.toggled.connect(playback.set_loop)
        layout.addWidget(self.loop_button)
        layout.addStretch(1)
        self.speed_label = QLabel(self)
        self.timecode_label = QLabel(self)
        self.timecode_label.setObjectName("timecode")
        #: The in/out range's duration; hidden when none is marked.
        self.in_out_label = QLabel(self)
        self.in_out_label.setToolTip("Duration from the in point to the out point (mark them with I and O)")
        layout.addWidget(self.in_out_label)
        layout.addWidget(self.speed_label)
        layout.addWidget(self.timecode_label)
        playback.state_changed.connect(self._on_playback_state_changed)
        document.playhead_changed.connect(self._on_document_playhead_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)
        self._on_playback_state_changed()
        self._update_timecode()

    def _update_timecode(self) -> None:
        project = self._document.project
        fps = project.settings.fps
        now = timecode(self._document.playhead, fps)
        self.timecode_label.setText(f"{now} / {timecode(project.duration_frames, fps)}")
        marked = project.in_out.clipped(project.duration_frames) if project.in_out is not None else None
        self.in_out_label.setVisible(marked is not None)
        if marked is not None:
            self.in_out_label.setText(f"In–Out {timecode(marked.length, fps)}")

    @Slot()
    def _on_playback_state_changed(self) -> None:
        speed = self._playback.speed
        self.speed_label.setText("Paused" if speed == 0 else f"{'▶' if speed > 0 else '◀'} {abs(speed)}x")
        icon = QStyle.StandardPixmap.SP_MediaPause if speed else QStyle.StandardPixmap.SP_MediaPlay
        self.buttons["play"].setIcon(self.style().standardIcon(icon))
        self.loop_button.setChecked(self._playback.loop)

    @Slot(int)
    def _on_document_playhead_changed(self, frame: int) -> None:
        self._update_timecode()

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        if changes.timing or changes.settings:
            self._update_timecode()

    @Slot()
    def _on_document_replaced(self) -> None:
        self._update_timecode()
