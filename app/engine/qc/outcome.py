"""What a repair achieved: the finding's subject measured again on the repaired film.

Every check records the value of each thing it judged (`QCReport.measures`, keyed by subject), below its
threshold too, and each finding names its subject. After a repair ran and the drafts were rendered again,
the checks run again; `repair_outcome` compares the subject's measure in the report the finding came from
with its measure in the new one. The subject is the whole act for flicker, texture and stillness (a repair
changes the whole act), the cut for lighting steps and off-beat cuts, and the pair of acts for looks.

A repair *fixed* the finding when the measure is now under the finding's threshold, *helped* when it fell
to at most HELPED_SHARE of what it was, and otherwise did not help (the panel then offers to undo it).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.qc import QCReport
from app.engine.qc.types import CheckKind, Finding

#: A measure that falls to no more than this share of its value before the repair counts as helped.
HELPED_SHARE = 0.9


@dataclass(frozen=True)
class RepairOutcome:
    """The finding's measure before and after a repair (`after` None: not measured again — the act or cut
    is gone, or the check no longer judges it)."""

    finding: Finding
    before: float
    after: float | None

    @property
    def fixed(self) -> bool:
        return self.after is not None and self.after < self.finding.threshold

    @property
    def helped(self) -> bool:
        return self.after is not None and (self.fixed or self.after <= HELPED_SHARE * self.before)

    def change(self) -> str:
        """The measure before → after, in the check's words: "flicker 1.0 % → 0.3 %"."""
        name, unit, scale, digits = _wording(self.finding)
        before = f"{self.before * scale:.{digits}f}{unit}"
        after = "not measured" if self.after is None else f"{self.after * scale:.{digits}f}{unit}"
        return f"{name} {before} → {after}"

    def summary(self) -> str:
        """One line for the panel: the change and what it means."""
        if self.after is None:
            return f"{self.change()}: the repair's effect could not be checked: undo?"
        if self.fixed:
            return f"{self.change()}: fixed"
        if self.helped:
            _, unit, scale, digits = _wording(self.finding)
            return f"{self.change()}: better, still above {self.finding.threshold * scale:.{digits}f}{unit}"
        return f"{self.change()}: did not help: undo?"


def repair_outcome(finding: Finding, before: QCReport | None, after: QCReport) -> RepairOutcome:
    """`finding` (from the report `before`, when known) measured again in `after`, the report of the
    repaired film."""
    was = before.measures.get(finding.subject, finding.value) if before is not None else finding.value
    return RepairOutcome(finding, was, after.measures.get(finding.subject) if finding.subject else None)


def _wording(finding: Finding) -> tuple[str, str, float, int]:
    """(what is measured, unit, scale to show, decimals) for a finding's measure."""
    parts = finding.subject.split("/")
    aspect = parts[1] if len(parts) > 2 else ""
    if finding.kind == CheckKind.flicker:
        return "flicker", " %", 1.0, 1
    if finding.kind == CheckKind.texture_artifacts:
        return "texture shimmer", " %", 100.0, 0
    if finding.kind == CheckKind.lighting_jump:
        return ("lighting step ΔE" if aspect == "cut" else "look difference ΔE"), "", 1.0, 1
    if finding.kind == CheckKind.off_beat_motion:
        return "cut off the beat by", " ms", 1.0, 0
    if aspect == "still":
        return "still frames", " %", 100.0, 0
    return "likeness to an earlier act", " %", 100.0, 0
