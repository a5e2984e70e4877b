"""The Playback menu's in and out points: mark them at the playhead, clear them, jump to them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot

from app.errors import InputError
from app.model.range_commands import SetInOut, clear_in_out, mark_in, mark_out
from app.ui.document import DocumentController


class InOutController(QObject):
    """Turns I, O, Alt+X, Shift+I and Shift+O into edits of the in/out range and playhead moves."""

    def __init__(self, document: DocumentController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document

    @Slot()
    def mark_in(self) -> None:
        """Mark the in point at the playhead (the out point stays when it is still after it)."""
        self._execute_if_changed(lambda: mark_in(self._document.project, self._document.playhead))

    @Slot()
    def mark_out(self) -> None:
        """Mark the out point at the playhead: the playhead's frame is the range's last."""
        self._execute_if_changed(lambda: mark_out(self._document.project, self._document.playhead))

    @Slot()
    def clear(self) -> None:
        if self._document.project.in_out is not None:
            self._document.execute(clear_in_out())

    @Slot()
    def go_to_in(self) -> None:
        marked = self._document.project.in_out
        if marked is not None:
            self._document.set_playhead(marked.start)

    @Slot()
    def go_to_out(self) -> None:
        marked = self._document.project.in_out
        if marked is not None:
            self._document.set_playhead(marked.end - 1)

    def _execute_if_changed(self, make: Callable[[], SetInOut]) -> None:
        # Marking where the point already is would only add an undo step that does nothing.
        try:
            command = make()
        except InputError as error:  # an empty film: nothing to mark
            self._document.message.emit(str(error))
            return
        if command.range != self._document.project.in_out:
            self._document.execute(command)
