"""Motion backends by name. The built-in `motion` backend is always available."""

from __future__ import annotations

from app.engine.backends.base import MotionBackend, MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.errors import InputError

_BUILTIN: dict[str, MotionBackend] = {"motion": BuiltinMotionBackend()}


def backend_names() -> list[str]:
    return sorted(_BUILTIN)


def get_backend(name: str) -> MotionBackend:
    """The backend called `name`; InputError naming the choices when there is none."""
    try:
        return _BUILTIN[name]
    except KeyError:
        raise InputError(f"unknown backend {name!r} (available: {', '.join(backend_names())})") from None


__all__ = ["MotionBackend", "MotionRequest", "backend_names", "get_backend"]
