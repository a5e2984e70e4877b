"""Transitions between neighbouring acts, placed on the cut frame (the transition stage).

A transition of length L around a cut at timeline frame C covers frames [C - L//2, C - L//2 + L), so the
cut stays on its beat. Both acts render handles, so for every frame in that window there is an outgoing
frame (from the act before the cut) and an incoming frame (from the act after it) at the same timeline
position; `transition_frame` combines the two.
"""

from __future__ import annotations

import numpy as np

from app.engine.flow import FlowInterpolator, crossfade

# The document owns the vocabulary (its values are stored in project files); the engine renders it.
from app.model.act import TransitionKind

__all__ = ["TransitionKind", "transition_frame", "transition_progress", "transition_window"]


def transition_frame(
    kind: TransitionKind,
    outgoing: np.ndarray,
    incoming: np.ndarray,
    progress: float,
    dip_color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """The frame at `progress` (0-1) through a transition from `outgoing` to `incoming`.

    `outgoing` and `incoming` are the two acts' (H, W, 3) uint8 RGB frames at the same timeline position.
    cut: `outgoing` below progress 0.5, `incoming` from 0.5 on. crossfade: linear blend. dip: fades
    `outgoing` to `dip_color` (RGB, 0-255) over the first half and from it to `incoming` over the second,
    so progress 0.5 is pure colour. flow_morph: moves pixels along the optical flow between the two
    pictures while blending (see `FlowInterpolator`); it estimates flow for every call, since both acts
    move. Returns a new array. Raises ValueError for an unknown kind, progress outside [0, 1], frames that
    differ in size or a dip colour component outside 0-255.
    """
    kind = TransitionKind(kind)
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"transition progress: expected 0 <= progress <= 1, got {progress}")
    if outgoing.shape != incoming.shape:
        raise ValueError(f"transition frames differ in size: {outgoing.shape} vs {incoming.shape}")
    if kind is TransitionKind.cut:
        return (outgoing if progress < 0.5 else incoming).copy()
    if kind is TransitionKind.crossfade:
        return crossfade(outgoing, incoming, progress)
    if kind is TransitionKind.flow_morph:
        return FlowInterpolator(outgoing, incoming).frame_at(progress)
    colour = _solid_frame(outgoing, dip_color)
    if progress < 0.5:
        return crossfade(outgoing, colour, progress * 2.0)
    return crossfade(colour, incoming, progress * 2.0 - 1.0)


def _solid_frame(like: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    if len(color) != 3 or not all(0 <= component <= 255 for component in color):
        raise ValueError(f"dip colour: expected three RGB components 0-255, got {color!r}")
    return np.full_like(like, np.asarray(color, dtype=np.uint8))


def transition_window(cut_frame: int, length_frames: int) -> tuple[int, int]:
    """Timeline frames [start, end) covered by a transition of `length_frames` centred on `cut_frame`.

    The window starts `length_frames // 2` frames before the cut, so for an odd length the cut frame is
    the middle one. Length 0 gives the empty window (cut_frame, cut_frame). Raises ValueError for a
    negative length.
    """
    if length_frames < 0:
        raise ValueError(f"transition length: expected 0 or more frames, got {length_frames}")
    start = cut_frame - length_frames // 2
    return start, start + length_frames


def transition_progress(frame: int, window: tuple[int, int]) -> float:
    """Progress (0-1) of timeline `frame` through the transition covering `window` = [start, end).

    Frames are sampled at their centres, (frame - start + 0.5) / length, so the first frame is slightly
    past 0 and the last slightly before 1: no frame of the window is a pure copy of one side. Raises
    ValueError when `frame` is outside the window (always, for an empty window).
    """
    start, end = window
    if not start <= frame < end:
        raise ValueError(f"frame {frame} is outside the transition window [{start}, {end})")
    return (frame - start + 0.5) / (end - start)
