"""Pacing preset names, their parameters and their text form ("downbeats:bars=2", "every-8-beats").

Plain values, below the project and the commands: a template names its pacing preset, and validating that
name must not pull in the code that applies it (app.model.pacing, which needs the project and commands).
"""

from __future__ import annotations

from typing import Any

from app.model.errors import EditError

#: Preset name → the parameters it takes.
PRESET_PARAMETERS: dict[str, tuple[str, ...]] = {
    "every-N-beats": ("n", "anchor"),
    "downbeats": ("bars",),
    "structure": ("min_beats", "max_beats"),
}


def check_parameters(preset: str, params: dict[str, Any]) -> None:
    """Raise EditError naming the preset when it is unknown or `params` has a name it does not take."""
    if preset not in PRESET_PARAMETERS:
        raise EditError(f"unknown pacing preset {preset!r}; expected one of {', '.join(PRESET_PARAMETERS)}")
    names = PRESET_PARAMETERS[preset]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise EditError(f"pacing preset {preset!r} takes {', '.join(names)}; got {', '.join(unknown)}")


def parse_pacing(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse a command-line pacing spec into (preset, params).

    Accepts "structure", "downbeats", "downbeats:bars=2", "every-N-beats:n=8,anchor=first_beat" and the
    shorthand "every-8-beats". Integer values are converted. Raises EditError (an InputError) for a bad
    spec, an unknown preset or a parameter the preset does not take.
    """
    name, _, rest = spec.strip().partition(":")
    params: dict[str, Any] = {}
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "every" and parts[2] == "beats" and parts[1].isdigit():
        name, params["n"] = "every-N-beats", int(parts[1])
    for item in filter(None, rest.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise EditError(f"pacing {spec!r}: expected NAME[:key=value,...], got {item!r}")
        text = value.strip()
        params[key.strip()] = int(text) if text.lstrip("-").isdigit() else text
    if name not in PRESET_PARAMETERS:
        raise EditError(
            f"unknown pacing preset {name!r}; expected one of {', '.join(PRESET_PARAMETERS)}, every-N-beats"
        )
    check_parameters(name, params)
    return name, params


def pacing_title(preset: str, params: dict[str, Any]) -> str:
    """What the preset does, in the words of the Music menu ("Cut on downbeats", "Cut every 8 beats")."""
    if preset == "every-N-beats":
        n = params.get("n", 4)
        return "Cut on every beat" if n == 1 else f"Cut every {n} beats"
    if preset == "downbeats":
        bars = params.get("bars", 1)
        return "Cut on downbeats" if bars == 1 else f"Cut every {bars} bars"
    if preset == "structure":
        return "Follow song structure"
    return f"Pacing {preset!r}"
