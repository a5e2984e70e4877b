"""Checking a sound file before it joins the project: cheap, and one clear line when it cannot be used.

`check_audio(path)` opens the file's container and looks for an audio stream without decoding any of it (a
few milliseconds), so files can be checked as they are imported or dropped, on the GUI thread. A file
that opens but is damaged further in is found when it is decoded (app.engine.audio.decode keeps what
decodes before the damage).
"""

from __future__ import annotations

from pathlib import Path

from app.errors import MediaError


def check_audio(path: Path) -> float | None:
    """The length of the sound at `path` in seconds as its header declares it (None when the header does
    not say), once the file opens as audio; else MediaError with one line naming the file and what is
    wrong: missing, a folder, empty, not audio."""
    import av  # lazily: PyAV is not needed until a sound is imported

    if not path.exists():
        raise MediaError(f"{path}: audio file not found")
    if not path.is_file():
        raise MediaError(f"{path}: is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file, expected audio")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError):
        raise MediaError(f"{path}: not an audio file (it could not be opened as audio)") from None
    try:
        if not container.streams.audio:
            raise MediaError(f"{path}: not an audio file (it holds no sound)")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
        return None
    finally:
        container.close()
