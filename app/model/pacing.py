"""Pacing presets: where the cuts fall, computed from the beat grid, and the command that applies them.

The preset functions are pure: they read a Project and return cut frames (timeline frames at the project
rate), strictly increasing and inside (0, total). `ApplyPacing` turns such a list into act durations in one
undoable edit; the acts keep their order and the timeline keeps its total length.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from typing import Any

from app.model.beat_commands import bar_starts
from app.model.commands import Changes, Command, EditError
from app.model.project import Project, Section
from app.model.timebase import seconds_to_frames

#: Energy assumed for the whole song when the analysis found no sections (the structure preset then
#: cuts at a steady, middle pace).
_DEFAULT_ENERGY = 0.5


def _beat_frames(project: Project) -> list[int]:
    beats = project.beats.beat_frames(project.settings.fps)
    if not beats:
        raise EditError("pacing needs beats: analyse the music or tap the tempo first")
    return beats


def _inside(project: Project, frames: list[int]) -> list[int]:
    """Sorted unique frames strictly inside (0, total)."""
    total = project.duration_frames
    return sorted({f for f in frames if 0 < f < total})


def cuts_every_n_beats(project: Project, n: int = 4, anchor: str = "downbeat") -> list[int]:
    """Cut frames on every `n`-th effective beat.

    anchor "downbeat": the counting starts at the first downbeat (so with n = meter every act is one bar);
    "first_beat": at the first beat. Beats before the anchor keep the same phase (anchor − n, − 2n, …).
    """
    if n < 1:
        raise EditError(f"pacing 'every-N-beats': n must be >= 1, got {n}")
    if anchor not in ("downbeat", "first_beat"):
        raise EditError(f"pacing anchor must be 'downbeat' or 'first_beat', got {anchor!r}")
    beats = _beat_frames(project)
    start = 0
    bars = bar_starts(project.beats)
    if anchor == "downbeat" and bars:
        first_bar = seconds_to_frames(bars[0], project.settings.fps)
        start = min(bisect.bisect_left(beats, first_bar), len(beats) - 1)
    return _inside(project, [frame for i, frame in enumerate(beats) if (i - start) % n == 0])


def cuts_on_downbeats(project: Project, bars_per_act: int = 1) -> list[int]:
    """Cut frames on every `bars_per_act`-th downbeat, counted from the first one."""
    if bars_per_act < 1:
        raise EditError(f"pacing 'downbeats': bars must be >= 1, got {bars_per_act}")
    fps = project.settings.fps
    bars = sorted({seconds_to_frames(t, fps) for t in bar_starts(project.beats)})
    if not bars:
        raise EditError("pacing needs beats: analyse the music or tap the tempo first")
    return _inside(project, bars[::bars_per_act])


def beats_per_act(energy: float, min_beats: int, max_beats: int) -> int:
    """Act length in beats for a section of `energy` (0 quiet … 1 loudest): max_beats at 0, min_beats at 1.

    Interpolated geometrically, because pace is felt as a ratio (2 → 4 beats is as big a change as 8 → 16).
    """
    energy = min(1.0, max(0.0, energy))
    return round(min_beats * (max_beats / min_beats) ** (1.0 - energy))


def cuts_by_structure(project: Project, min_beats: int = 2, max_beats: int = 16) -> list[int]:
    """Song-structure pacing: a cut on the beat nearest each section change, and inside each section a cut
    every `beats_per_act(section.energy)` beats, so loud sections cut fast and quiet ones hold.

    A section's last act is merged into the one before when it would be shorter than half the section's
    act length (no stray short shot before a section change). Without sections the song counts as one
    section of middle energy.
    """
    if not 1 <= min_beats <= max_beats:
        raise EditError(
            f"pacing 'structure': need 1 <= min_beats <= max_beats, got {min_beats} and {max_beats}"
        )
    beats = _beat_frames(project)
    fps = project.settings.fps
    sections = sorted(project.beats.sections, key=lambda s: s.start) or [
        Section(start=0.0, end=max(1e-3, len(beats) / float(fps)), energy=_DEFAULT_ENERGY)
    ]
    # Each section begins at the beat nearest its start; the first one begins at the first beat.
    starts = [0] + [_nearest_index(beats, seconds_to_frames(s.start, fps)) for s in sections[1:]]
    cuts: list[int] = []
    for number, section in enumerate(sections):
        first = starts[number]
        end = starts[number + 1] if number + 1 < len(sections) else len(beats)
        if end <= first:
            continue  # a section shorter than a beat: its neighbour's boundary stands in for it
        step = beats_per_act(section.energy, min_beats, max_beats)
        indices = list(range(first, end, step))
        if len(indices) > 1 and end - indices[-1] < step / 2:
            indices.pop()
        cuts.extend(beats[i] for i in indices)
    return _inside(project, cuts)


def _nearest_index(sorted_frames: list[int], frame: int) -> int:
    i = bisect.bisect_left(sorted_frames, frame)
    if i == len(sorted_frames) or (i > 0 and frame - sorted_frames[i - 1] <= sorted_frames[i] - frame):
        return i - 1
    return i


def _downbeats(project: Project, bars: int = 1) -> list[int]:
    return cuts_on_downbeats(project, bars)


#: Preset name → (cut function, the parameter names it takes).
PRESETS: dict[str, tuple[Callable[..., list[int]], tuple[str, ...]]] = {
    "every-N-beats": (cuts_every_n_beats, ("n", "anchor")),
    "downbeats": (_downbeats, ("bars",)),
    "structure": (cuts_by_structure, ("min_beats", "max_beats")),
}


def preset_cuts(project: Project, preset: str, **params: Any) -> list[int]:
    """Cut frames of the named preset ("every-N-beats" n/anchor, "downbeats" bars, "structure"
    min_beats/max_beats). Raises EditError for an unknown preset or parameter."""
    if preset not in PRESETS:
        raise EditError(f"unknown pacing preset {preset!r}; expected one of {', '.join(PRESETS)}")
    function, names = PRESETS[preset]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise EditError(f"pacing preset {preset!r} takes {', '.join(names)}; got {', '.join(unknown)}")
    return function(project, **params)


def parse_pacing(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse a command-line pacing spec into (preset, params).

    Accepts "structure", "downbeats", "downbeats:bars=2", "every-N-beats:n=8,anchor=first_beat" and the
    shorthand "every-8-beats". Integer values are converted. Raises EditError (an InputError) for a bad
    spec.
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
    if name not in PRESETS:
        raise EditError(
            f"unknown pacing preset {name!r}; expected one of {', '.join(PRESETS)}, every-N-beats"
        )
    return name, params


def durations_from_cuts(cuts: list[int], act_count: int, total: int) -> list[int]:
    """Act durations (frames) for `act_count` acts filling `total` frames with cuts at `cuts`.

    Surplus cuts are dropped; when there are too few, the acts left over share the stretch after the last
    cut evenly. Cuts are dropped from the end until every act can have at least one frame.
    """
    if act_count < 1 or total < act_count:
        raise EditError(f"cannot fit {act_count} acts into {total} frames")
    used = [c for c in cuts if 0 < c < total][: act_count - 1]
    while used and total - used[-1] < act_count - len(used):
        used.pop()
    last = used[-1] if used else 0
    remaining = act_count - len(used)  # acts that share [last, total)
    span = total - last
    positions = [0, *used] + [last + span * i // remaining for i in range(1, remaining)] + [total]
    return [b - a for a, b in itertools.pairwise(positions)]


class ApplyPacing(Command):
    """Re-time all acts with a pacing preset (see preset_cuts) in one undoable edit.

    Acts keep their order and the timeline its total length; only durations change.
    """

    def __init__(self, preset: str, **params: Any) -> None:
        self.preset = preset
        self.params = params
        self.label = f"Pacing: {preset}"
        self._old: list[int] = []

    def apply(self, project: Project) -> Changes:
        if len(project.acts) < 2:
            raise EditError("pacing needs at least two acts")
        cuts = preset_cuts(project, self.preset, **self.params)
        durations = durations_from_cuts(cuts, len(project.acts), project.duration_frames)
        self._old = [act.duration_frames for act in project.acts]
        return set_durations(project, durations)

    def revert(self, project: Project) -> Changes:
        return set_durations(project, self._old)


def set_durations(project: Project, durations: list[int]) -> Changes:
    """Set every act's duration (frames, in track order); reports the acts that changed."""
    touched = set()
    for act, duration in zip(project.acts, durations, strict=True):
        if act.duration_frames != duration:
            act.duration_frames = duration
            touched.add(act.id)
    return Changes(acts=frozenset(touched), timing=bool(touched))
