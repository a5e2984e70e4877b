"""The timeline's tooltip: a tooltip window that every click passes through.

Qt's own QToolTip is a window of its own, placed just below and right of the pointer. On the acts track the
next click after hovering often lands a few pixels lower, on the tooltip: the window system hands it to the
tooltip window, which only hides, and the act under it is never selected (issue 12: Delete then removed the
act selected before). This tip is transparent for input, so the window system gives every click to the
timeline beneath it; where a window system still hands it a mouse event, the tip passes it on to the
timeline. It hides as soon as the pointer presses, scrolls, leaves the timeline or leaves the act it
describes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QHideEvent, QMouseEvent, QPalette, QShowEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QToolTip, QWidget

#: How long a tip stays when the pointer rests (milliseconds), as long as Qt's own tooltips.
TIP_TIMEOUT_MS = 10_000
#: Where the tip sits relative to the pointer (pixels), as Qt places its tooltips on Linux.
_OFFSET = QPoint(2, 16)


class HoverTip(QLabel):
    """Plain-text tip shown by `owner` for a zone of it (owner pixels); transparent for mouse input."""

    def __init__(self, owner: QWidget) -> None:
        super().__init__(
            owner,
            Qt.WindowType.ToolTip
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowTransparentForInput
            | Qt.WindowType.WindowDoesNotAcceptFocus,
        )
        self.setObjectName("hoverTip")  # styled with QToolTip in resources/style.qss
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setPalette(QToolTip.palette())
        self.setFont(QToolTip.font())
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setAutoFillBackground(True)
        self.setFrameStyle(QFrame.Shape.Box | QFrame.Shadow.Plain)
        self.setMargin(3)
        self._owner = owner
        self.zone = QRect()  # where in the owner the text holds
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.setInterval(TIP_TIMEOUT_MS)
        self._expiry.timeout.connect(self.hide)

    def show_text(self, text: str, global_pos: QPoint, zone: QRect) -> None:
        """Show `text` near the pointer at `global_pos` while the pointer stays inside `zone` (owner
        pixels); an empty text hides the tip."""
        if not text:
            self.hide()
            return
        self.zone = QRect(zone)
        if text != self.text() or not self.isVisible():
            self.setText(text)
            self.adjustSize()
            self.move(self._placement(global_pos))
        self.show()
        self.raise_()
        self._expiry.start()

    def follow(self, pos: QPoint) -> None:
        """The pointer moved to `pos` (owner pixels): hide once it left the zone the text describes."""
        if self.isVisible() and not self.zone.contains(pos):
            self.hide()

    def showEvent(self, event: QShowEvent) -> None:
        # Qt's xcb plugin makes a window transparent for input when the flag changes on a native window that
        # exists, not when it creates one: set the flag again on the native window before it is mapped.
        handle = self.windowHandle()
        if handle is not None:
            flag = Qt.WindowType.WindowTransparentForInput
            handle.setFlags(handle.flags() & ~flag)
            handle.setFlags(handle.flags() | flag)
        super().showEvent(event)

    # A window system that delivers mouse input to the tip anyway: the tip goes, the timeline gets the event.

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pass_on(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._pass_on(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._pass_on(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._pass_on(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.hide()
        position = QPointF(self._owner.mapFromGlobal(event.globalPosition()))
        QApplication.sendEvent(
            self._owner,
            QWheelEvent(
                position,
                event.globalPosition(),
                event.pixelDelta(),
                event.angleDelta(),
                event.buttons(),
                event.modifiers(),
                event.phase(),
                event.inverted(),
            ),
        )

    def hideEvent(self, event: QHideEvent) -> None:
        self._expiry.stop()
        self.zone = QRect()
        super().hideEvent(event)

    def _pass_on(self, event: QMouseEvent) -> None:
        self.hide()
        if (
            event.type() == QEvent.Type.MouseButtonPress
            and self._owner.focusPolicy() & Qt.FocusPolicy.ClickFocus
        ):
            self._owner.setFocus(Qt.FocusReason.MouseFocusReason)
        position = QPointF(self._owner.mapFromGlobal(event.globalPosition()))
        QApplication.sendEvent(
            self._owner,
            QMouseEvent(
                event.type(),
                position,
                event.globalPosition(),
                event.button(),
                event.buttons(),
                event.modifiers(),
            ),
        )

    def _placement(self, global_pos: QPoint) -> QPoint:
        """Below and right of the pointer, moved above it or left of it where the screen ends."""
        screen = QGuiApplication.screenAt(global_pos) or self._owner.screen()
        area = screen.availableGeometry()
        size = self.size()
        x, y = global_pos.x() + _OFFSET.x(), global_pos.y() + _OFFSET.y()
        if y + size.height() > area.bottom():
            y = global_pos.y() - 24 - size.height()
        x = max(area.left(), min(x, area.right() - size.width()))
        return QPoint(x, max(area.top(), y))
