"""The error a refused edit raises. It sits at the bottom of app.model so every layer — the values, the
project and the commands — can refuse with it without importing the layers above."""

from __future__ import annotations

from app.errors import InputError


class EditError(InputError):
    """The edit is not allowed (unknown act, duration would drop to zero, bad value); nothing changed."""
