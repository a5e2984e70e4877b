"""From an analysis of a music file to the document's BeatGrid."""

from __future__ import annotations

from app.engine.audio.beats import BeatAnalysis
from app.model import BeatGrid, MediaRef, Section
from app.model.project import MetricalAlternative


def beat_grid(analysis: BeatAnalysis, source: MediaRef) -> BeatGrid:
    """The detected grid of `source` (no manual corrections yet), with its half and double tempo levels."""
    return BeatGrid(
        source=source,
        tempo=analysis.tempo,
        meter=analysis.meter,
        beats=analysis.beats,
        downbeats=analysis.downbeats,
        sections=tuple(
            Section(start=s.start, end=s.end, label=s.label, energy=min(1.0, max(0.0, s.energy)))
            for s in analysis.sections
            if s.end > s.start
        ),
        alternatives=tuple(
            MetricalAlternative(
                name=level.name,
                tempo=level.tempo,
                meter=level.meter,
                beats=level.beats,
                downbeats=level.downbeats,
            )
            for level in analysis.alternatives
        ),
    )
