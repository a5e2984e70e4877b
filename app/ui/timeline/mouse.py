"""Mouse gestures on the timeline: selection clicks, scrubbing the ruler, beat markers, audio tracks, drags.

A drag (reorder, ripple trim, roll; an audio clip's fade handle, volume line or the clip itself) shows its
would-be result while the button is down and executes one command on release; Escape or any change to the
document cancels it. The widget forwards its mouse events here and paints what `drag`, `preview` and
`shown_project` describe.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QMouseEvent, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.model import Project
from app.model.audio_commands import SetAudioClipLevels, SetAudioTrack
from app.model.beat_commands import AddBeatMarker, RemoveBeatMarker
from app.model.timebase import frames_to_seconds
from app.ui.document import DocumentController
from app.ui.timeline.audio_tracks import audio_tip, track_menu
from app.ui.timeline.content import TimelineContent
from app.ui.timeline.drags import (
    AudioDrag,
    ClipMoveDrag,
    Drag,
    FadeDrag,
    GainDrag,
    MoveDrag,
    RollDrag,
    TrimDrag,
)
from app.ui.timeline.geometry import (
    FADE_HANDLE_PX,
    VOLUME_PICK_PX,
    Hit,
    HitKind,
    RowKind,
    TimelineGeometry,
    clip_band,
    fade_handle_x,
    hit_test,
    mute_box,
    volume_y,
)
from app.ui.timeline.hints import status_hint

#: Snap targets within this many pixels of the pointer attract a dragged edge or cut.
SNAP_PX = 8

_CURSORS = {
    HitKind.act_edge: Qt.CursorShape.SizeHorCursor,
    HitKind.cut: Qt.CursorShape.SplitHCursor,
    HitKind.fade_in: Qt.CursorShape.SizeHorCursor,
    HitKind.fade_out: Qt.CursorShape.SizeHorCursor,
    HitKind.volume: Qt.CursorShape.SizeVerCursor,
    HitKind.mute: Qt.CursorShape.PointingHandCursor,
}
#: Where a click clears the selection: the tracks away from acts and beat markers.
_EMPTY_TRACK_SPACE = frozenset({HitKind.none, HitKind.beats, HitKind.audio, HitKind.audio_clip})
_CLIP_HITS = frozenset({HitKind.audio_clip, HitKind.fade_in, HitKind.fade_out, HitKind.volume})


class MouseGestures:
    """Turns the mouse events of `widget` into selection, playhead moves and edit commands."""

    def __init__(
        self,
        widget: QWidget,
        document: DocumentController,
        geometry: TimelineGeometry,
        content: TimelineContent,
    ) -> None:
        self._widget = widget
        self._document = document
        self._geometry = geometry
        self.content = content  # replaced by the widget whenever the document changes
        self.snapping = True
        self.drag: Drag | None = None
        self.preview: np.ndarray | None = None  # act bounds while a trim or a roll is dragged
        self.scrubbing = False
        self._press: tuple[QPoint, int, bool] | None = (
            None  # act pressed: where, which, select it alone later
        )
        self._clip_press: tuple[QPoint, int] | None = None  # audio clip pressed: where, which span
        self._anchor_id: str | None = None  # where Shift+click ranges start
        self._pointer = (0.0, 0.0)  # the last pointer position of a drag (frames, y pixels)
        self._status = ""  # the status bar text last sent: a drag's state or the hint for what is hovered

    def hit(self, x: float, y: float) -> Hit:
        content = self.content
        return hit_test(self._geometry, content.bounds, content.beat_frames, x, y, content.audio_spans)

    def shown_project(self) -> Project:
        """The document to draw: while an audio clip is dragged, a copy holding the clip as it would be."""
        project = self._document.project
        drag = self.drag
        if not isinstance(drag, AudioDrag):
            return project
        shown = drag.shown_clip
        audio = [shown if clip.id == shown.id else clip for clip in project.audio]
        return project.model_copy(update={"audio": audio})

    def audio_tooltip(self, x: float, y: float) -> tuple[str, QRect] | None:
        """The tooltip over a clip's volume line or fade handle or a track's mute box, with the rectangle
        where its text holds; None elsewhere."""
        hit = self.hit(x, y)
        geometry = self._geometry
        row = geometry.row_at(y)
        if row is None:
            return None
        span = self.content.audio_spans[hit.index] if hit.kind in _CLIP_HITS else None
        text = audio_tip(self._document.project, hit.kind, span, row.track)
        if not text:
            return None
        if hit.kind is HitKind.mute:
            left, top, side = mute_box(row)
            return text, QRect(left, top, side, side)
        assert span is not None
        x0, x1 = int(geometry.x_of(span.start)), int(geometry.x_of(span.end))
        if hit.kind is HitKind.volume:
            line = round(volume_y(row, span.gain_db))
            return text, QRect(x0, line - VOLUME_PICK_PX, x1 - x0, 2 * VOLUME_PICK_PX + 1)
        centre = round(fade_handle_x(geometry, span, hit.kind is HitKind.fade_in))
        top = clip_band(row)[0]
        return text, QRect(centre - FADE_HANDLE_PX, top, 2 * FADE_HANDLE_PX, FADE_HANDLE_PX + 3)

    # -- events -------------------------------------------------------------------------------------------

    def press(self, event: QMouseEvent) -> None:
        position = event.position()
        hit = self.hit(position.x(), position.y())
        document = self._document
        if event.button() == Qt.MouseButton.RightButton:
            if hit.kind is HitKind.beat:
                document.execute(RemoveBeatMarker(self.content.beat_times[hit.index]))
            elif hit.kind in (HitKind.audio_header, HitKind.mute):
                menu = track_menu(self._widget, document, hit.index)
                menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                menu.popup(self._widget.mapToGlobal(position.toPoint()))
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        project, playhead = document.project, document.playhead
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if hit.kind is HitKind.ruler:
            self.scrubbing = True
            document.set_playhead(round(hit.frame))
        elif hit.kind is HitKind.cut or (
            hit.kind is HitKind.act_edge and alt and hit.index < len(project.acts) - 1
        ):
            # The roll zone straddles the cut: the act the pointer is on is the one clicked.
            self._select_pressed(hit.index + int(hit.frame >= self.content.bounds[hit.index + 1]))
            self._start(RollDrag(project, hit.index, hit.frame, playhead), hit.frame, event)
        elif hit.kind is HitKind.act_edge:
            self._select_pressed(hit.index)
            self._start(TrimDrag(project, hit.index, hit.frame, playhead), hit.frame, event)
        elif hit.kind is HitKind.act:
            self._click_act(hit.index, event.modifiers(), position.toPoint())
        elif hit.kind is HitKind.mute:
            muted = project.audio_tracks[hit.index].muted
            document.execute(SetAudioTrack(hit.index, muted=not muted))
        elif hit.kind in (HitKind.fade_in, HitKind.fade_out):
            span = self.content.audio_spans[hit.index]
            self._start(FadeDrag(project, span, hit.kind is HitKind.fade_in, hit.frame), hit.frame, event)
        elif hit.kind is HitKind.volume:
            span = self.content.audio_spans[hit.index]
            row = self._geometry.row_at(position.y())
            assert row is not None  # the volume line was hit in it
            self._start(GainDrag(project, span, position.y(), clip_band(row)[1]), hit.frame, event)
        elif hit.kind in _EMPTY_TRACK_SPACE:
            document.set_selection([])
            if hit.kind is HitKind.audio_clip:
                self._clip_press = (position.toPoint(), hit.index)

    def move(self, event: QMouseEvent) -> None:
        position = event.position()
        frame = self._geometry.frame_at(position.x())
        pressed = bool(event.buttons() & Qt.MouseButton.LeftButton)
        if self.scrubbing:
            self._document.set_playhead(round(frame))
        elif self.drag is not None:
            self._update(frame, position.y(), event.modifiers())
        elif self._press is not None and pressed:
            origin, index, _ = self._press
            if (position.toPoint() - origin).manhattanLength() >= QApplication.startDragDistance():
                self._press = None
                start = self._geometry.frame_at(origin.x())
                self._start(MoveDrag(self._document.project, index, start), frame, event)
        elif self._clip_press is not None and pressed:
            origin, index = self._clip_press
            if (position.toPoint() - origin).manhattanLength() >= QApplication.startDragDistance():
                self._clip_press = None
                span = self.content.audio_spans[index]
                start = self._geometry.frame_at(origin.x())
                drag = ClipMoveDrag(self._document.project, span, start, self._document.playhead)
                self._start(drag, frame, event)
        else:
            kind = self.hit(position.x(), position.y()).kind
            self._widget.setCursor(_CURSORS.get(kind, Qt.CursorShape.ArrowCursor))
            hint = status_hint(kind)
            if hint != self._status:  # only on a change: a message shown since stays while the pointer rests
                self._show_status(hint)

    def release(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.scrubbing = False
        self._clip_press = None
        if self._press is not None:
            _, index, select_alone = self._press
            self._press = None
            if select_alone:
                self._document.set_selection([self._document.project.acts[index].id])
        drag = self.drag
        if drag is not None:
            # The release decides the final position, with the modifiers held at that moment.
            position = event.position()
            self._update(self._geometry.frame_at(position.x()), position.y(), event.modifiers())
            self.cancel()
            command = drag.command()
            if command is not None:
                self._document.execute(command)

    def double_click(self, event: QMouseEvent) -> None:
        """Double-click on the beat track (away from a beat) adds a beat at that frame; on a clip's volume
        line it sets the clip back to 0 dB."""
        position = event.position()
        hit = self.hit(position.x(), position.y())
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if hit.kind is HitKind.beats:
            fps = self._document.project.settings.fps
            self._document.execute(AddBeatMarker(frames_to_seconds(max(0, round(hit.frame)), fps)))
        elif hit.kind is HitKind.volume:
            span = self.content.audio_spans[hit.index]
            if span.gain_db != 0.0:
                self._document.execute(SetAudioClipLevels(span.clip_id, gain_db=0.0, label="Reset volume"))

    def modifiers_changed(self, modifiers: Qt.KeyboardModifier) -> None:
        """Shift pressed or released mid-drag switches snapping at once, without waiting for a move."""
        if self.drag is not None:
            self._update(*self._pointer, modifiers)

    def cancel(self) -> None:
        """Drop the drag in progress (nothing is executed)."""
        self._press = None
        self._clip_press = None
        self.scrubbing = False
        if self.drag is not None:
            self.drag = None
            self.preview = None
            self._widget.unsetCursor()
            self._show_status("")
            self._widget.update()

    def forget_selection_anchor(self) -> None:
        self._anchor_id = None

    # -- helpers ------------------------------------------------------------------------------------------

    def _click_act(self, index: int, modifiers: Qt.KeyboardModifier, position: QPoint) -> None:
        """Ctrl toggles, Shift extends from the last clicked act, a plain click selects the act (on release,
        when it belongs to a larger selection, so that a drag can start from the selection)."""
        document = self._document
        acts = document.project.acts
        act_id = acts[index].id
        selected = list(document.selected_ids)
        anchor = self.content.index_by_id.get(self._anchor_id or "")
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            toggled = [i for i in selected if i != act_id] if act_id in selected else [*selected, act_id]
            document.set_selection(toggled)
            self._anchor_id = act_id
        elif modifiers & Qt.KeyboardModifier.ShiftModifier and anchor is not None:
            low, high = min(anchor, index), max(anchor, index)
            document.set_selection([act.id for act in acts[low : high + 1]])
        else:
            if act_id not in selected:
                document.set_selection([act_id])
            self._anchor_id = act_id
            self._press = (position, index, act_id in selected and len(selected) > 1)

    def _select_pressed(self, index: int) -> None:
        """A press on an act's trim handle or beside its cut selects it too (a selection holding it stays,
        so that Delete removes what the user sees selected)."""
        act_id = self._document.project.acts[index].id
        if act_id not in self._document.selected_ids:
            self._document.set_selection([act_id])
        self._anchor_id = act_id

    def _start(self, drag: Drag, pointer_frame: float, event: QMouseEvent) -> None:
        self.drag = drag
        if isinstance(drag, MoveDrag | ClipMoveDrag):
            cursor = Qt.CursorShape.ClosedHandCursor
        else:
            cursor = (
                Qt.CursorShape.SizeVerCursor if isinstance(drag, GainDrag) else Qt.CursorShape.SizeHorCursor
            )
        self._widget.setCursor(cursor)
        self._update(pointer_frame, event.position().y(), event.modifiers())

    def _update(self, pointer_frame: float, pointer_y: float, modifiers: Qt.KeyboardModifier) -> None:
        drag = self.drag
        self._pointer = (pointer_frame, pointer_y)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        free = shift or not self.snapping
        tolerance = None if free else self._geometry.frames_in(SNAP_PX)
        if shift:
            hint = " — snapping off (Shift)"
        else:
            hint = " — snapping off" if free else " — hold Shift to place freely"
        if isinstance(drag, MoveDrag):
            drag.update(pointer_frame)
            self._show_status(drag.describe())
        elif isinstance(drag, TrimDrag | RollDrag):
            drag.update(pointer_frame, tolerance)
            self.preview = np.array(drag.preview_bounds(), dtype=np.int64)
            self._show_status(drag.describe() + hint)
        elif isinstance(drag, FadeDrag):
            drag.update(pointer_frame)
            self._show_status(drag.describe())
        elif isinstance(drag, GainDrag):
            drag.update(pointer_y, fine=shift)
            self._show_status(drag.describe() + ("" if shift else " — hold Shift for fine steps"))
        elif isinstance(drag, ClipMoveDrag):
            row = self._geometry.row_at(pointer_y)
            drag.update(pointer_frame, row.track if row and row.kind is RowKind.audio else None, tolerance)
            self._show_status(drag.describe() + hint)
        self._widget.update()

    def clear_hint(self) -> None:
        """The pointer left the timeline: take its hint off the status bar (not a drag's message)."""
        if self.drag is None and self._status:
            self._show_status("")

    def _show_status(self, text: str) -> None:
        # A status tip travels up the parents to the main window, which shows it in its status bar.
        self._status = text
        QApplication.sendEvent(self._widget, QStatusTipEvent(text))
