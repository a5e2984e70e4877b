"""What every `storybeat` command shares: exit statuses, the one-line usage error, argument types, the
progress bar and the demo project's location."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

from app.errors import InputError
from app.model.timebase import parse_fps

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEMO_DIR = Path(__file__).resolve().parents[2] / "resources" / "demo"
DEMO_PROJECT = DEMO_DIR / "demo.storybeat"

_MAX_W, _MAX_H = 7680, 4320


class UsageError(InputError):
    """The command line itself is wrong."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage dump: the contract is "one clear line naming the problem".
        raise UsageError(f"{message} (see '{self.prog} --help')")


def fps_arg(text: str) -> Fraction:
    try:
        return parse_fps(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def size_arg(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= width <= _MAX_W and 16 <= height <= _MAX_H):
        raise argparse.ArgumentTypeError(f"size {text} is outside 16x16..{_MAX_W}x{_MAX_H}")
    if width % 2 or height % 2:
        raise argparse.ArgumentTypeError(
            f"size {text} must have even width and height (video encoders need it)"
        )
    return width, height


def positive_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"{value} is outside 1..1024")
    return value


def version() -> str:
    import app

    return f"storybeat {app.__version__}"


# -- progress --------------------------------------------------------------------------------


@contextmanager
def progress_bar(label: str, quiet: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on a terminal; nothing when quiet or when stderr is not a terminal."""
    from rich.progress import TaskProgressColumn

    with _bar(label, quiet, TaskProgressColumn) as update:
        yield update


@contextmanager
def progress_bytes(label: str, quiet: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A download bar on a terminal (bytes, speed, time left); nothing when quiet or not a terminal."""
    from rich.progress import DownloadColumn, TransferSpeedColumn

    with _bar(label, quiet, DownloadColumn, TransferSpeedColumn) as update:
        yield update


@contextmanager
def _bar(label: str, quiet: bool, *columns: Callable[[], Any]) -> Iterator[Callable[[int, int | None], None]]:
    """A transient bar with `columns` between the bar and the time left (rich is imported only here)."""
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        *(column() for column in columns),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
