"""Snap targets for timeline drags: beats snapped to frames, downbeats, cuts and the playhead."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.model import Act, BeatGrid, Project, ProjectSettings
from app.model.snapping import SnapCandidate, SnapKind, SnapResult, snap, snap_candidates


def _project(fps: Fraction = Fraction(24), **beats: object) -> Project:
    return Project(
        settings=ProjectSettings(fps=fps),
        acts=[Act(id=f"a{i}", duration_frames=d) for i, d in enumerate((48, 30, 50))],
        beats=BeatGrid(**beats),
    )


def _kinds(candidates: list[SnapCandidate]) -> dict[int, SnapKind]:
    return {c.frame: c.kind for c in candidates}


def test_candidates_snap_beats_to_frames_and_mark_downbeats_cuts_and_playhead() -> None:
    # 0.52 s at 24 fps is frame 12.48 -> 12; 1.0 s -> 24; 3.3 s -> 79.2 -> 79.
    project = _project(beats=(0.52, 1.0, 3.3), downbeats=(1.0,))
    candidates = snap_candidates(project, playhead=100)
    assert _kinds(candidates) == {
        12: SnapKind.beat,
        24: SnapKind.downbeat,
        48: SnapKind.cut,
        78: SnapKind.cut,
        79: SnapKind.beat,
        100: SnapKind.playhead,
    }
    assert [c.frame for c in candidates] == sorted(c.frame for c in candidates)


def test_candidates_at_one_frame_keep_the_strongest_kind() -> None:
    # A beat on the cut at 48 (2.0 s) and the playhead on a downbeat at 24 (1.0 s).
    project = _project(beats=(1.0, 2.0), downbeats=(1.0,))
    kinds = _kinds(snap_candidates(project, playhead=24))
    assert kinds[48] is SnapKind.cut
    assert kinds[24] is SnapKind.playhead
    assert len(snap_candidates(project, playhead=24)) == 3  # 24, 48, 78: one candidate per frame


def test_candidates_follow_manual_beat_edits() -> None:
    project = _project(beats=(1.0, 2.5), downbeats=(1.0,), added=(0.25,), removed=(1.0,))
    kinds = _kinds(snap_candidates(project, cuts=()))
    # The removed beat is gone and so is its downbeat; the added one (frame 6) is a beat.
    assert kinds == {6: SnapKind.beat, 60: SnapKind.beat}


def test_candidates_offer_only_the_cuts_given() -> None:
    project = _project()
    assert _kinds(snap_candidates(project, cuts=[48])) == {48: SnapKind.cut}
    assert _kinds(snap_candidates(project)) == {48: SnapKind.cut, 78: SnapKind.cut}


def test_candidates_at_a_fractional_rate_match_the_beat_frames_of_the_grid() -> None:
    project = _project(fps=Fraction(30000, 1001), beats=(0.5, 1.0, 1.5, 61.3))
    frames = [c.frame for c in snap_candidates(project, cuts=())]
    assert frames == project.beats.beat_frames(project.settings.fps)


def test_snap_picks_the_nearest_candidate_within_the_tolerance() -> None:
    candidates = [
        SnapCandidate(10, SnapKind.beat),
        SnapCandidate(20, SnapKind.cut),
        SnapCandidate(30, SnapKind.beat),
    ]
    assert snap(18.5, candidates, 3) == SnapResult(20, SnapKind.cut, 1.5)
    assert snap(25.25, candidates, 5) == SnapResult(30, SnapKind.beat, 4.75)
    assert snap(25.0, candidates, 4.9) is None
    assert snap(30.0, candidates, 0) == SnapResult(30, SnapKind.beat, 0.0)
    assert snap(5.0, [], 100) is None


def test_snap_tolerance_is_inclusive() -> None:
    candidates = [SnapCandidate(10, SnapKind.beat)]
    assert snap(12.0, candidates, 2.0) is not None
    assert snap(12.01, candidates, 2.0) is None


def test_snap_ties_go_to_the_stronger_kind_then_the_earlier_frame() -> None:
    candidates = [SnapCandidate(10, SnapKind.beat), SnapCandidate(14, SnapKind.downbeat)]
    assert snap(12.0, candidates, 5) == SnapResult(14, SnapKind.downbeat, 2.0)
    same_kind = [SnapCandidate(10, SnapKind.beat), SnapCandidate(14, SnapKind.beat)]
    assert snap(12.0, same_kind, 5) == SnapResult(10, SnapKind.beat, 2.0)


def test_snap_refuses_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        snap(1.0, [SnapCandidate(1, SnapKind.beat)], -1)
