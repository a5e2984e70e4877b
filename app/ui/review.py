"""Review mode: play the film and rate or annotate what plays with one key.

Review mode plays from the playhead (through the playback controller) and shows a strip under the viewer:
the act playing and its rating. Anywhere in the window except a text field, keys 1–5 rate the act under
the playhead, 0 clears its rating, N opens a one-line note field for it (Enter adds the note, Esc closes
the field) and Esc leaves review mode. What is rated is what plays: the act's selected take when it has one,
else the act (see app.model.review_commands). Each rating and note is one command through the document, so
one undo step, and the timeline shows the stars at once.

The keys are caught by an application event filter installed only while review mode is on: a menu
shortcut on the same key (N toggles snapping) must not fire instead, so the filter also claims their
shortcut-override events.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent, QWindow
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.model import Act
from app.model.commands import Changes
from app.model.review_commands import note_command, rate_command, reviewed_take, shown_rating
from app.ui.document import DocumentController
from app.ui.playback import PlaybackController

_RATING_KEYS: dict[int, int | None] = {
    Qt.Key.Key_0: None,
    Qt.Key.Key_1: 1,
    Qt.Key.Key_2: 2,
    Qt.Key.Key_3: 3,
    Qt.Key.Key_4: 4,
    Qt.Key.Key_5: 5,
}
_REVIEW_KEYS = {*_RATING_KEYS, Qt.Key.Key_N, Qt.Key.Key_Escape}
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
KEYS_HINT = "1–5 rate · 0 clear · N note · Esc leave"


def stars(rating: int | None) -> str:
    """Five stars, `rating` of them filled ("☆☆☆☆☆" unrated)."""
    filled = rating or 0
    return "★" * filled + "☆" * (5 - filled)


class NoteField(QLineEdit):
    """The one-line note N opens: Enter commits (`returnPressed`), Esc gives up (`cancelled`)."""

    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)


class ReviewStrip(QWidget):
    """The strip under the viewer in review mode: what plays, its rating, the keys; the note field."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reviewStrip")
        self.setStyleSheet("#reviewStrip { background: #2b2410; } QLabel { color: #f2c14e; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 3, 8, 3)
        self.label = QLabel()
        self.hint = QLabel(KEYS_HINT)
        self.note = NoteField()
        self.note.hide()
        layout.addWidget(self.label)
        layout.addWidget(self.note, 3)  # most of the room while open
        layout.addStretch(1)
        layout.addWidget(self.hint)


class ReviewMode(QObject):
    """Review mode of one main window (see the module docstring); `strip` goes under the viewer."""

    active_changed = Signal(bool)

    def __init__(
        self,
        document: DocumentController,
        playback: PlaybackController,
        window: QWidget,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._playback = playback
        self._window = window
        self.active = False
        self._note_act: str | None = None  # the act the open note field writes to
        self._resume = False  # playing when the note field opened: play on after it closes
        self.strip = ReviewStrip()
        self.strip.hide()
        self.strip.note.returnPressed.connect(self._on_note_return_pressed)
        self.strip.note.cancelled.connect(self._close_note)
        document.playhead_changed.connect(self._on_document_playhead_changed)
        document.changed.connect(self._on_document_changed)
        document.replaced.connect(self._on_document_replaced)

    # -- public API ----------------------------------------------------------------------------------------

    @Slot(bool)
    def set_active(self, active: bool) -> None:
        """Enter review mode (play from the playhead) or leave it (pause)."""
        if active == self.active:
            return
        self.active = active
        app = QCoreApplication.instance()
        if active:
            if app is not None:
                app.installEventFilter(self)
            self.strip.show()
            self._show_act()
            self._playback.play()
        else:
            if app is not None:
                app.removeEventFilter(self)
            self._close_note(resume=False)
            self.strip.hide()
            self._playback.pause()
        self.active_changed.emit(active)

    @Slot()
    def toggle(self) -> None:
        self.set_active(not self.active)

    def act_under_playhead(self) -> Act | None:
        index = self._document.project.act_at(self._document.playhead)
        return self._document.project.acts[index] if index is not None else None

    def rate(self, rating: int | None) -> None:
        """Rate what plays under the playhead 1–5 (None clears): one undo step, nothing when unchanged."""
        act = self.act_under_playhead()
        if act is None:
            self._document.message.emit("Review: the playhead is not over an act")
        elif shown_rating(act) != rating:
            self._document.execute(rate_command(act, rating))

    def open_note(self) -> None:
        """Pause and open the note field for the act under the playhead (its take's note to edit, if any)."""
        act = self.act_under_playhead()
        if act is None:
            self._document.message.emit("Review: the playhead is not over an act")
            return
        self._resume = self._playback.is_playing
        self._playback.pause()
        self._note_act = act.id
        take = reviewed_take(act)
        field = self.strip.note
        field.setText(take.note if take is not None else "")
        field.setPlaceholderText(
            f"Note on the selected take of '{act.name}'" if take else f"Add a note to '{act.name}'"
        )
        field.show()
        field.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # -- keys ----------------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            return False
        if not isinstance(event, QKeyEvent) or not self._is_review_key(watched, event):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key comes as a key press instead of triggering a menu shortcut
            return True
        if isinstance(watched, QWidget):  # once per press: not again for the window that forwards it
            self._on_review_key(event.key())
        return True

    def _is_review_key(self, watched: QObject, event: QKeyEvent) -> bool:
        if event.key() not in _REVIEW_KEYS or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        if isinstance(watched, QWindow):
            return watched is self._window.windowHandle()
        return (
            isinstance(watched, QWidget)
            and watched.window() is self._window
            and not isinstance(watched, _TEXT_INPUTS)
        )

    def _on_review_key(self, key: int) -> None:
        if key == Qt.Key.Key_Escape:
            self.set_active(False)
        elif key == Qt.Key.Key_N:
            self.open_note()
        else:
            self.rate(_RATING_KEYS[key])

    # -- notes ---------------------------------------------------------------------------------------------

    @Slot()
    def _on_note_return_pressed(self) -> None:
        text = self.strip.note.text().strip()
        act = next((a for a in self._document.project.acts if a.id == self._note_act), None)
        if act is not None:
            take = reviewed_take(act)
            # A take's note is set whole (it may be cleared); an act's gets a line added, never a blank one.
            changed = text != take.note if take is not None else bool(text)
            if changed:
                self._document.execute(note_command(act, text))
        self._close_note()

    @Slot()
    def _close_note(self, resume: bool = True) -> None:
        if self._note_act is None:
            return
        self._note_act = None
        self.strip.note.hide()
        self.strip.note.clear()
        self._window.setFocus(Qt.FocusReason.OtherFocusReason)
        if resume and self._resume:
            self._playback.play()

    # -- showing -------------------------------------------------------------------------------------------

    def _show_act(self) -> None:
        if not self.active:
            return
        project = self._document.project
        index = project.act_at(self._document.playhead)
        if index is None:
            self.strip.label.setText("Review: past the last act")
            return
        act = project.acts[index]
        what = "selected take" if reviewed_take(act) is not None else "act"
        self.strip.label.setText(
            f"▶ '{act.name}' ({index + 1} of {len(project.acts)}) · {stars(shown_rating(act))} ({what})"
        )

    @Slot(int)
    def _on_document_playhead_changed(self, frame: int) -> None:
        self._show_act()

    @Slot(object)
    def _on_document_changed(self, changes: Changes) -> None:
        self._show_act()

    @Slot()
    def _on_document_replaced(self) -> None:
        self.set_active(False)
