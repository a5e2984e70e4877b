"""The temporal quality checks (flicker, texture, consistency) and the flow statistics they share."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest

from app.engine.cancel import CancelToken
from app.engine.qc import consistency, flicker, flow_stats, texture
from app.engine.qc.types import ActSpan, CheckKind, CheckResult, Finding, QCInput
from app.errors import Cancelled
from tests.engine.qc_dataset import (
    FLICKER_GAIN,
    LabelledClip,
    clean_clips,
    defect_clips,
    excerpt,
)

MODERATE = 1


@pytest.fixture(scope="module")
def clips() -> dict[str, LabelledClip]:
    """Clean clips and the moderate flicker and shimmer clips, by name."""
    defects = defect_clips(kinds={CheckKind.flicker, CheckKind.texture_artifacts})
    return {clip.name: clip for clip in clean_clips() + defects}


def _run(clip: LabelledClip) -> tuple[flow_stats.FlowStats, CheckResult, CheckResult]:
    stats = flow_stats.compute(clip.qc_input)
    return stats, flicker.check(clip.qc_input, stats), texture.check(clip.qc_input, stats)


def _overlaps(finding: Finding, start: float, end: float) -> bool:
    return finding.start <= end and finding.end >= start


# Each case: a defect clip and the acts to keep (the defect's act and the one before it, so a cut is in
# the film too).
CASES = [
    ("flicker/moderate/coffee-scene", 1, 2, CheckKind.flicker),
    ("texture_artifacts/moderate/four-photos", 3, 4, CheckKind.texture_artifacts),
]


@pytest.mark.parametrize(("name", "first_act", "last_act", "kind"), CASES)
def test_a_moderate_defect_is_found_where_it_was_injected_and_not_in_the_clean_film(
    clips: dict[str, LabelledClip], name: str, first_act: int, last_act: int, kind: CheckKind
) -> None:
    defective = excerpt(clips[name], first_act, last_act)
    clean = excerpt(clips["clean/" + name.rsplit("/", 1)[1]], first_act, last_act)
    (defect,) = defective.defects
    _, *defective_results = _run(defective)
    _, *clean_results = _run(clean)

    found = [finding for result in defective_results for finding in result.findings]
    assert found, f"no finding for {name}"
    assert {finding.kind for finding in found} == {kind}
    assert all(_overlaps(finding, defect.start, defect.end) for finding in found)
    # The stretch found is the injected one, give or take a few frames.
    assert min(finding.start for finding in found) == pytest.approx(defect.start, abs=0.15)
    assert max(finding.end for finding in found) == pytest.approx(defect.end, abs=0.15)
    assert all(finding.act == defective.qc_input.spans[-1].act_id for finding in found)
    assert [finding for result in clean_results for finding in result.findings] == []


def test_flicker_measures_the_injected_amplitude(clips: dict[str, LabelledClip]) -> None:
    film = excerpt(clips["flicker/moderate/coffee-scene"], 2, 2)
    _, flickering, _ = _run(film)
    (finding,) = flickering.findings
    # ±a brightness gain frame to frame is what the value means (percent).
    assert finding.value == pytest.approx(100 * FLICKER_GAIN[MODERATE], rel=0.15)
    assert finding.threshold == flicker.WARN_PERCENT
    assert "Flicker in act" in finding.message


def _oscillating(
    frames: list[np.ndarray], amplitude: float, region: np.ndarray | None = None
) -> list[np.ndarray]:
    """`frames` with their brightness multiplied by 1 ± amplitude, alternating frame by frame (only inside
    the boolean (H, W) `region` when given)."""
    out = []
    for index, frame in enumerate(frames):
        gain = np.full(frame.shape[:2], 1.0 + (amplitude if index % 2 == 0 else -amplitude), np.float32)
        if region is not None:
            gain[~region] = 1.0
        out.append(np.clip(frame.astype(np.float32) * gain[..., np.newaxis], 0, 255).astype(np.uint8))
    return out


def test_flicker_in_one_part_of_the_frame_is_found(clips: dict[str, LabelledClip]) -> None:
    frames = list(clips["clean/drifts"].qc_input.frames[:36])
    height, width = frames[0].shape[:2]
    corner = np.zeros((height, width), bool)
    corner[: height // 3, : width // 3] = True
    flickering = _oscillating(frames, 0.06, corner)
    qc = QCInput(frames=flickering, fps=Fraction(24), spans=[ActSpan(0, 36, "a")])
    stats = flow_stats.compute(qc)
    # A ninth of the picture at ±6 %: under 1 % for the frame as a whole, so only the blocks show it.
    assert np.nanmax(flicker.oscillation(stats)[:, 0]) < flicker.WARN_PERCENT / 100
    (finding,) = flicker.check(qc, stats).findings
    assert finding.value == pytest.approx(6.0, rel=0.25)


def test_fast_motion_masks_flicker_down_to_a_warning() -> None:
    """The same ±5 % flicker fails on a still picture and only warns where fast motion over hard-edged
    detail makes most of the frame-to-frame change (VBench's frame difference is large)."""
    blobs = cv2.GaussianBlur(
        np.random.default_rng(3).standard_normal((90, 400)).astype(np.float32), (0, 0), 3
    )
    picture = np.repeat(np.where(blobs > 0, 200, 20).astype(np.uint8)[..., np.newaxis], 3, axis=2)
    still = [np.ascontiguousarray(picture[:, :160])] * 24
    moving = [np.ascontiguousarray(picture[:, 6 * n : 6 * n + 160]) for n in range(24)]  # 6 px a frame
    severities = {}
    for label, frames in (("still", still), ("moving", moving)):
        qc = QCInput(frames=_oscillating(frames, 0.05), fps=Fraction(24), spans=[ActSpan(0, 24, "a")])
        (finding,) = flicker.check(qc, flow_stats.compute(qc)).findings
        assert finding.value == pytest.approx(5.0, rel=0.2)
        severities[label] = finding.severity
    assert severities == {"still": "fail", "moving": "warn"}


def test_pairs_across_a_cut_are_never_measured(clips: dict[str, LabelledClip]) -> None:
    frames = _oscillating(list(clips["clean/pans"].qc_input.frames[:24]), 0.12)
    one_shot = QCInput(frames=frames, fps=Fraction(24), spans=[ActSpan(0, 24, "a")])
    # The same strongly flickering frames, cut every two frames: each shot holds one pair only.
    many_shots = QCInput(
        frames=frames, fps=Fraction(24), spans=[ActSpan(n, n + 2, f"shot-{n}") for n in range(0, 24, 2)]
    )

    stats = flow_stats.compute(many_shots)
    assert list(np.flatnonzero(~stats.measured)) == [cut - 1 for cut in many_shots.cuts]
    assert np.isnan(stats.warp_error[~stats.measured]).all()
    assert stats.motion_energy[many_shots.cuts].tolist() == [0.0] * len(many_shots.cuts)
    assert flicker.check(many_shots, stats).findings == []
    assert texture.check(many_shots, stats).findings == []
    assert flicker.check(one_shot, flow_stats.compute(one_shot)).findings  # the frames do flicker


def test_a_cut_between_different_photos_gives_no_finding(clips: dict[str, LabelledClip]) -> None:
    film = excerpt(clips["clean/four-photos"], 1, 4)
    stats, flickering, unstable = _run(film)
    assert len(film.qc_input.cuts) == 3
    assert flickering.findings == unstable.findings == []
    metrics = consistency.metrics(film.qc_input, stats)["consistency"]
    assert set(metrics) == {span.act_id for span in film.qc_input.spans}


@pytest.mark.parametrize(
    "frames",
    [
        [np.zeros((90, 160, 3), np.uint8)] * 12,  # black
        [np.full((90, 160, 3), 128, np.uint8)] * 12,  # flat grey
        [np.full((90, 160, 3), 60, np.uint8)],  # one frame
        [np.full((4, 6, 3), 200, np.uint8)] * 5,  # smaller than an optical-flow patch
        [],
    ],
    ids=["black", "grey", "one-frame", "tiny", "empty"],
)
def test_degenerate_films_give_no_findings_and_no_errors(frames: list[np.ndarray]) -> None:
    qc = QCInput(frames=frames, fps=Fraction(24), spans=[ActSpan(0, len(frames), "a")] if frames else [])
    stats = flow_stats.compute(qc)
    assert len(stats.motion_energy) == len(frames)
    assert flicker.check(qc, stats).findings == []
    assert texture.check(qc, stats).findings == []
    assert "consistency" in consistency.metrics(qc, stats)


def test_a_strobe_without_motion_is_flicker() -> None:
    """A flat picture alternating between two levels is the plainest flicker there is."""
    frames = [np.full((90, 160, 3), value, np.uint8) for value in (100, 120) * 12]
    qc = QCInput(frames=frames, fps=Fraction(24), spans=[ActSpan(0, len(frames), "a")])
    (finding,) = flicker.check(qc, flow_stats.compute(qc)).findings
    assert finding.severity == "fail"
    assert finding.start == pytest.approx(0.0, abs=0.1) and finding.end == pytest.approx(1.0, abs=0.1)


def test_metrics_per_act(clips: dict[str, LabelledClip]) -> None:
    shimmering = excerpt(clips["texture_artifacts/moderate/coffee-scene"], 1, 2)
    clean = excerpt(clips["clean/coffee-scene"], 1, 2)
    results = {}
    for label, film in (("shimmer", shimmering), ("clean", clean)):
        stats, flickering, unstable = _run(film)
        results[label] = (consistency.metrics(film.qc_input, stats)["consistency"], flickering, unstable)
    ids = [span.act_id for span in clean.qc_input.spans]

    warp, flickering, unstable = results["clean"]
    assert list(warp) == ids
    for values in warp.values():
        assert 0.0 <= values["warp_error"] <= values["p95"] < 255.0
    assert list(flickering.metrics["flicker"]) == ids
    for values in flickering.metrics["flicker"].values():
        assert 0.9 < values["vbench_temporal_flickering"] <= 1.0
        assert values["oscillation_percent"] == 0.0
    assert 0.0 < flickering.metrics["vbench_temporal_flickering"] <= 1.0
    assert list(unstable.metrics["texture"]) == ids

    # Shimmer on act 1 shows in its warping error and texture instability; act 2 is untouched.
    shimmer_warp, _, shimmer_texture = results["shimmer"]
    assert shimmer_warp[ids[0]]["p95"] > warp[ids[0]]["p95"]
    assert shimmer_warp[ids[1]] == warp[ids[1]]
    assert shimmer_texture.metrics["texture"][ids[0]]["worst"] >= texture.WARN
    assert unstable.metrics["texture"][ids[0]]["worst"] == 0.0


def test_flow_stats_follow_the_motion_and_scale_wide_frames(clips: dict[str, LabelledClip]) -> None:
    pan = clips["clean/pans"].qc_input
    still = [pan.frames[30]] * 6
    moving = list(pan.frames[24:30])
    wide = [np.repeat(np.repeat(frame, 2, axis=0), 2, axis=1) for frame in still + moving]  # 640 px wide
    qc = QCInput(frames=wide, fps=Fraction(24), spans=[ActSpan(0, 6, "still"), ActSpan(6, 12, "pan")])
    stats = flow_stats.compute(qc)
    assert (stats.width, stats.height) == (flow_stats.ANALYSIS_WIDTH, 180)
    energy = stats.motion_energy
    assert energy[:6].max() < 0.05
    assert energy[7:].min() > 0.3


def test_flow_stats_report_progress_and_can_be_cancelled(clips: dict[str, LabelledClip]) -> None:
    qc = excerpt(clips["clean/pans"], 2, 2).qc_input
    seen: list[tuple[int, int]] = []
    flow_stats.compute(qc, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(qc.frames) - 1, len(qc.frames) - 1)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        flow_stats.compute(qc, cancel=token)
