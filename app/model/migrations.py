"""Upgrades of older project files to the current schema, one version step at a time.

Each step takes the raw JSON object of version N and returns the object of version N + 1. Steps never touch
the file on disk: the upgraded project is written only when the user saves.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from app.model.timebase import format_fps, parse_fps, seconds_to_frames

Json = dict[str, Any]


class MigrationError(ValueError):
    """The old file lacks something its version requires; the message names the field."""


def _v1_to_v2(old: Json) -> Json:
    """Version 1 (the prototype) stored times in seconds and one image and one music file per project.

    v1: {"version": 1, "fps": 24.0, "width": W, "height": H,
         "acts": [{"name", "image"?, "prompt"?, "seconds", "seed"?}], "music": "path"?}
    v2 stores integer frames at a rational rate, a list of references per act and audio clips.
    """
    try:
        fps = parse_fps(old.get("fps", 24))
    except ValueError as error:
        raise MigrationError(f"fps: {error}") from None
    acts = []
    for index, act in enumerate(old.get("acts", [])):
        if not isinstance(act, dict) or "seconds" not in act:
            raise MigrationError(f"acts.{index}.seconds: missing")
        seconds = act["seconds"]
        if not isinstance(seconds, int | float) or seconds <= 0:
            raise MigrationError(f"acts.{index}.seconds: expected a positive number, got {seconds!r}")
        acts.append(
            {
                "name": act.get("name", f"Act {index + 1}"),
                "duration_frames": max(1, seconds_to_frames(float(seconds), fps)),
                "prompt": act.get("prompt", ""),
                "references": [{"path": act["image"]}] if act.get("image") else [],
                "seed": act.get("seed", 0),
            }
        )
    audio = [{"media": {"path": old["music"]}}] if old.get("music") else []
    return {
        "schema_version": 2,
        "settings": {
            "fps": format_fps(Fraction(fps)),
            "width": old.get("width", 1280),
            "height": old.get("height", 720),
        },
        "acts": acts,
        "audio": audio,
    }


def _v2_to_v3(old: Json) -> Json:
    """Version 3 added fields with defaults (acts' generation settings, style prompt and finishing; the
    project's embedded templates): a v2 file is a valid v3 file. The bump makes older Storybeats refuse v3
    files with "made by a newer Storybeat" rather than an unknown-field error."""
    return {**old, "schema_version": 3}


def _v3_to_v4(old: Json) -> Json:
    """Version 4 added where in its camera move an act lies (motion.path_start / path_end, defaults: all of
    it), which splitting an act sets. A v3 file is a valid v4 file; the bump keeps older Storybeats from
    dropping the parts of a split act back to the start of their move."""
    return {**old, "schema_version": 4}


def _v4_to_v5(old: Json) -> Json:
    """Version 5 added audio tracks as objects (name, mute), the media bin, in/out points and the export
    settings. v4 files had as many tracks as their clips used: those become the track list."""
    clips = old.get("audio", [])
    tracks = [
        clip.get("track", 0)
        for clip in clips
        if isinstance(clip, dict) and isinstance(clip.get("track", 0), int)
    ]
    count = max([0, *tracks]) + 1  # a track number out of range is refused by the project's own check
    return {**old, "schema_version": 5, "audio_tracks": [{} for _ in range(count)]}


#: MIGRATIONS[n] upgrades a version-n object to version n + 1.
MIGRATIONS: dict[int, Callable[[Json], Json]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5}


def schema_version_of(raw: Json) -> int:
    """The schema version a raw project object declares (v1 files called the field "version")."""
    version = raw.get("schema_version", raw.get("version"))
    if isinstance(version, bool) or not isinstance(version, int):
        raise MigrationError(f"schema_version: expected an integer, got {version!r}")
    return version


def migrate(raw: Json, target: int) -> Json:
    """Upgrade `raw` step by step to schema `target`. Raises MigrationError when no path exists."""
    version = schema_version_of(raw)
    while version < target:
        step = MIGRATIONS.get(version)
        if step is None:
            raise MigrationError(f"schema_version: no upgrade from version {version}")
        raw = step(raw)
        version = schema_version_of(raw)
    return raw
