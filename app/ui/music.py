"""The Music menu: replace the music (re-conforming cuts), pacing presets, nudging the grid, tap tempo,
half and double tempo.

Analysis of a new track runs on a QThread; its result is applied only if the document did not change
meanwhile (otherwise the user is told to try again), as one undoable ReplaceAudio.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QWidget

from app.engine.cache import StageCache
from app.model import AudioClip, BeatGrid, MediaRef, Project
from app.model.beat_commands import NudgeBeatGrid, SetTempoFromTaps
from app.model.conform import ReplaceAudio
from app.model.pacing import ApplyPacing
from app.model.tempo_commands import SwitchMetricalLevel, unavailable
from app.ui.document import DocumentController
from app.ui.files import open_file_name

AUDIO_FILTER = "Audio (*.wav *.mp3 *.flac *.ogg *.m4a *.aac)"
CONFORM_MODES = {
    "Keep cuts on the same beats": "beats",
    "Keep cuts on the same bars": "downbeats",
    "Keep cuts in the same song sections": "sections",
    "Leave cuts where they are": "none",
}
#: Taps further apart than this start a new tap-tempo measurement (seconds).
TAP_RESET_S = 2.0
MIN_TAPS = 4


class _AnalysisThread(QThread):
    analysed = Signal(object)  # BeatGrid, or an error message (str)

    def __init__(self, path: Path, ref: MediaRef, cache: StageCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path, self._ref, self._cache = path, ref, cache

    def run(self) -> None:
        from app.engine.audio.beats import analyze_cached
        from app.engine.audio.grid import beat_grid
        from app.errors import StorybeatError

        try:
            analysis = analyze_cached(self._path, self._ref.sha256 or "", self._cache)
            self.analysed.emit(beat_grid(analysis, self._ref))
        except StorybeatError as error:
            self.analysed.emit(str(error))
        except Exception as error:  # the controller must always hear back, or it would wait forever
            self.analysed.emit(f"{self._path.name}: analysis failed ({error})")


class _WarmUpThread(QThread):
    """Compiles librosa's numba kernels once, off the GUI thread, so the first analysis is quick."""

    def run(self) -> None:
        from app.engine.audio.beats import warm_up

        warm_up()


class MusicController(QObject):
    def __init__(self, document: DocumentController, cache: StageCache, window: QWidget) -> None:
        super().__init__(window)
        self.document = document
        self.cache = cache
        self.window = window
        self._thread: _AnalysisThread | None = None
        self._warm_up: _WarmUpThread | None = None
        self._taps: list[float] = []  # playhead seconds at each tap
        self._last_tap = 0.0
        self._tap_timer = QTimer(self)
        self._tap_timer.setSingleShot(True)
        self._tap_timer.setInterval(int(TAP_RESET_S * 1000))
        self._tap_timer.timeout.connect(self._on_tap_timer_timeout)
        # Enabled only while the grid has that level; the status tip says why not.
        self.half_tempo_action = QAction("&Half Tempo", self)
        self.half_tempo_action.triggered.connect(self._on_half_tempo_triggered)
        self.double_tempo_action = QAction("&Double Tempo", self)
        self.double_tempo_action.triggered.connect(self._on_double_tempo_triggered)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_changed)
        self._on_document_changed()

    # -- replace music -----------------------------------------------------------------------------------

    def replace_music_dialog(self) -> None:
        if not self.document.project.audio:
            self.document.message.emit("The project has no music to replace")
            return
        name, _ = open_file_name(self.window, "Replace music", str(self.document.project_dir), AUDIO_FILTER)
        if not name:
            return
        mode, ok = QInputDialog.getItem(self.window, "Replace music", "Cuts:", list(CONFORM_MODES), 0, False)
        if ok:
            self.replace_music(Path(name), CONFORM_MODES[mode])

    def replace_music(self, path: Path, conform: str) -> None:
        """Analyse `path` in the background, then swap it in (one undo step)."""
        if self._thread is not None:
            self.document.message.emit("Still analysing the previous track")
            return
        try:
            ref = MediaRef.for_file(path, self.document.project_dir)
        except OSError as error:
            self.document.message.emit(f"{path}: cannot read: {error.strerror}")
            return
        revision, project = self.document.history.revision, self.document.project
        clip_id = _music_clip(project).id
        self.document.message.emit(f"Analysing {path.name}…")
        thread = _AnalysisThread(path, ref, self.cache, self)

        def on_analysed(result: BeatGrid | str) -> None:
            thread.wait()
            self._thread = None
            if isinstance(result, str):
                self.document.message.emit(result)
            elif self.document.history.revision != revision or self.document.project is not project:
                self.document.message.emit("The project changed during the analysis; replace the music again")
            elif self.document.execute(ReplaceAudio(clip_id, ref, result, conform=conform)):
                self.document.message.emit(f"Music replaced by {path.name} ({result.tempo:.1f} BPM)")

        thread.analysed.connect(on_analysed)
        self._thread = thread
        thread.start()

    # -- pacing and the grid -----------------------------------------------------------------------------

    def apply_pacing(self, preset: str, **params: object) -> None:
        command = ApplyPacing(preset, **params)
        if self.document.execute(command) and command.result is not None:
            self.document.message.emit(command.result.summary)  # what changed, and how many acts are missing

    def nudge(self, frames: int) -> None:
        self.document.execute(NudgeBeatGrid(frames / float(self.document.project.settings.fps)))

    def switch_tempo(self, name: str) -> None:
        """Make the grid's "half" or "double" tempo level the beat grid (one undo step); the status bar says
        what changed, or why there is no such level."""
        command = SwitchMetricalLevel(name)
        if self.document.execute(command) and command.result is not None:
            self.document.message.emit(command.result.summary)

    def _on_half_tempo_triggered(self) -> None:
        self.switch_tempo("half")

    def _on_double_tempo_triggered(self) -> None:
        self.switch_tempo("double")

    def _on_document_changed(self, changes: object = None) -> None:
        grid = self.document.project.beats
        for name, action in (("half", self.half_tempo_action), ("double", self.double_tempo_action)):
            level = grid.alternative(name)
            action.setEnabled(level is not None)
            tip = f"Switch the beats to {level.tempo:.0f} BPM; cuts stay on the music" if level else None
            # A menu shows no status tip for a disabled entry: the tooltip says why it is greyed out.
            text = tip or unavailable(grid, name) or ""
            action.setStatusTip(text)
            action.setToolTip(text)

    def tap(self) -> None:
        """Tap tempo: each tap marks a beat at the playhead; after MIN_TAPS taps the grid follows them."""
        now = time.monotonic()
        if now - self._last_tap > TAP_RESET_S:
            self._taps = []
        self._last_tap = now
        # Taps are timed against the wall clock from the playhead of the first tap: tap along while playing.
        if not self._taps:
            self._tap_origin = (now, self.document.playhead / float(self.document.project.settings.fps))
        origin_wall, origin_s = self._tap_origin
        self._taps.append(origin_s + (now - origin_wall))
        self.document.message.emit(f"Tap {len(self._taps)} (at least {MIN_TAPS})")
        self._tap_timer.start()

    def _on_tap_timer_timeout(self) -> None:
        taps, self._taps = self._taps, []
        if len(taps) >= MIN_TAPS:
            self.document.execute(SetTempoFromTaps(taps, meter=self.document.project.beats.meter))

    def warm_up_in_background(self) -> None:
        """Start the analysis warm-up (the editor calls this once the window is up)."""
        if self._warm_up is None:
            self._warm_up = _WarmUpThread(self)
            self._warm_up.start(QThread.Priority.LowestPriority)

    def shutdown(self) -> None:
        self._tap_timer.stop()
        for thread in (self._thread, self._warm_up):
            if thread is not None:
                thread.wait()


def _music_clip(project: Project) -> AudioClip:
    """The clip the beat grid was detected from (else the first audio clip): the one a swap replaces."""
    source = project.beats.source
    for clip in project.audio:
        if source is not None and clip.media.path == source.path:
            return clip
    return project.audio[0]
