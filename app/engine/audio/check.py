"""Checking a sound file before it joins the project: cheap, and one clear line when it cannot be used.

`check_audio(path)` opens the file's container and looks for an audio stream without decoding any of it (a
few milliseconds), so files can be checked as they are imported or dropped, on the GUI thread. A file
that opens but is damaged further in is found when it is decoded (app.engine.audio.decode keeps what
decodes before the damage).
"""

from __future__ import annotations

from pathlib import Path


def check_audio(path: Path) -> float | None:
    """The length of the sound at `path` in seconds as its header declares it (None when the header does
    not say), once the file opens as audio; else MediaError with one line naming the file and what is
    wrong: missing, a folder, empty, not audio."""
    import av  # lazily, with the decoder: PyAV is not needed until a sound is imported

    from app.engine.audio.decode import open_audio

    with open_audio(path) as (container, stream):
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return container.duration / av.time_base
        return None
