"""Composes act clips into the frames of the whole film, with transitions centred on the cuts."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

import numpy as np

from app.engine.clip import Clip
from app.engine.transitions import transition_frame, transition_progress, transition_window
from app.model import Act, TransitionKind


class TimelineFrames:
    """Random access to timeline frames given the acts (for timing and transitions) and their clips."""

    def __init__(self, acts: Sequence[Act], clips: Sequence[Clip]) -> None:
        if len(acts) != len(clips):
            raise ValueError("one clip per act is required")
        self._acts = list(acts)
        self._clips = list(clips)
        self.starts: list[int] = []
        position = 0
        for act in self._acts:
            self.starts.append(position)
            position += act.duration_frames
        self.length = position
        # windows[k]: the timeline frames [start, end) of the transition at the cut after act k
        self.windows = [self._window(k) for k in range(len(self._acts) - 1)]

    def _window(self, k: int) -> tuple[int, int]:
        spec = self._acts[k].transition
        if spec.kind == TransitionKind.cut:
            return (self.starts[k + 1], self.starts[k + 1])
        # Never longer than either neighbour, so windows of adjacent cuts cannot overlap.
        length = min(spec.frames, self._acts[k].duration_frames, self._acts[k + 1].duration_frames)
        return transition_window(self.starts[k + 1], length)

    def act_index(self, frame: int) -> int:
        return max(0, bisect.bisect_right(self.starts, frame) - 1)

    def frame(self, frame: int) -> np.ndarray:
        """Timeline frame `frame` in [0, length)."""
        if not 0 <= frame < self.length:
            raise IndexError(f"frame {frame} is outside the timeline (0..{self.length - 1})")
        k = self.act_index(frame)
        for cut in (k - 1, k):
            if 0 <= cut < len(self.windows):
                start, end = self.windows[cut]
                if start <= frame < end:
                    return self._transition(cut, frame)
        return self._clips[k].frame(frame - self.starts[k])

    def _transition(self, cut: int, frame: int) -> np.ndarray:
        spec = self._acts[cut].transition
        outgoing = self._clips[cut].frame(frame - self.starts[cut])
        incoming = self._clips[cut + 1].frame(frame - self.starts[cut + 1])
        progress = transition_progress(frame, self.windows[cut])
        return transition_frame(spec.kind, outgoing, incoming, progress, spec.rgb())

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(self.length):
            yield self.frame(index)
