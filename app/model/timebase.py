"""Project time: integer frames at a rational frame rate.

Seconds are derived from frames, never stored beside them. Beat times arrive in seconds (from audio analysis)
and are snapped to frames when they become cut positions.
"""

from __future__ import annotations

import math
from fractions import Fraction

#: Frame rates a user may choose; anything in this closed range is accepted (e.g. 23.976 as 24000/1001).
MIN_FPS = Fraction(1)
MAX_FPS = Fraction(240)

_NAMED_RATES = {
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
}


def parse_fps(value: str | int | float | Fraction) -> Fraction:
    """Parse a frame rate: 24, "25", "30000/1001", "29.97" (NTSC rates map to their exact fractions).

    Raises ValueError with the offending value when it is not a rate in [1, 240] frames per second.
    """
    if isinstance(value, bool):
        raise ValueError(f"frame rate {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        fps = _NAMED_RATES.get(text)
        if fps is None:
            try:
                fps = Fraction(text)
            except (ValueError, ZeroDivisionError):
                raise ValueError(
                    f"frame rate {value!r} is not a number or fraction like 30000/1001"
                ) from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"frame rate {value!r} is not a finite number")
        fps = _NAMED_RATES.get(f"{value:.3f}".rstrip("0").rstrip(".")) or Fraction(value).limit_denominator(
            1001
        )
    else:
        fps = Fraction(value)
    if not MIN_FPS <= fps <= MAX_FPS:
        raise ValueError(f"frame rate {value} is outside {MIN_FPS}..{MAX_FPS} frames per second")
    return fps


def format_fps(fps: Fraction) -> str:
    """The canonical text form stored in project files: "24" or "30000/1001"."""
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


def frames_to_seconds(frames: int, fps: Fraction) -> float:
    return float(Fraction(frames) / fps)


def seconds_to_frames(seconds: float, fps: Fraction) -> int:
    """The frame nearest to `seconds` (ties round half to even, like Python's round)."""
    return round(Fraction(seconds) * fps)


def timecode(frames: int, fps: Fraction) -> str:
    """HH:MM:SS:FF (non-drop-frame; fractional rates count frames at the rounded nominal rate)."""
    nominal = max(1, round(fps))
    sign = "-" if frames < 0 else ""
    frames = abs(frames)
    ff = frames % nominal
    total_seconds = frames // nominal
    return (
        f"{sign}{total_seconds // 3600:02d}:{total_seconds // 60 % 60:02d}:{total_seconds % 60:02d}:{ff:02d}"
    )
