"""Timeline repaint with 1,000 acts (target < 8 ms), against painting an empty widget of the same size.

Renders the TimelineView offscreen into a QImage 50 times per case: zoom to fit, zoomed in (dozens of acts
with names and thumbnails on screen), zoomed in to frame level, zoomed out to the limit, and scrolling (the
view moves before every paint, so no cached image of the beat track or the waveforms can be reused). Each
case runs without an engine (drafts=None) and with a stub engine that reports draft states, thumbnails and
waveform peaks from memory, as DraftService does once its work is done. Prints mean and p95 in ms, the
ratio to the baseline (a widget of the same size with the same scroll bar that only fills its background),
and the resident memory of the 1,000-act project and of the views.
Run: QT_QPA_PLATFORM=offscreen python bench/bench_timeline.py
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QApplication, QScrollBar, QWidget

from app.model import (
    Act,
    AudioClip,
    BeatGrid,
    MediaRef,
    Project,
    ProjectSettings,
    TransitionKind,
    TransitionSpec,
)
from app.ui.document import DocumentController
from app.ui.timeline import TimelineView
from app.ui.timeline.geometry import MAX_PIXELS_PER_FRAME
from app.ui.timeline.style import Palette

ACTS = 1000
REPAINTS = 50
WIDTH = 1600
TEMPO = 120.0
FPS = Fraction(24)


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def make_project() -> Project:
    rng = np.random.default_rng(7)
    acts = []
    for i in range(ACTS):
        transition = (
            TransitionSpec(kind=TransitionKind.crossfade, frames=12) if i % 5 == 0 else TransitionSpec()
        )
        acts.append(
            Act(
                id=f"act{i:04d}",
                name=f"Act {i}: {'establishing shot' if i % 3 == 0 else 'close-up'}",
                duration_frames=int(rng.integers(24, 97)),
                transition=transition,
            )
        )
    project = Project(settings=ProjectSettings(fps=FPS), acts=acts)
    seconds = project.duration_frames / float(FPS)
    beats = tuple(round(t, 4) for t in np.arange(0.0, seconds, 60 / TEMPO))
    project.beats = BeatGrid(tempo=TEMPO, beats=beats, downbeats=beats[::4])
    project.audio = [AudioClip(id="music", media=MediaRef(path="music/score.wav"))]
    return project


@dataclass(frozen=True)
class StubStatus:
    state: str
    progress: float = 0.0
    message: str = ""


class StubPeaks:
    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s

    def columns(self, start_s: float, end_s: float, count: int) -> tuple[np.ndarray, np.ndarray]:
        t = np.linspace(start_s, end_s, count, dtype=np.float32)
        envelope = 0.3 + 0.6 * np.abs(np.sin(t * 1.7))
        return -envelope, envelope


class StubDrafts(QObject):
    """What the timeline reads from DraftService, answered from memory."""

    act_status_changed = Signal(str)
    frames_changed = Signal()
    audio_ready = Signal()

    def __init__(self, project: Project) -> None:
        super().__init__()
        states = ("ready", "ready", "rendering", "queued", "failed")
        self._states = {
            act.id: StubStatus(states[i % 5], 0.4, "out of memory") for i, act in enumerate(project.acts)
        }
        self._thumbnail = np.full((54, 96, 3), 90, dtype=np.uint8)
        self._peaks = StubPeaks(project.duration_frames / float(FPS))

    def status(self, act_id: str) -> StubStatus:
        return self._states[act_id]

    def thumbnail(self, act_id: str) -> np.ndarray:
        return self._thumbnail

    def peaks(self, clip_id: str) -> StubPeaks:
        return self._peaks

    def set_focus(self, playhead: int, visible: tuple[int, int]) -> None:
        pass


class EmptyTimeline(QWidget):
    """The baseline: a widget of the same size with the same scroll bar that only fills its background."""

    def __init__(self) -> None:
        super().__init__()
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._scrollbar = QScrollBar(Qt.Orientation.Horizontal, self)

    def resizeEvent(self, event: QResizeEvent) -> None:
        height = self._scrollbar.sizeHint().height()
        self._scrollbar.setGeometry(0, self.height() - height, self.width(), height)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), Palette.background)
        painter.end()


def time_paints(widget: QWidget, before_each: Callable[[int], None] = lambda i: None) -> list[float]:
    image = QImage(widget.size(), QImage.Format.Format_ARGB32_Premultiplied)
    widget.render(image)  # warm-up: fonts, first thumbnails
    times = []
    for i in range(REPAINTS):
        before_each(i)
        start = time.perf_counter()
        widget.render(image)
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(label: str, times: list[float], baseline: float) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    mean = statistics.fmean(times)
    verdict = "ok" if p95 < 8 else "OVER 8 ms"
    return (
        f"  {label:<34} mean {mean:6.2f} ms  p95 {p95:6.2f} ms  ×{mean / baseline:5.1f} baseline  {verdict}"
    )


def bench_view(view: TimelineView, total: int, baseline: float) -> None:
    geometry = view.timeline_geometry
    view.zoom_to_fit()
    print(summary(f"fit ({geometry.pixels_per_frame:.3f} px/frame)", time_paints(view), baseline))
    for label, zoom in (("zoomed in", 1.0), ("zoomed in to frames", MAX_PIXELS_PER_FRAME / 4)):
        geometry.zoom_at(WIDTH / 2, zoom / geometry.pixels_per_frame, total)
        view.update()
        print(summary(f"{label} ({geometry.pixels_per_frame:.0f} px/frame)", time_paints(view), baseline))
    view.zoom_to_fit()
    for _ in range(12):
        view.zoom_out()
    print(summary(f"zoomed out ({geometry.pixels_per_frame:.4f} px/frame)", time_paints(view), baseline))
    view.zoom_to_fit()
    for _ in range(3):
        view.zoom_in()

    def scroll(i: int) -> None:
        geometry.set_scroll(geometry.scroll_px + 7, total)

    print(
        summary(f"scrolling at {geometry.pixels_per_frame:.2f} px/frame", time_paints(view, scroll), baseline)
    )


def main() -> None:
    app = QApplication.instance() or QApplication([])
    rss_start = rss_mib()
    project = make_project()
    rss_project = rss_mib()
    document = DocumentController(project)
    view = TimelineView(document, None)
    view.resize(WIDTH, view.sizeHint().height())
    view.show()
    app.processEvents()
    empty = EmptyTimeline()
    empty.resize(view.size())
    empty.show()
    baseline = statistics.fmean(time_paints(empty))
    print(
        f"Timeline repaint, {ACTS} acts ({project.duration_frames} frames, "
        f"{len(project.beats.beats)} beats), {view.width()}×{view.height()} px, {REPAINTS} paints per case"
    )
    print(f"  baseline: a widget of the same size that only fills its background, mean {baseline:6.2f} ms")
    print("without an engine (drafts=None):")
    bench_view(view, project.duration_frames, baseline)
    rss_view = rss_mib()
    drafts = StubDrafts(project)
    engine_view = TimelineView(document, drafts)  # type: ignore[arg-type]
    engine_view.resize(WIDTH, engine_view.sizeHint().height())
    engine_view.show()
    app.processEvents()
    print("with engine state (statuses, thumbnails, waveform):")
    bench_view(engine_view, project.duration_frames, baseline)
    print(
        f"memory (RSS): start {rss_start:.0f} MiB, +{rss_project - rss_start:.1f} MiB for the project, "
        f"+{rss_view - rss_project:.1f} MiB for the view after painting, "
        f"+{rss_mib() - rss_view:.1f} MiB for a second view with thumbnails"
    )
    engine_view.close()
    view.close()
    empty.close()


if __name__ == "__main__":
    main()
