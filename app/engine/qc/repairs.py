"""One-click repairs for QC findings: each an undoable edit whose values are worked out in advance.

`repairs_for` runs on a worker thread beside the checks (the colour match reads frames and fits a grade, the
deflicker is tried on the act's draft); executing a repair's `command` does no frame work and is one undo
step. A repair is offered only where its effect on the finding can be measured: the finding's check judges
the same subject again on the repaired drafts (`Finding.subject`, app.engine.qc.outcome), and the repair
changes what that check looks at. What each finding gets, in order:

- flicker: deflicker the act, at the first amount that, tried on the act's current draft frames around the
  finding, brings the flicker check's measure there under its threshold (`predicted_flicker`): from
  DEFLICKER_FIRST (more when that would leave the measured oscillation above half the warn threshold:
  deflicker s leaves about 1 − s of it), or DEFLICKER_STEP more when it is already on, up in steps of
  DEFLICKER_TRY_STEP to 1. None clears it (a flicker on a patch much smaller than deflicker's cells, a
  flash the check counts as flicker but that no gain per cell evens out): not offered. Then re-roll the seed.
- lighting_jump: colour-match the act toward the act before the cut (or, for a finding between acts that
  share a template, toward the act it was compared with). No crossfade: the lighting check does not judge a
  step under a gradual transition, so what a crossfade achieves cannot be measured.
- off_beat_motion at a cut: move the cut to the nearest beat it can reach (a crossfade would leave the cut,
  which is what the check measures, where it is). A burst of motion inside an act gets none (nothing here
  moves it onto a beat).
- texture_artifacts: re-roll the seed (the texture check matches each pair's brightness before it measures,
  so a deflicker cannot change its value).
- reference_overfit, a near-static act: more camera motion (intensity + MOTION_STEP; a static camera gets a
  drift), re-roll. An act that looks like an earlier one: re-roll, when its picture comes from the seed (no
  references; reused references stay reused whatever is rendered from them).

A repair that cannot apply is left out: re-rolling a locked seed, deflicker or intensity already at 1, a
colour match on an act whose grade has a LUT (the sliders act before a table this module cannot see) or whose
fit changes nothing, a cut with no beat within its two acts. Findings on a video that is not a project (act
None), on an act no longer in the project, or without a subject to measure again get no repairs.

Colour match. MATCHED_FRAMES frames either side of the cut are compared in pairs at the same distance from
it (outgoing[-1] with incoming[0], …; for a shared-template finding, the middle frames of the two acts), at
FIT_WIDTH px. On each incoming frame the act's current slider grade is undone (the inverse saturation
matrix, then the inverse of the exposure / white balance / contrast tables), so the fit starts from what the
grade receives; where that grade brightens, pixels at _CLIPPED_LEVEL or above are left out (what they held
before it clipped them is unknown). Each pair is registered as the lighting check does
(`lighting.register`) and the incoming frame warped onto the outgoing one, so the statistics compare the
same content (without a registration, or with too little overlap, the whole frames are compared). The
grade's exposure (stops), temperature, saturation and contrast are then chosen, inside GradeSettings'
ranges, to minimise

    Σ_{c ∈ L*,a*,b*} mean_q (c_q(graded) − c_q(target))² + Δā*² + Δb̄*²
        + REGULARISATION · (Δcontrast² + Δsaturation²)

with c_q the CIELAB quantiles QUANTILES of each channel (matching them is histogram matching: on L* it sets
exposure and contrast; on a*, b* it tells a colour cast, which moves every colour, from a saturation
change, which scales them from grey), ā*, b̄* the mean colour, and the last term (changes from the current
values) keeping contrast and saturation where the colours do not ask for a change. The search is
Nelder–Mead from the current values and from no exposure or white-balance change, keeping the better.
On two renders of one photo whose second act is graded +1 stop and warmer, the fit returns within about 0.1 of
the neutral grade; on a second photo brightened by a stop and warmed it brings the lighting check's ΔE
from 16–20 to about 1.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np
from scipy.optimize import minimize

from app.engine.deflicker import DeflickeredClip
from app.engine.grade import Grader
from app.engine.qc import beat_sync, flicker, flow_stats, lighting, overfit
from app.engine.qc.types import ActSpan, CheckKind, Finding, QCInput
from app.model.act import MAX_SEED, Act, CameraMove, GradeSettings
from app.model.commands import Command, MoveCut, SetActField
from app.model.history import CommandGroup
from app.model.project import Project
from app.model.take_commands import SelectTake
from app.model.timebase import seconds_to_frames

DEFLICKER_FIRST = 0.8
DEFLICKER_STEP = 0.3
DEFLICKER_TRY_STEP = 0.1
MOTION_STEP = 0.3
MATCHED_FRAMES = 3  # frames each side of a cut compared, in pairs at the same distance from it
FIT_WIDTH = 320  # px: the lighting check's analysis size, where its registration is calibrated
QUANTILES = np.linspace(5.0, 95.0, 10)  # percent
REGULARISATION = 10.0  # ΔE² per unit² of contrast or saturation change
_MAX_FIT_PIXELS = 8_000  # the shared pixels are subsampled to at most this many (the fit's cost)
_FITTED = ("exposure", "temperature", "saturation", "contrast")
_SIMPLEX_STEPS = (0.5, 0.3, 0.2, 0.15)  # first moves of the search, in each value's own unit
_OVERLAP_ERODE_PX = 7
# A source pixel with a channel this high may have been clipped by a grade that brightens (JPEG drafts ring a
# few levels below 255).
_CLIPPED_LEVEL = 245
_MIN_UNCLIPPED_SHARE = 0.1
#: Rec.709 luma weights: the grade's saturation mixes each channel with this (app.engine.grade).
_REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
_MIN_INVERTIBLE = 0.05  # saturation or contrast below this has flattened what an inverse would need

Frames = Callable[[str], Sequence[np.ndarray]]


@dataclass(frozen=True)
class Repair:
    label: str  # button text: "Deflicker act 'Dawn'", "Match colour of 'Noon' to 'Dawn'", …
    description: str  # one line: what it changes
    command: Command  # the undoable edit, values precomputed (executing it does no frame work)


def repairs_for(finding: Finding, project: Project, frames: Frames) -> list[Repair]:
    """The repairs offered for `finding` on `project` (module doc), best first. `frames(act_id)` gives an
    act's current draft frames (RGB uint8, body frames in order); it is called for a colour match and to try
    a deflicker."""
    if finding.act is None or not finding.subject or all(act.id != finding.act for act in project.acts):
        return []
    act = project.act(finding.act)
    candidates: list[Repair | None]
    if finding.kind == CheckKind.flicker:
        candidates = [_deflicker(finding, project, act, frames), _reroll(act)]
    elif finding.kind == CheckKind.lighting_jump:
        candidates = [_lighting_repair(finding, project, act, frames)]
    elif finding.kind == CheckKind.off_beat_motion:
        at_cut = finding.subject == beat_sync.cut_subject(act.id) and project.index_of(act.id) > 0
        candidates = [_move_cut(finding, project, act)] if at_cut else []
    elif finding.kind == CheckKind.texture_artifacts:
        candidates = [_reroll(act)]
    elif finding.subject == overfit.still_subject(act.id):
        candidates = [_more_motion(act), _reroll(act)]
    else:  # looks like an earlier act
        candidates = [] if act.references else [_reroll(act)]
    return [repair for repair in candidates if repair is not None]


# -- the repairs ---------------------------------------------------------------------------------------------


def _deflicker(finding: Finding, project: Project, act: Act, frames: Frames) -> Repair | None:
    """Deflicker at the first amount (`deflicker_amounts`) that, tried on the act's draft frames around the
    finding, leaves its flicker under the threshold; None when none does."""
    current = act.grade.deflicker
    amounts = deflicker_amounts(current, finding.value)
    if not amounts:
        return None
    drafts = frames(act.id)
    measured = _finding_frames(finding, project, act, len(drafts))
    for amount in amounts:
        # The draft already has `current`: a further s leaves (1 − current)(1 − s) as `amount` would.
        further = 1.0 - (1.0 - amount) / (1.0 - current)
        predicted = predicted_flicker(drafts, min(1.0, further), project.settings.fps, measured)
        if predicted is not None and predicted < finding.threshold:
            grade = act.grade.model_copy(update={"deflicker": amount})
            return Repair(
                label=f"Deflicker act {act.name!r}",
                description=f"Sets the act's deflicker to {amount:g} (was {current:g}): evens out its "
                "frame-to-frame brightness, keeping slow changes. Tried on the current draft it leaves "
                f"±{predicted:.1f} % of the ±{finding.value:.1f} % flicker",
                command=SetActField(act.id, "grade", grade, label="Deflicker"),
            )
    return None


def deflicker_amounts(current: float, flicker_percent: float) -> list[float]:
    """The deflicker amounts to try for a flicker of `flicker_percent` on an act at `current`, in order:
    DEFLICKER_FIRST, or more for a flicker that 0.8 would leave above half the warn threshold (deflicker s
    leaves about 1 − s of it), or `current` + DEFLICKER_STEP when it is on; then up by DEFLICKER_TRY_STEP
    to 1. Empty at 1 already."""
    if current >= 1.0:
        return []
    if current > 0.0:
        first = round(min(1.0, current + DEFLICKER_STEP), 2)
    else:
        needed = 1.0 - 0.5 * flicker.WARN_PERCENT / flicker_percent if flicker_percent > 0 else 0.0
        first = min(1.0, max(DEFLICKER_FIRST, math.ceil(round(needed * 20.0, 6)) / 20.0))  # in 0.05 steps
    amounts = [first]
    while amounts[-1] < 1.0:
        amounts.append(round(min(1.0, amounts[-1] + DEFLICKER_TRY_STEP), 2))
    return amounts


def predicted_flicker(
    frames: Sequence[np.ndarray], strength: float, fps: Fraction, measured: range
) -> float | None:
    """The flicker check's measure (percent, at any level) of frames `measured` of `frames` (an act's body
    frames in order, RGB uint8) after deflicker `strength` on them; None when too few pairs are usable.

    The frames are taken at the check's analysis width; the deflicker sees the act's other frames around
    the measured ones, and repeats the ends as a clip without handles does (so near the ends of an act it
    predicts a little more flicker than a render, which has handles, leaves)."""
    source = _AnalysisFrames(frames)
    clip = DeflickeredClip(source, strength) if strength > 0.0 else source
    picked = [clip.frame(index) for index in measured]
    qc = QCInput(frames=picked, fps=fps, spans=[ActSpan(0, len(picked))])
    result = flicker.check(qc, flow_stats.compute(qc))
    return result.measures.get(flicker.subject(flow_stats.span_key(qc.spans[0], 1)))


class _AnalysisFrames:
    """Frames as a clip at FIT_WIDTH px wide (the checks' analysis width), clamped at the ends."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self._frames = frames
        self.length = len(frames)

    def frame(self, index: int) -> np.ndarray:
        frame = self._frames[min(max(index, 0), self.length - 1)]
        height, width = frame.shape[:2]
        if width <= FIT_WIDTH:
            return frame
        size = (FIT_WIDTH, max(2, round(height * FIT_WIDTH / width)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def _finding_frames(finding: Finding, project: Project, act: Act, length: int) -> range:
    """The act's body frames a finding covers, widened by a flicker window each side (the check's windows
    around them), within 0 … `length`."""
    fps = project.settings.fps
    start = project.act_starts()[project.index_of(act.id)]
    margin = flicker.window_pairs(fps) + 1
    first = seconds_to_frames(finding.start, fps) - start - margin
    last = seconds_to_frames(finding.end, fps) - start + margin
    return range(max(0, first), min(length, max(last, first + 1)))


def _reroll(act: Act) -> Repair | None:
    if act.seed_locked:
        return None
    used = {act.seed, *(take.seed for take in act.takes)}
    seed = secrets.randbelow(MAX_SEED + 1)
    while seed in used:
        seed = secrets.randbelow(MAX_SEED + 1)
    set_seed = SetActField(act.id, "seed", seed, label="Re-roll seed")
    command: Command = set_seed
    description = f"Renders the act again with seed {seed} (was {act.effective_seed()})"
    if act.selected_take is not None:
        # The selected take's seed wins over the act's own: go back to the act's seed for the new one to show.
        command = CommandGroup("Re-roll seed", [SelectTake(act.id, None), set_seed])
        description += ", leaving its selected take"
    return Repair(label=f"Re-roll the seed of {act.name!r}", description=description, command=command)


def _more_motion(act: Act) -> Repair | None:
    motion = act.motion
    if motion.camera == CameraMove.static:
        intensity = max(motion.intensity, 0.5)
        changed = motion.model_copy(update={"camera": CameraMove.drift, "intensity": intensity})
        description = f"Gives the still camera a drift at intensity {intensity:g}"
    elif motion.intensity < 1.0:
        intensity = round(min(1.0, motion.intensity + MOTION_STEP), 2)
        changed = motion.model_copy(update={"intensity": intensity})
        description = f"Raises the camera move's intensity to {intensity:g} (was {motion.intensity:g})"
    else:
        return None
    return Repair(
        label=f"Add motion to {act.name!r}",
        description=description,
        command=SetActField(act.id, "motion", changed, label="Add motion"),
    )


def _move_cut(finding: Finding, project: Project, act: Act) -> Repair | None:
    """Roll the cut into `act` onto the nearest beat strictly inside its two acts: the project's beat grid,
    else the beat the finding measured against."""
    fps = project.settings.fps
    index = project.index_of(act.id)
    starts = project.act_starts()
    cut, first, end = starts[index], starts[index - 1], starts[index] + act.duration_frames
    beats = project.beats.beat_frames(fps)
    if not beats:
        cut_s = float(cut / fps)
        measured = finding.end if _same_time(finding.start, cut_s, fps) else finding.start
        beats = [seconds_to_frames(measured, fps)]
    reachable = [beat for beat in beats if first < beat < end and beat != cut]
    if not reachable:
        return None
    target = min(reachable, key=lambda beat: (abs(beat - cut), beat))
    shift = target - cut
    return Repair(
        label=f"Move the cut into {act.name!r} onto the beat at {float(target / fps):.2f} s",
        description=f"Rolls the cut {abs(shift)} frame{'s' if abs(shift) != 1 else ''} "
        f"{'later' if shift > 0 else 'earlier'}; the film keeps its length",
        command=MoveCut(index - 1, target, label="Move cut to beat"),
    )


def _lighting_repair(finding: Finding, project: Project, act: Act, frames: Frames) -> Repair | None:
    """Colour-match the act toward the act before the cut, or toward the act sharing its template that the
    finding compared it with."""
    index = project.index_of(act.id)
    if finding.subject == lighting.cut_subject(act.id):
        return _colour_match(act, project.acts[index - 1], frames, at_cut=True) if index > 0 else None
    earlier = project.acts[:index]
    reference = next((e for e in earlier if finding.subject == lighting.look_subject(act.id, e.id)), None)
    return None if reference is None else _colour_match(act, reference, frames, at_cut=False)


def _colour_match(act: Act, reference: Act, frames: Frames, at_cut: bool) -> Repair | None:
    if act.grade.lut is not None:
        return None
    incoming, outgoing = frames(act.id), frames(reference.id)
    if len(incoming) == 0 or len(outgoing) == 0:
        return None
    if at_cut:
        target, source = outgoing[-MATCHED_FRAMES:], incoming[:MATCHED_FRAMES]
    else:
        target, source = _middle(outgoing), _middle(incoming)
    grade = fit_grade(target, source, act.grade)
    if grade == act.grade:
        return None
    return Repair(
        label=f"Match colour of {act.name!r} to {reference.name!r}",
        description=f"Sets the act's grade to exposure {grade.exposure:+.2f} stops, temperature "
        f"{grade.temperature:+.2f}, saturation {grade.saturation:.2f}, contrast {grade.contrast:.2f} so its "
        f"light and colour match {reference.name!r}",
        command=SetActField(act.id, "grade", grade, label="Match colour"),
    )


def _middle(frames: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
    first = max(0, (len(frames) - MATCHED_FRAMES) // 2)
    return frames[first : first + MATCHED_FRAMES]


def _same_time(a: float, b: float, fps: Fraction) -> bool:
    return abs(a - b) < 0.5 / float(fps)


# -- the colour fit ------------------------------------------------------------------------------------------


def fit_grade(
    target: Sequence[np.ndarray], source: Sequence[np.ndarray], grade: GradeSettings
) -> GradeSettings:
    """`grade` with exposure, temperature, saturation and contrast chosen so that `source` (frames graded
    with `grade`, RGB uint8) looks like `target` (module doc). Frames are compared in pairs from the cut
    outwards: target[-1] with source[0], target[-2] with source[1], … Values are rounded to hundredths."""
    (wanted_quantiles, wanted_means), pixels = _matched_pixels(target, source, grade)
    start = np.array([getattr(grade, name) for name in _FITTED])
    bounds = [_field_range(name) for name in _FITTED]

    def settings(values: np.ndarray) -> GradeSettings:
        clipped = {
            name: min(max(float(value), low), high)
            for name, value, (low, high) in zip(_FITTED, values, bounds, strict=True)
        }
        return GradeSettings(**clipped)

    def loss(values: np.ndarray) -> float:
        quantiles, means = _colour_stats(Grader(settings(values))(pixels))
        histograms = float(np.sum(np.mean((quantiles - wanted_quantiles) ** 2, axis=1)))
        colour = float(np.sum((means - wanted_means) ** 2))
        kept = (values[2] - start[2]) ** 2 + (values[3] - start[3]) ** 2
        return histograms + colour + REGULARISATION * float(kept)

    # Nelder–Mead can stall on the grade's 8-bit plateaus far from the optimum: start it from the current
    # values and from no exposure or white-balance change, and keep the better end.
    starts = [start, np.array([0.0, 0.0, start[2], start[3]])]
    results = [
        minimize(
            loss,
            first,
            method="Nelder-Mead",
            bounds=bounds,
            options={
                "initial_simplex": _simplex(first, bounds),
                "xatol": 0.005,
                "fatol": 1e-3,
                "maxfev": 400,
            },
        )
        for first in starts
    ]
    result = min(results, key=lambda found: float(found.fun))
    fitted = settings(np.asarray(result.x))
    return grade.model_copy(update={name: round(getattr(fitted, name), 2) for name in _FITTED})


def _matched_pixels(
    target: Sequence[np.ndarray], source: Sequence[np.ndarray], grade: GradeSettings
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """(the colour statistics to reach, the source's ungraded pixels (n, 1, 3) uint8) over the content each
    pair of frames shares (module doc), leaving out source pixels the current grade may have clipped (what
    they held before is unknown) unless that is nearly all of them."""
    wanted: list[np.ndarray] = []
    given: list[np.ndarray] = []
    for target_frame, source_frame in zip(reversed(target), source, strict=False):
        aim = _fit_frame(target_frame, min(FIT_WIDTH, target_frame.shape[1]))
        height, width = aim.shape[:2]
        graded = cv2.resize(source_frame, (width, height), interpolation=cv2.INTER_AREA)
        ungraded, may_clip = _ungraded(graded.astype(np.float32), grade)
        unclipped = ((graded.max(axis=2) < _CLIPPED_LEVEL) | (not may_clip)).astype(np.uint8)
        shared = np.ones((height, width), dtype=bool)
        homography = lighting.register(aim, graded)
        if homography is not None:
            size = (width, height)
            coverage = cv2.warpPerspective(np.ones((height, width), np.uint8), homography, size)
            overlap = cv2.erode(coverage, np.ones((_OVERLAP_ERODE_PX, _OVERLAP_ERODE_PX), np.uint8)) > 0
            if overlap.mean() >= lighting.MIN_OVERLAP:
                ungraded = cv2.warpPerspective(ungraded, homography, size, flags=cv2.INTER_LINEAR)
                unclipped = cv2.warpPerspective(unclipped, homography, size, flags=cv2.INTER_NEAREST)
                shared = overlap
        used = shared & (unclipped > 0)
        if used.sum() < _MIN_UNCLIPPED_SHARE * shared.sum():
            used = shared  # mostly clipped: better all of it than a few stray pixels
        wanted.append(aim[used])
        given.append(ungraded[used])
    aims, pixels = np.concatenate(wanted), np.concatenate(given)
    step = max(1, math.ceil(len(pixels) / _MAX_FIT_PIXELS))
    ungraded_pixels = np.clip(np.rint(pixels[::step]), 0, 255).astype(np.uint8).reshape(-1, 1, 3)
    return _colour_stats(aims[::step]), ungraded_pixels


def _simplex(start: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    """Nelder–Mead's first simplex: the start and one step along each value (inward at a bound). The grade
    works through 8-bit tables, so the default tiny steps would all land on one plateau."""
    vertices = [start.astype(np.float64)]
    for axis, step in enumerate(_SIMPLEX_STEPS):
        vertex = start.astype(np.float64).copy()
        low, high = bounds[axis]
        vertex[axis] = vertex[axis] + step if vertex[axis] + step <= high else vertex[axis] - step
        vertex[axis] = min(max(vertex[axis], low), high)
        vertices.append(vertex)
    return np.stack(vertices)


def _field_range(name: str) -> tuple[float, float]:
    """(ge, le) of a GradeSettings field, as the model declares them."""
    low = high = None
    for rule in GradeSettings.model_fields[name].metadata:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    assert low is not None and high is not None, f"GradeSettings.{name} has no range"
    return float(low), float(high)


def _fit_frame(frame: np.ndarray, width: int) -> np.ndarray:
    height = max(2, round(frame.shape[0] * width / frame.shape[1]))
    if frame.shape[1] == width:
        return np.ascontiguousarray(frame)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def _ungraded(image: np.ndarray, grade: GradeSettings) -> tuple[np.ndarray, bool]:
    """`grade`'s sliders undone on `image` (float32 RGB 0–255): (what the grade received, up to what it
    clipped; whether the grade can clip highlights: it saturates, or raises some channel's level
    _CLIPPED_LEVEL to 254 or more). The LUT is not undone (acts with one are not matched)."""
    may_clip = grade.saturation > 1.0
    if grade.saturation != 1.0 and grade.saturation >= _MIN_INVERTIBLE:
        # The grade mixes each channel with luma by s; mixing by 1/s undoes it (the weights sum to 1).
        inverse = np.eye(3, dtype=np.float32) / grade.saturation + (1.0 - 1.0 / grade.saturation) * np.tile(
            _REC709_LUMA, (3, 1)
        )
        image = cv2.transform(image, inverse.astype(np.float32))
    sliders = Grader(
        GradeSettings(exposure=grade.exposure, temperature=grade.temperature, contrast=grade.contrast)
    )
    if sliders.is_identity or grade.contrast < _MIN_INVERTIBLE:
        return image, may_clip
    levels = np.arange(256, dtype=np.float64)
    ramp = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 256, 1), 3, axis=2)
    table = sliders(ramp).reshape(256, 3).astype(np.float64)
    may_clip = may_clip or bool(np.any(table[_CLIPPED_LEVEL] >= 254))
    # The tables only rise (flat where they clip); a tiny slope makes them strictly increasing to invert.
    channels = [np.interp(image[..., c], table[:, c] + levels * 1e-6, levels) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.float32), may_clip


def _colour_stats(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the QUANTILES of L*, a* and b*: shape (3, len(QUANTILES)), the mean a* and b*: shape (2,)) of RGB
    pixels (…, 3) in 0–255."""
    normalised = np.clip(pixels, 0, 255).astype(np.float32).reshape(-1, 1, 3) / np.float32(255.0)
    lab = cv2.cvtColor(normalised, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    return np.percentile(lab, QUANTILES, axis=0).T, lab[:, 1:].mean(axis=0)
