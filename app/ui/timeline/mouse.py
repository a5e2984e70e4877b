"""Mouse gestures on the timeline: selection clicks, scrubbing the ruler, beat markers, and drags.

A drag (reorder, ripple trim, roll) shows its would-be result while the button is down and executes one
command on release; Escape or any change to the document cancels it. The widget forwards its mouse events
here and paints what `drag` and `preview` describe.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QMouseEvent, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.model.beat_commands import AddBeatMarker, RemoveBeatMarker
from app.model.timebase import frames_to_seconds
from app.ui.document import DocumentController
from app.ui.timeline.content import TimelineContent
from app.ui.timeline.drags import Drag, MoveDrag, RollDrag, TrimDrag
from app.ui.timeline.geometry import Hit, HitKind, TimelineGeometry, hit_test

#: Snap targets within this many pixels of the pointer attract a dragged edge or cut.
SNAP_PX = 8

_CURSORS = {HitKind.act_edge: Qt.CursorShape.SizeHorCursor, HitKind.cut: Qt.CursorShape.SplitHCursor}
#: Where a click clears the selection: the tracks away from acts and beat markers.
_EMPTY_TRACK_SPACE = frozenset({HitKind.none, HitKind.beats, HitKind.audio})


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
        self._anchor_id: str | None = None  # where Shift+click ranges start
        self._pointer = 0.0  # the last pointer position of a drag (frames)

    def hit(self, x: float, y: float) -> Hit:
        return hit_test(self._geometry, self.content.bounds, self.content.beat_frames, x, y)

    # -- events -------------------------------------------------------------------------------------------

    def press(self, event: QMouseEvent) -> None:
        position = event.position()
        hit = self.hit(position.x(), position.y())
        document = self._document
        if event.button() == Qt.MouseButton.RightButton:
            if hit.kind is HitKind.beat:
                document.execute(RemoveBeatMarker(self.content.beat_times[hit.index]))
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
            self._start(RollDrag(project, hit.index, hit.frame, playhead), hit.frame, event.modifiers())
        elif hit.kind is HitKind.act_edge:
            self._select_pressed(hit.index)
            self._start(TrimDrag(project, hit.index, hit.frame, playhead), hit.frame, event.modifiers())
        elif hit.kind is HitKind.act:
            self._click_act(hit.index, event.modifiers(), position.toPoint())
        elif hit.kind in _EMPTY_TRACK_SPACE:
            document.set_selection([])

    def move(self, event: QMouseEvent) -> None:
        position = event.position()
        frame = self._geometry.frame_at(position.x())
        if self.scrubbing:
            self._document.set_playhead(round(frame))
        elif self.drag is not None:
            self._update(frame, event.modifiers())
        elif self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            origin, index, _ = self._press
            if (position.toPoint() - origin).manhattanLength() >= QApplication.startDragDistance():
                self._press = None
                start = self._geometry.frame_at(origin.x())
                self._start(MoveDrag(self._document.project, index, start), frame, event.modifiers())
        else:
            cursor = _CURSORS.get(self.hit(position.x(), position.y()).kind, Qt.CursorShape.ArrowCursor)
            self._widget.setCursor(cursor)

    def release(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.scrubbing = False
        if self._press is not None:
            _, index, select_alone = self._press
            self._press = None
            if select_alone:
                self._document.set_selection([self._document.project.acts[index].id])
        drag = self.drag
        if drag is not None:
            # The release decides the final position, with the modifiers held at that moment.
            self._update(self._geometry.frame_at(event.position().x()), event.modifiers())
            self.cancel()
            command = drag.command()
            if command is not None:
                self._document.execute(command)

    def double_click(self, event: QMouseEvent) -> None:
        """Double-click on the beat track (away from a beat) adds a beat at that frame."""
        position = event.position()
        hit = self.hit(position.x(), position.y())
        if event.button() == Qt.MouseButton.LeftButton and hit.kind is HitKind.beats:
            fps = self._document.project.settings.fps
            self._document.execute(AddBeatMarker(frames_to_seconds(max(0, round(hit.frame)), fps)))

    def modifiers_changed(self, modifiers: Qt.KeyboardModifier) -> None:
        """Shift pressed or released mid-drag switches snapping at once, without waiting for a move."""
        if self.drag is not None:
            self._update(self._pointer, modifiers)

    def cancel(self) -> None:
        """Drop the drag in progress (nothing is executed)."""
        self._press = None
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

    def _start(self, drag: Drag, pointer_frame: float, modifiers: Qt.KeyboardModifier) -> None:
        self.drag = drag
        moving = isinstance(drag, MoveDrag)
        self._widget.setCursor(Qt.CursorShape.ClosedHandCursor if moving else Qt.CursorShape.SizeHorCursor)
        self._update(pointer_frame, modifiers)

    def _update(self, pointer_frame: float, modifiers: Qt.KeyboardModifier) -> None:
        drag = self.drag
        self._pointer = pointer_frame
        if isinstance(drag, MoveDrag):
            drag.update(pointer_frame)
            self._show_status(drag.describe())
        elif isinstance(drag, TrimDrag | RollDrag):
            shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            free = shift or not self.snapping
            drag.update(pointer_frame, None if free else self._geometry.frames_in(SNAP_PX))
            self.preview = np.array(drag.preview_bounds(), dtype=np.int64)
            if shift:
                hint = " — snapping off (Shift)"
            else:
                hint = " — snapping off" if free else " — hold Shift to place freely"
            self._show_status(drag.describe() + hint)
        self._widget.update()

    def _show_status(self, text: str) -> None:
        # A status tip travels up the parents to the main window, which shows it in its status bar.
        QApplication.sendEvent(self._widget, QStatusTipEvent(text))
