"""Error types shared by every layer.

The CLI maps `InputError` to exit status 2 (the user gave us something wrong: a file, a field, an argument)
and every other `StorybeatError` to exit status 1 (something failed while working). Messages are written for
the user: they name the file or field and say what was expected, so they can be printed as one line.
"""

from __future__ import annotations


class StorybeatError(Exception):
    """Base class for errors the application reports to the user without a traceback."""


class InputError(StorybeatError):
    """Bad input from outside: a file, a field, an argument. Nothing was changed."""


class MediaError(InputError):
    """An image, audio or video file is missing, unreadable or not what its name says."""


class RenderError(StorybeatError):
    """Something failed while computing or writing frames."""


class Cancelled(StorybeatError):
    """The job was cancelled through its CancelToken."""
