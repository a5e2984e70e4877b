"""Pacing presets: where the cuts fall, computed from the beat grid, and the command that applies them.

The preset functions are pure: they read a Project and return cut frames (timeline frames at the project
rate), strictly increasing, on beats and inside the song (0, song_frames). Each leaves at least one beat
on either side: the first beat is no cut when it comes less than a beat after the start (music often
begins a hair after 0 s), nor the last one when the song ends less than a beat after it.

`ApplyPacing` re-times the acts over the whole song in one undoable edit: with fewer acts than the preset
has slots, the acts take several slots each, spread evenly, and the result says how many more acts the
song has room for; with more acts than slots, slots are split on their beats; only when every beat is a
cut already do the acts go on past the song, on its grid continued at its tempo.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.model.beat_commands import bar_starts
from app.model.commands import Changes, Command, EditError
from app.model.pacing_spec import PRESET_PARAMETERS, check_parameters, pacing_title
from app.model.pacing_spec import parse_pacing as parse_pacing  # callers parse and apply from one place
from app.model.project import Project, Section
from app.model.timebase import seconds_to_frames

#: Energy assumed for the whole song when the analysis found no sections (the structure preset then
#: cuts at a steady, middle pace).
_DEFAULT_ENERGY = 0.5


def _all_beat_frames(project: Project) -> list[int]:
    beats = project.beats.beat_frames(project.settings.fps)
    if not beats:
        raise EditError("pacing needs beats: analyse the music or tap the tempo first")
    if len(beats) < 2 and project.beats.tempo <= 0:
        raise EditError("pacing needs at least two beats or a tempo to know how long a beat is")
    return beats


def _beat_period_s(project: Project) -> float:
    """Seconds per beat: from the tempo, else from the last two beats (seconds, > 0)."""
    if project.beats.tempo > 0:
        return 60.0 / project.beats.tempo
    times = project.beats.effective_beats()
    return times[-1] - times[-2]


def song_frames(project: Project) -> int:
    """The length of the music in timeline frames: the end of the last section the analysis found (they
    cover the whole track), else one beat past the last beat."""
    fps = project.settings.fps
    if project.beats.sections:
        return max(1, seconds_to_frames(max(s.end for s in project.beats.sections), fps))
    beats = _all_beat_frames(project)
    return beats[-1] + _gap_after(project, beats, len(beats) - 1)


def _gap_after(project: Project, beats: list[int], index: int) -> int:
    """Frames from beat `index` to the next (to the one before, for the last; a tempo period for a lone
    beat): what "one beat" is at that point of the song."""
    if index + 1 < len(beats):
        return beats[index + 1] - beats[index]
    if index > 0:
        return beats[index] - beats[index - 1]
    return max(1, round(_beat_period_s(project) * float(project.settings.fps)))


def _song_beats(project: Project) -> list[int]:
    """The beat frames inside the song, [0, song_frames) (at least one)."""
    end = song_frames(project)
    beats = [frame for frame in _all_beat_frames(project) if frame < end]
    if not beats:
        seconds = float(end / project.settings.fps)
        raise EditError(f"pacing: the music's sections end at {seconds:.2f} s, before its first beat")
    return beats


def _cut_beats(project: Project, past_the_song: bool = False) -> list[int]:
    """The beat frames a cut may fall on: not at 0, not so early that the first act would be shorter than
    the beat after it, and (unless the acts go on past the song) not so late that the last would be
    shorter than the beat before it."""
    beats = _song_beats(project)
    end = song_frames(project)
    usable = [frame for frame in beats if frame > 0]
    if usable and usable[0] == beats[0] and beats[0] < _gap_after(project, beats, 0):
        usable.pop(0)
    if not past_the_song and usable and end - usable[-1] < _gap_after(project, beats, len(beats) - 1):
        usable.pop()
    return usable


def _on_cut_beats(project: Project, frames: list[int]) -> list[int]:
    """The frames that are beats a cut may fall on, sorted and unique."""
    allowed = set(_cut_beats(project))
    return sorted({frame for frame in frames if frame in allowed})


def cuts_every_n_beats(project: Project, n: int = 4, anchor: str = "downbeat") -> list[int]:
    """Cut frames on every `n`-th effective beat.

    anchor "downbeat": the counting starts at the first downbeat (so with n = meter every act is one bar);
    "first_beat": at the first beat. Beats before the anchor keep the same phase (anchor − n, − 2n, …).
    """
    if n < 1:
        raise EditError(f"pacing 'every-N-beats': n must be >= 1, got {n}")
    if anchor not in ("downbeat", "first_beat"):
        raise EditError(f"pacing anchor must be 'downbeat' or 'first_beat', got {anchor!r}")
    beats = _song_beats(project)
    start = 0
    bars = bar_starts(project.beats)
    if anchor == "downbeat" and bars:
        first_bar = seconds_to_frames(bars[0], project.settings.fps)
        start = min(bisect.bisect_left(beats, first_bar), len(beats) - 1)
    return _on_cut_beats(project, [frame for i, frame in enumerate(beats) if (i - start) % n == 0])


def cuts_on_downbeats(project: Project, bars_per_act: int = 1) -> list[int]:
    """Cut frames on every `bars_per_act`-th downbeat, counted from the first one."""
    if bars_per_act < 1:
        raise EditError(f"pacing 'downbeats': bars must be >= 1, got {bars_per_act}")
    _all_beat_frames(project)  # refuses a grid without beats
    fps = project.settings.fps
    bars = sorted({seconds_to_frames(t, fps) for t in bar_starts(project.beats)})
    return _on_cut_beats(project, bars[::bars_per_act])


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
    beats = _song_beats(project)
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
    return _on_cut_beats(project, cuts)


def _nearest_index(sorted_frames: list[int], frame: int) -> int:
    i = bisect.bisect_left(sorted_frames, frame)
    if i == len(sorted_frames) or (i > 0 and frame - sorted_frames[i - 1] <= sorted_frames[i] - frame):
        return i - 1
    return i


def _downbeats(project: Project, bars: int = 1) -> list[int]:
    return cuts_on_downbeats(project, bars)


_CUT_FUNCTIONS: dict[str, Callable[..., list[int]]] = {
    "every-N-beats": cuts_every_n_beats,
    "downbeats": _downbeats,
    "structure": cuts_by_structure,
}

#: Preset name → (cut function, the parameter names it takes).
PRESETS: dict[str, tuple[Callable[..., list[int]], tuple[str, ...]]] = {
    name: (function, PRESET_PARAMETERS[name]) for name, function in _CUT_FUNCTIONS.items()
}


def preset_cuts(project: Project, preset: str, **params: Any) -> list[int]:
    """Cut frames of the named preset inside the song ("every-N-beats" n/anchor, "downbeats" bars,
    "structure" min_beats/max_beats). Raises EditError for an unknown preset or parameter."""
    check_parameters(preset, params)
    return PRESETS[preset][0](project, **params)


# -- from the preset's cuts to act lengths -------------------------------------------------------------------


@dataclass(frozen=True)
class PacingResult:
    """What applying a pacing preset did (frames at the project rate).

    durations: every act's new length, in track order; acts_retimed: how many of them changed;
    cuts_moved: how many cuts (counted in order) are somewhere else now; acts_needed: how many more acts
    would give every slot of the preset an act of its own (0 when there are enough); acts_past_song: acts
    that end after the music does (only when the acts outnumber the song's beats).
    """

    title: str
    durations: tuple[int, ...]
    acts_retimed: int
    cuts_moved: int
    acts_needed: int
    acts_past_song: int

    @property
    def summary(self) -> str:
        """One line for the status bar: "Cut on downbeats: 4 acts re-timed, 2 more acts would cover the
        song"."""
        parts = [f"{_count(self.acts_retimed, 'act')} re-timed"]
        if self.acts_needed:
            parts.append(f"{_count(self.acts_needed, 'more act')} would cover the song")
        if self.acts_past_song:
            verb = "runs" if self.acts_past_song == 1 else "run"
            parts.append(f"{_count(self.acts_past_song, 'act')} {verb} past the end of the song")
        return f"{self.title}: {', '.join(parts)}"


def _count(number: int, noun: str) -> str:
    if number == 0:
        return f"no {noun}s"
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _spread(positions: list[int], parts: int) -> list[int]:
    """`parts - 1` of `positions[1:]`, spread evenly by count, to cut `positions[0]`.. into `parts` pieces
    (needs len(positions) >= parts). The pieces differ by at most one position."""
    count = len(positions)
    return [positions[(2 * k * count + parts) // (2 * parts)] for k in range(1, parts)]


def _split_slots(slots: list[list[int]], acts: int) -> list[int]:
    """Cuts dividing the slots (each: its start, then the beats inside it that a cut may fall on) into
    `acts` acts, every slot boundary kept. Extra acts go to the slot whose longest act is longest (in
    beats); among equals, to the one furthest from the slots split already, so the splits spread over the
    song instead of bunching at its start."""
    parts = [1] * len(slots)
    for _ in range(acts - len(slots)):
        parts[_slot_to_split(slots, parts)] += 1
    cuts: list[int] = []
    for j, slot in enumerate(slots):
        if j:
            cuts.append(slot[0])
        cuts.extend(_spread(slot, parts[j]))
    return cuts


def _slot_to_split(slots: list[list[int]], parts: list[int]) -> int:
    """Index of the slot that gets the next act (see _split_slots); some slot must have a beat to spare."""
    split = [k for k, count in enumerate(parts) if count > 1]

    def priority(j: int) -> tuple[int, float, int]:
        longest = -(-len(slots[j]) // parts[j])  # beats in its longest act: ceil(positions / acts)
        distance = min((abs(j - k) for k in split), default=float("inf"))
        return longest, distance, -j

    return max((j for j in range(len(slots)) if parts[j] < len(slots[j])), key=priority)


def plan_pacing(project: Project, preset: str, **params: Any) -> PacingResult:
    """The act lengths the preset gives the project's acts over the whole song, and what that changes.

    Pure: the project is not modified. Raises EditError for an unknown preset or parameter, a grid without
    beats, or fewer than two acts.
    """
    if len(project.acts) < 2:
        raise EditError("pacing needs at least two acts")
    cuts = preset_cuts(project, preset, **params)
    acts = len(project.acts)
    song = end = song_frames(project)
    slots = len(cuts) + 1
    usable = _cut_beats(project)
    if acts <= slots:
        chosen = _spread([0, *cuts], acts)
    elif acts <= len(usable) + 1:
        bounds = [0, *cuts, song]
        chosen = _split_slots(
            [[a, *(b for b in usable if a < b < z)] for a, z in itertools.pairwise(bounds)], acts
        )
    else:
        # More acts than the song has beats: every beat is a cut, then the grid goes on at its tempo (one
        # beat more than the cuts need: the last act ends on it).
        chosen = _cut_beats(project, past_the_song=True)
        needed = acts - 1 - len(chosen)
        continued = _continued_beats(project, needed + 1)
        chosen += continued[:needed]
        end = max(song, continued[needed])
    durations = tuple(b - a for a, b in itertools.pairwise([0, *chosen, end]))
    old_cuts = project.cut_frames()
    return PacingResult(
        title=pacing_title(preset, params),
        durations=durations,
        acts_retimed=sum(a.duration_frames != d for a, d in zip(project.acts, durations, strict=True)),
        cuts_moved=sum(a != b for a, b in zip(old_cuts, chosen, strict=True)),
        acts_needed=max(0, slots - acts),
        acts_past_song=sum(stop > song for stop in itertools.accumulate(durations)),
    )


def _continued_beats(project: Project, count: int) -> list[int]:
    """`count` beat frames after the song's last beat, on its grid continued at its tempo."""
    fps = project.settings.fps
    last_frame = _song_beats(project)[-1]
    last = max(t for t in project.beats.effective_beats() if seconds_to_frames(t, fps) == last_frame)
    period = _beat_period_s(project)
    frames: list[int] = []
    beat = 0
    while len(frames) < count:
        beat += 1
        frame = seconds_to_frames(last + beat * period, fps)
        if frame > (frames[-1] if frames else last_frame):
            frames.append(frame)
    return frames


class ApplyPacing(Command):
    """Re-time all acts with a pacing preset (see plan_pacing) in one undoable edit.

    Acts keep their order; they span the whole song afterwards. `result` says what the last apply did.
    """

    def __init__(self, preset: str, **params: Any) -> None:
        self.preset = preset
        self.params = params
        self.label = pacing_title(preset, params)
        self.result: PacingResult | None = None
        self._old: list[int] = []

    def apply(self, project: Project) -> Changes:
        result = plan_pacing(project, self.preset, **self.params)
        self._old = [act.duration_frames for act in project.acts]
        self.result = result
        return set_durations(project, list(result.durations))

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
