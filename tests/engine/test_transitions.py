"""Transitions between acts: what each kind shows through its window, and the window arithmetic."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.flow import crossfade
from app.engine.transitions import TransitionKind, transition_frame, transition_progress, transition_window

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _photo(name: str, width: int = 320, height: int = 200) -> np.ndarray:
    bgr = cv2.imread(str(DEMO / name))
    assert bgr is not None, name
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def outgoing() -> np.ndarray:
    return _photo("04_rocket.jpg")


@pytest.fixture(scope="module")
def incoming() -> np.ndarray:
    return _photo("02_chelsea.jpg")


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def test_kinds_are_stored_as_these_strings() -> None:
    assert [kind.value for kind in TransitionKind] == ["cut", "crossfade", "flow_morph", "dip"]
    assert TransitionKind("flow_morph") is TransitionKind.flow_morph


def test_cut_switches_at_the_middle(outgoing: np.ndarray, incoming: np.ndarray) -> None:
    for progress in (0.0, 0.3, 0.499):
        np.testing.assert_array_equal(
            transition_frame(TransitionKind.cut, outgoing, incoming, progress), outgoing
        )
    for progress in (0.5, 0.7, 1.0):
        np.testing.assert_array_equal(
            transition_frame(TransitionKind.cut, outgoing, incoming, progress), incoming
        )
    assert transition_frame(TransitionKind.cut, outgoing, incoming, 0.2) is not outgoing


def test_crossfade_moves_monotonically_from_outgoing_to_incoming(
    outgoing: np.ndarray, incoming: np.ndarray
) -> None:
    progresses = np.linspace(0.0, 1.0, 11)
    frames = [transition_frame(TransitionKind.crossfade, outgoing, incoming, p) for p in progresses]
    np.testing.assert_array_equal(frames[0], outgoing)
    np.testing.assert_array_equal(frames[-1], incoming)
    to_incoming = [_distance(frame, incoming) for frame in frames]
    assert all(later < earlier for earlier, later in itertools.pairwise(to_incoming))
    # Per pixel too: every pixel moves steadily towards its incoming value, never overshooting.
    sign = np.sign(incoming.astype(np.int16) - outgoing)
    for earlier, later in itertools.pairwise(frames):
        assert (sign * (later.astype(np.int16) - earlier) >= -1).all()


def test_dip_goes_through_the_colour_at_the_middle(outgoing: np.ndarray, incoming: np.ndarray) -> None:
    colour = (250, 240, 10)
    solid = np.full_like(outgoing, colour)

    def dip(progress: float) -> np.ndarray:
        return transition_frame(TransitionKind.dip, outgoing, incoming, progress, dip_color=colour)

    np.testing.assert_array_equal(dip(0.0), outgoing)
    np.testing.assert_array_equal(dip(0.5), solid)
    np.testing.assert_array_equal(dip(1.0), incoming)
    np.testing.assert_array_equal(dip(0.25), crossfade(outgoing, solid, 0.5))
    np.testing.assert_array_equal(dip(0.75), crossfade(solid, incoming, 0.5))
    # Closer to the middle, closer to the colour, from either side.
    assert _distance(dip(0.45), solid) < _distance(dip(0.2), solid)
    assert _distance(dip(0.55), solid) < _distance(dip(0.8), solid)
    np.testing.assert_array_equal(transition_frame(TransitionKind.dip, outgoing, incoming, 0.5), 0)


def test_flow_morph_moves_pixels_instead_of_fading() -> None:
    # The same shot on both sides, shifted: a morph slides the picture into place, a fade doubles it.
    scene = _photo("01_astronaut.jpg", width=480, height=480)
    before, middle, after = (np.ascontiguousarray(scene[100:300, 60 + dx : 380 + dx]) for dx in (0, 14, 28))
    morphed = transition_frame(TransitionKind.flow_morph, before, after, 0.5)
    faded = transition_frame(TransitionKind.crossfade, before, after, 0.5)
    assert _distance(morphed, middle) < _distance(faded, middle) / 4
    np.testing.assert_array_equal(transition_frame(TransitionKind.flow_morph, before, after, 0.0), before)
    np.testing.assert_array_equal(transition_frame("flow_morph", before, after, 1.0), after)  # type: ignore[arg-type]


def test_bad_arguments_raise(outgoing: np.ndarray, incoming: np.ndarray) -> None:
    with pytest.raises(ValueError, match="differ in size"):
        transition_frame(TransitionKind.cut, outgoing, incoming[:, :-1], 0.2)
    for kind in TransitionKind:
        with pytest.raises(ValueError, match="differ in size"):
            transition_frame(kind, outgoing, incoming[:-2], 0.4)
        with pytest.raises(ValueError, match="progress"):
            transition_frame(kind, outgoing, incoming, 1.01)
    with pytest.raises(ValueError, match="dip colour"):
        transition_frame(TransitionKind.dip, outgoing, incoming, 0.3, dip_color=(0, 300, 0))
    with pytest.raises(ValueError):
        transition_frame("wipe", outgoing, incoming, 0.3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="length"):
        transition_window(10, -1)


def test_window_is_centred_on_the_cut() -> None:
    assert transition_window(100, 5) == (98, 103)
    assert transition_window(100, 4) == (98, 102)
    assert transition_window(100, 1) == (100, 101)
    assert transition_window(100, 0) == (100, 100)
    assert transition_window(1, 6) == (-2, 4)


def test_progress_samples_frame_centres() -> None:
    window = transition_window(100, 5)
    assert [transition_progress(frame, window) for frame in range(98, 103)] == pytest.approx(
        [0.1, 0.3, 0.5, 0.7, 0.9]
    )
    assert transition_progress(100, transition_window(100, 1)) == 0.5
    for outside in (97, 103):
        with pytest.raises(ValueError, match="outside"):
            transition_progress(outside, window)
    with pytest.raises(ValueError, match="outside"):
        transition_progress(100, transition_window(100, 0))


@given(cut=st.integers(-10_000, 10_000), length=st.integers(1, 500))
def test_window_and_progress_properties(cut: int, length: int) -> None:
    start, end = transition_window(cut, length)
    assert end - start == length
    assert start <= cut < end
    # Centred: at most one frame more before the cut than after it.
    assert 0 <= (cut - start) - (end - 1 - cut) <= 1
    progresses = [transition_progress(frame, (start, end)) for frame in range(start, end)]
    assert all(0.0 < p < 1.0 for p in progresses)
    assert all(a < b for a, b in itertools.pairwise(progresses))
    assert progresses[0] + progresses[-1] == pytest.approx(1.0)
    # The cut frame is where a hard cut shows the incoming act, whatever the length.
    assert transition_progress(cut, (start, end)) >= 0.5
    if cut > start:
        assert transition_progress(cut - 1, (start, end)) < 0.5
