"""Cooperative cancellation and progress reporting for long jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.errors import Cancelled

#: Progress callback: (units done, units total). Called from the worker thread; keep it cheap.
ProgressFn = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    """A ProgressFn that ignores progress."""


class CancelToken:
    """A flag a job checks between units of work (frames, diffusion steps).

    Cancelling is thread-safe and idempotent; the job notices at its next `raise_if_cancelled()`.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")
