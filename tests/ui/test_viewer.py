"""PreviewViewer: paints the draft frame under the playhead, letterboxed, with fallbacks when none exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from pytestqt.qtbot import QtBot

from app.engine.worker import ActState, ActStatus
from app.model import Project
from app.model.act import Act
from app.ui.document import DocumentController
from app.ui.viewer import BACKGROUND, FAILED_SLATE, SLATE, PreviewViewer, wrap_rgb

if TYPE_CHECKING:
    from app.engine.worker import DraftService

RED = (220, 30, 30)
BLUE = (30, 30, 220)
GREEN = (30, 200, 30)


class FakeDrafts(QObject):
    """The part of DraftService the viewer uses: frame(), thumbnail(), status() and their signals."""

    frames_changed = Signal()
    act_status_changed = Signal(str)

    def __init__(self, frame_for: Callable[[int], np.ndarray | None]) -> None:
        super().__init__()
        self.frame_for = frame_for
        self.thumbnails: dict[str, np.ndarray] = {}
        self.statuses: dict[str, ActStatus] = {}
        self.requested: list[int] = []

    def status(self, act_id: str) -> ActStatus:
        return self.statuses.get(act_id, ActStatus(ActState.ready, 1.0))

    def frame(self, timeline_frame: int) -> np.ndarray | None:
        self.requested.append(timeline_frame)
        return self.frame_for(timeline_frame)

    def thumbnail(self, act_id: str) -> np.ndarray | None:
        return self.thumbnails.get(act_id)


def solid(color: tuple[int, int, int], width: int = 160, height: int = 90) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = color
    return frame


def red_then_blue(frame: int) -> np.ndarray:
    """Act one (frames 0..23) is red, act two (24..47) blue."""
    return solid(RED if frame < 24 else BLUE)


def pixel(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    color = image.pixelColor(x, y)
    return color.red(), color.green(), color.blue()


def close_to(
    actual: tuple[int, int, int], expected: tuple[int, int, int] | QColor, tolerance: int = 6
) -> bool:
    if isinstance(expected, QColor):
        expected = (expected.red(), expected.green(), expected.blue())
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.fixture
def document() -> DocumentController:
    project = Project(acts=[Act(name="Dawn", duration_frames=24), Act(name="Dusk", duration_frames=24)])
    return DocumentController(project)


def make_viewer(qtbot: QtBot, document: DocumentController, drafts: FakeDrafts) -> PreviewViewer:
    viewer = PreviewViewer(document, cast("DraftService", drafts))
    qtbot.addWidget(viewer)
    viewer.resize(400, 400)  # square: a 16:9 picture is letterboxed above and below
    return viewer


def test_paints_the_frame_under_the_playhead_letterboxed(qtbot: QtBot, document: DocumentController) -> None:
    drafts = FakeDrafts(red_then_blue)
    viewer = make_viewer(qtbot, document, drafts)

    image = viewer.grab().toImage()
    # 160x90 scaled to 400x225, centred: rows 88..312 hold the picture, the rest is the dark background.
    assert close_to(pixel(image, 300, 200), RED)
    assert close_to(pixel(image, 300, 300), RED)
    assert close_to(pixel(image, 300, 40), BACKGROUND)
    assert close_to(pixel(image, 300, 340), BACKGROUND)

    document.set_playhead(30)
    image = viewer.grab().toImage()
    assert close_to(pixel(image, 300, 200), BLUE)
    assert drafts.requested[-1] == 30


def test_many_playhead_moves_between_paints_fetch_one_frame(
    qtbot: QtBot, document: DocumentController
) -> None:
    drafts = FakeDrafts(red_then_blue)
    viewer = make_viewer(qtbot, document, drafts)
    viewer.grab()
    drafts.requested.clear()

    for frame in range(1, 20):
        document.set_playhead(frame)
    viewer.grab()

    assert drafts.requested == [19]


def test_keeps_the_last_frame_while_the_draft_is_missing(qtbot: QtBot, document: DocumentController) -> None:
    frames: dict[int, np.ndarray] = {0: solid(RED)}
    drafts = FakeDrafts(frames.get)
    drafts.thumbnails[document.project.acts[1].id] = solid(GREEN, 96, 54)
    viewer = make_viewer(qtbot, document, drafts)
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), RED)

    document.set_playhead(30)  # no draft there yet: the last frame stays rather than the thumbnail
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), RED)
    assert drafts.requested[-1] == 30

    frames[30] = solid(BLUE)
    drafts.frames_changed.emit()
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), BLUE)


def test_falls_back_to_the_thumbnail_then_to_a_slate(qtbot: QtBot, document: DocumentController) -> None:
    drafts = FakeDrafts(lambda frame: None)
    drafts.thumbnails[document.project.acts[0].id] = solid(GREEN, 96, 54)
    viewer = make_viewer(qtbot, document, drafts)

    assert close_to(pixel(viewer.grab().toImage(), 300, 200), GREEN)

    document.set_playhead(30)  # the second act has no thumbnail either
    image = viewer.grab().toImage()
    assert close_to(pixel(image, 40, 120), SLATE)  # inside the 16:9 slate, away from its text
    assert close_to(pixel(image, 300, 40), BACKGROUND)


def test_a_replaced_project_does_not_show_the_old_frame(qtbot: QtBot, document: DocumentController) -> None:
    frames: dict[int, np.ndarray] = {0: solid(RED)}
    drafts = FakeDrafts(frames.get)
    viewer = make_viewer(qtbot, document, drafts)
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), RED)

    frames.clear()
    document.replace(Project(acts=[Act(duration_frames=10)]), None)

    assert close_to(pixel(viewer.grab().toImage(), 40, 120), SLATE)


def test_an_act_that_failed_to_render_shows_a_failure_slate_not_the_previous_frame(
    qtbot: QtBot, document: DocumentController
) -> None:
    """The user's report: a reference replaced on disk by a text file failed at render, and the viewer kept
    the act's previous picture with no sign of it."""
    frames: dict[int, np.ndarray] = {0: solid(RED), 30: solid(BLUE)}
    drafts = FakeDrafts(frames.get)
    viewer = make_viewer(qtbot, document, drafts)
    document.set_playhead(30)
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), BLUE)  # the draft before the file changed

    dusk = document.project.acts[1]
    why = "/films/sunset.jpg: not an image: text data"
    drafts.statuses[dusk.id] = ActStatus(ActState.failed, message=why)
    drafts.act_status_changed.emit(dusk.id)
    image = viewer.grab().toImage()
    assert viewer.failure == ("Dusk", why)
    assert close_to(pixel(image, 40, 120), FAILED_SLATE)  # the picture area, away from the text
    assert not any(close_to(pixel(image, x, 200), BLUE) for x in range(0, 400, 20))
    assert close_to(pixel(image, 300, 40), BACKGROUND)

    document.set_playhead(0)  # the other act still shows its frame
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), RED) and viewer.failure is None
    document.set_playhead(30)
    drafts.statuses[dusk.id] = ActStatus(ActState.ready, 1.0)  # the file fixed and the act re-rendered
    drafts.frames_changed.emit()
    assert close_to(pixel(viewer.grab().toImage(), 300, 200), BLUE) and viewer.failure is None


def test_the_failure_slate_names_the_act_and_the_reason(qtbot: QtBot, document: DocumentController) -> None:
    drafts = FakeDrafts(lambda frame: solid(RED))
    drafts.statuses[document.project.acts[0].id] = ActStatus(
        ActState.failed, message="dawn.jpg: truncated JPEG (the file ends before the picture does)"
    )
    viewer = make_viewer(qtbot, document, drafts)
    texts: list[str] = []
    original = QPainter.drawText

    def recording(painter: QPainter, *args: object) -> None:
        texts.extend(arg for arg in args if isinstance(arg, str))
        original(painter, *args)  # type: ignore[call-overload]

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(QPainter, "drawText", recording)
        viewer.grab()
    assert "Act 'Dawn' failed to render" in texts
    assert "dawn.jpg: truncated JPEG (the file ends before the picture does)" in texts


def test_safe_area_overlay_draws_inside_the_picture(qtbot: QtBot, document: DocumentController) -> None:
    viewer = make_viewer(qtbot, document, FakeDrafts(red_then_blue))
    plain = viewer.grab().toImage()
    viewer.set_safe_area(True)
    overlaid = viewer.grab().toImage()

    # The action-safe box's left edge is 3.5 % of 400 px in: x = 14, on the picture's rows.
    assert any(not close_to(pixel(overlaid, x, 200), RED) for x in range(12, 17))
    # Title-safe is at 5 %: x = 20; between and outside the boxes the picture is untouched.
    assert any(not close_to(pixel(overlaid, x, 200), RED) for x in range(18, 23))
    assert pixel(overlaid, 200, 200) == pixel(plain, 200, 200)
    assert pixel(overlaid, 300, 40) == pixel(plain, 300, 40)


def test_wrap_rgb_shares_memory_with_a_contiguous_frame() -> None:
    frame = solid(RED, 8, 4)
    backing, image = wrap_rgb(frame)
    assert backing is frame
    frame[:] = GREEN  # the image sees the change: nothing was copied
    assert close_to(pixel(image, 3, 2), GREEN, tolerance=0)

    every_other_column = solid(BLUE, 16, 4)[:, ::2]  # a non-contiguous view is copied once
    backing, image = wrap_rgb(every_other_column)
    assert backing.flags.c_contiguous and (image.width(), image.height()) == (8, 4)
    assert close_to(pixel(image, 7, 3), BLUE, tolerance=0)
