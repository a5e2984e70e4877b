"""Motion backends by name: the built-in `motion` backend (always available) and every image-to-video model
in the user's model registry (`storybeat models add NAME PATH`)."""

from __future__ import annotations

import logging
import threading

from app.engine.backends.base import MotionBackend, MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.engine.models.catalog import Task, pipeline_spec, tasks_of
from app.engine.models.registry import ModelEntry, ModelRegistry
from app.errors import InputError

_log = logging.getLogger(__name__)

BUILTIN_BACKEND = "motion"
_BUILTIN: dict[str, MotionBackend] = {BUILTIN_BACKEND: BuiltinMotionBackend()}
# One backend object per model folder state, so repeated lookups share it (it is stateless beyond that).
_loaded: dict[tuple[str, str, str], MotionBackend] = {}
_loaded_lock = threading.Lock()


def backend_names(registry: ModelRegistry | None = None) -> list[str]:
    """The built-in backend and the registered image-to-video models (only the built-in one when the
    registry file is unreadable: lists feed menus, the error surfaces where a model is actually used)."""
    try:
        entries = (registry or ModelRegistry()).entries()
    except InputError as error:
        _log.warning("model registry: %s", error)
        entries = []
    video = [e.name for e in entries if _is_video(e.pipeline)]
    return sorted(_BUILTIN) + sorted(video)


def model_names(task: Task, registry: ModelRegistry | None = None) -> list[str]:
    """Registered models that can do `task` (a text-to-image model also refines images)."""
    try:
        entries = (registry or ModelRegistry()).entries()
    except InputError as error:
        _log.warning("model registry: %s", error)
        return []
    return sorted(e.name for e in entries if _can(e.pipeline, task))


def _can(pipeline: str, task: Task) -> bool:
    try:
        return task in tasks_of(pipeline_spec(pipeline))
    except InputError:
        return False


def _is_video(pipeline: str) -> bool:
    return _can(pipeline, Task.image_to_video)


def get_backend(name: str, registry: ModelRegistry | None = None) -> MotionBackend:
    """The backend called `name`; InputError naming the choices when there is none (or the model's folder
    is no longer usable)."""
    if name in _BUILTIN:
        return _BUILTIN[name]
    registry = registry or ModelRegistry()
    if registry.find(name) is None:
        choices = ", ".join(backend_names(registry))
        raise InputError(f"unknown backend {name!r} (available: {choices})")
    return backend_for(registry.get(name))  # re-validates the folder


def backend_for(entry: ModelEntry) -> MotionBackend:
    """The backend of a registered (already validated) image-to-video model."""
    from app.engine.backends.diffusion import DiffusionBackend  # cv2/PIL only when a model is used

    memo = (entry.name, entry.revision, str(entry.path))
    with _loaded_lock:
        backend = _loaded.get(memo)
        if backend is None:
            backend = _loaded[memo] = DiffusionBackend(entry)
    return backend


__all__ = [
    "BUILTIN_BACKEND",
    "MotionBackend",
    "MotionRequest",
    "backend_for",
    "backend_names",
    "get_backend",
    "model_names",
]
