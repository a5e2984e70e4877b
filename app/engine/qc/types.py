"""What every quality check takes and returns.

A check reads a `QCInput` — the film's frames at analysis size, its frame rate, where the cuts are, and when
known the acts, beats, onsets and reference images — and returns `Finding`s (something worth a look, with
where and how bad) and per-act or per-film `metrics`. Checks never raise for odd content (a black film, one
frame, no cuts): they return no findings. `severity` is "warn" past `threshold` and "fail" past the check's
stricter fail threshold; every module documents both and how the value is computed.

Measures. Besides its findings a check records, in `measures`, the value of everything it judged (an act's
flicker, a cut's lighting step…) at any level, keyed by a subject string (`subject_key`); a finding's
`subject` names its own. Measured again after a repair, the same subject says what the repair achieved
(app.engine.qc.outcome), also when it fell below the threshold and the finding is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy as np


class CheckKind(StrEnum):
    flicker = "flicker"
    lighting_jump = "lighting_jump"
    off_beat_motion = "off_beat_motion"
    texture_artifacts = "texture_artifacts"
    reference_overfit = "reference_overfit"


class Severity(StrEnum):
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Finding:
    kind: CheckKind
    severity: Severity
    start: float  # seconds into the film
    end: float  # seconds (≥ start)
    act: str | None  # act id when the film is a project's, else None
    value: float  # the measured value, in the check's own unit (documented in its module)
    threshold: float  # the warn threshold it was compared with
    message: str  # one line a user understands ("Flicker in act 'Dawn' at 3.2–4.0 s: …")
    # The key of what was measured in the check's `measures` ("" when nothing can measure it again); not
    # part of the JSON report.
    subject: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "severity": str(self.severity),
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "act": self.act,
            "value": round(float(self.value), 4),
            "threshold": round(float(self.threshold), 4),
            "message": self.message,
        }


@dataclass(frozen=True)
class ActSpan:
    """One act (or, for a foreign video, one detected shot) as frames [start, end) of the film."""

    start: int
    end: int
    act_id: str | None = None
    name: str = ""
    references: Sequence[np.ndarray] = ()  # the act's reference images (RGB uint8, any size)
    template: str | None = None  # template id: acts sharing one are meant to share a look


@dataclass(frozen=True)
class QCInput:
    """The film as the checks see it. Frames are RGB uint8 at analysis size (about 320 px wide; checks that
    need less resize further), all the same shape; `fps` is the film's rate."""

    frames: Sequence[np.ndarray]
    fps: Fraction
    spans: Sequence[ActSpan]  # in order, covering the frames; one span when there are no cuts
    beats: Sequence[float] = ()  # seconds
    onsets: Sequence[float] = ()  # seconds
    beat_sync: bool = False  # the project asks for cuts on beats (a pacing preset or snapped cuts)

    def seconds(self, frame: int) -> float:
        return float(frame / self.fps)

    @property
    def cuts(self) -> list[int]:
        """Frames where one span ends and the next begins."""
        return [span.start for span in self.spans[1:]]


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    measures: dict[str, float] = field(default_factory=dict)  # subject key -> value, at any level


def subject_key(kind: CheckKind, *parts: str) -> str:
    """The key of a measured subject: the check's kind and what it judged, e.g. ("flicker", act id) or
    (lighting_jump, "cut", act id of the incoming act)."""
    return "/".join([str(kind), *parts])
