"""The app's stylesheet (resources/style.qss, applied to the whole application as the editor does): disabled
controls look disabled and a checked radio button reads as checked; checked on rendered pixels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QMenu, QRadioButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.ui.app import RESOURCES

ACCENT = QColor("#3d6fb6")


@pytest.fixture
def app_stylesheet() -> Iterator[None]:
    app = cast(QApplication, QApplication.instance())
    before = app.styleSheet()
    app.setStyleSheet((RESOURCES / "style.qss").read_text(encoding="utf-8"))
    yield
    app.setStyleSheet(before)


def _brightest(image: QImage, area: QRect) -> int:
    """The highest lightness (0..255) among the pixels of `area`: the text's colour on the dark theme."""
    area = area.intersected(image.rect())
    return max(
        image.pixelColor(x, y).lightness()
        for y in range(area.top(), area.bottom() + 1)
        for x in range(area.left(), area.right() + 1)
    )


def _has_colour(image: QImage, colour: QColor, tolerance: int = 12) -> bool:
    return any(
        max(
            abs(pixel.red() - colour.red()),
            abs(pixel.green() - colour.green()),
            abs(pixel.blue() - colour.blue()),
        )
        <= tolerance
        for pixel in (image.pixelColor(x, y) for y in range(image.height()) for x in range(image.width()))
    )


def _radios(qtbot: QtBot) -> tuple[QWidget, QRadioButton, QRadioButton, QRadioButton]:
    """Shown in a holder (kept by the caller): an enabled unchecked, a disabled unchecked and an enabled
    checked radio button."""
    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QVBoxLayout(holder)
    enabled, disabled, checked = QRadioButton("In to out"), QRadioButton("In to out"), QRadioButton("Whole")
    disabled.setEnabled(False)
    checked.setAutoExclusive(False)
    checked.setChecked(True)
    for radio in (enabled, disabled, checked):
        layout.addWidget(radio)
    holder.show()
    qtbot.waitExposed(holder)
    return holder, enabled, disabled, checked


def _label_area(radio: QRadioButton) -> QRect:
    """The part of the button right of its indicator, where the text is."""
    rect = radio.rect()
    return rect.adjusted(rect.height() + 4, 0, 0, 0)


@pytest.mark.usefixtures("app_stylesheet")
def test_a_disabled_radio_buttons_text_is_dimmer_than_an_enabled_ones(qtbot: QtBot) -> None:
    _holder, enabled, disabled, _ = _radios(qtbot)
    live = _brightest(enabled.grab().toImage(), _label_area(enabled))
    dim = _brightest(disabled.grab().toImage(), _label_area(disabled))
    assert live >= 180  # light text on the dark theme
    assert dim <= live - 50, (live, dim)


@pytest.mark.usefixtures("app_stylesheet")
def test_a_checked_radio_button_shows_the_accent_colour(qtbot: QtBot) -> None:
    _holder, enabled, _, checked = _radios(qtbot)
    assert _has_colour(checked.grab().toImage(), ACCENT)
    assert not _has_colour(enabled.grab().toImage(), ACCENT)


@pytest.mark.usefixtures("app_stylesheet")
def test_a_disabled_menu_item_is_dimmer_than_an_enabled_one(qtbot: QtBot) -> None:
    menu = QMenu()
    qtbot.addWidget(menu)
    rename = menu.addAction("Remove Track")
    remove = menu.addAction("Remove Track")
    remove.setEnabled(False)
    menu.show()
    qtbot.waitExposed(menu)
    image = menu.grab().toImage()
    live = _brightest(image, menu.actionGeometry(rename))
    dim = _brightest(image, menu.actionGeometry(remove))
    assert dim <= live - 50, (live, dim)
