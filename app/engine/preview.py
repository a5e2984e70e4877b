"""Draft frames for the viewer: timeline frame → the stored draft proxy frame under it.

The worker publishes act proxies (StoredClips written by `ActPipeline.draft_clip`) and transition proxies
(each non-cut transition window rendered once at draft size into the stage cache); the GUI thread asks for
frames. Timing always comes from the latest project snapshot, while an act keeps showing its last published
proxy until a newer one replaces it, so an edited act shows its old draft until the new one is ready. Every
`frame()` decodes at most one stored JPEG. Everything here works on frozen project snapshots
(`frozen_copy`), never on the live document, which the GUI thread keeps editing.
"""

from __future__ import annotations

import bisect
import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from pydantic import BaseModel

from app.engine.cache import StageCache, cache_key
from app.engine.cancel import CancelToken
from app.engine.clip import StoredClip, write_frames
from app.engine.timeline import TimelineFrames
from app.engine.transitions import transition_window
from app.errors import RenderError
from app.model import Act, TransitionKind, TransitionSpec

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Width of act thumbnails in pixels (the height follows the draft's aspect).
THUMBNAIL_WIDTH = 96
_NEEDS_COPY: dict[type, bool] = {}  # memo of _needs_copy


def frozen_copy(value: _T) -> _T:
    """A deep copy of a document value that shares what cannot change (frozen models, str, numbers).

    Frozen models are shared as they are: the document keeps only immutable values in them (tuples, not
    lists). Several times faster than `copy.deepcopy` on a Project, which keeps `set_project` in budget.
    """
    if not _needs_copy(type(value)):
        return value
    if isinstance(value, list):
        return [frozen_copy(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {name: frozen_copy(item) for name, item in value.items()}  # type: ignore[return-value]
    duplicate = copy.copy(value)
    fields = duplicate.__dict__
    for name, field in fields.items():
        if _needs_copy(type(field)):
            fields[name] = frozen_copy(field)
    return duplicate


def _needs_copy(kind: type) -> bool:
    """Whether values of this type can be changed in place (decided once per type)."""
    needed = _NEEDS_COPY.get(kind)
    if needed is None:
        frozen_model = issubclass(kind, BaseModel) and bool(kind.model_config.get("frozen"))
        needed = _NEEDS_COPY[kind] = not frozen_model and issubclass(kind, BaseModel | list | dict)
    return needed


@dataclass(frozen=True)
class DraftLayout:
    """Where each act and transition sits on the timeline (frames), from one project snapshot."""

    act_ids: tuple[str, ...] = ()
    starts: tuple[int, ...] = ()
    length: int = 0
    #: Per cut k (between acts k and k + 1): the transition spec and its window [start, end) in timeline
    #: frames; the window is empty for plain cuts.
    specs: tuple[TransitionSpec, ...] = ()
    windows: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_acts(cls, acts: Sequence[Act]) -> DraftLayout:
        starts: list[int] = []
        position = 0
        for act in acts:
            starts.append(position)
            position += act.duration_frames
        windows = []
        for k in range(len(acts) - 1):
            spec = acts[k].transition
            # The same rule as TimelineFrames: never longer than either neighbour.
            frames = min(spec.frames, acts[k].duration_frames, acts[k + 1].duration_frames)
            length = 0 if spec.kind == TransitionKind.cut else frames
            windows.append(transition_window(starts[k + 1], length))
        return cls(
            act_ids=tuple(act.id for act in acts),
            starts=tuple(starts),
            length=position,
            specs=tuple(act.transition for act in acts[:-1]),
            windows=tuple(windows),
        )


@dataclass(frozen=True)
class ActThumbnail:
    """A small picture of an act's draft and the content key of that draft (`ActPipeline.act_key`: everything
    the act's pictures depend on). Thumbnails with the same key show the same picture, so a view may keep
    its own copy for as long as the key stays."""

    key: str
    image: np.ndarray  # RGB uint8, THUMBNAIL_WIDTH wide


@dataclass(frozen=True)
class _TransitionProxy:
    spec: TransitionSpec
    length: int  # frames in the window it was rendered for
    clip: StoredClip  # index 0 is the window's first frame


class DraftPreview:
    """Thread-safe store of published draft proxies and the frame lookup over them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._layout = DraftLayout()
        self._acts: dict[str, StoredClip] = {}
        self._thumbnails: dict[str, ActThumbnail] = {}
        self._transitions: dict[tuple[str, str], _TransitionProxy] = {}

    def set_layout(self, layout: DraftLayout) -> None:
        """Use the timing of a newer snapshot; proxies of acts and cuts that no longer exist are dropped."""
        ids = set(layout.act_ids)
        pairs = set(pairwise(layout.act_ids))
        with self._lock:
            self._layout = layout
            self._acts = {act_id: clip for act_id, clip in self._acts.items() if act_id in ids}
            self._thumbnails = {act_id: t for act_id, t in self._thumbnails.items() if act_id in ids}
            self._transitions = {pair: t for pair, t in self._transitions.items() if pair in pairs}

    def publish_act(self, act_id: str, clip: StoredClip, thumbnail: np.ndarray, key: str) -> None:
        """Show `clip` for the act from now on (it replaces the act's previous proxy); `key` is the draft's
        content key, which its thumbnail carries."""
        with self._lock:
            self._acts[act_id] = clip
            self._thumbnails[act_id] = ActThumbnail(key, thumbnail)

    def publish_transition(
        self, out_id: str, in_id: str, spec: TransitionSpec, length: int, clip: StoredClip
    ) -> None:
        """Show `clip` for the transition window of `length` frames at the cut between the two acts."""
        with self._lock:
            self._transitions[(out_id, in_id)] = _TransitionProxy(spec, length, clip)

    def frame(self, timeline_frame: int) -> np.ndarray | None:
        """RGB uint8 draft frame at `timeline_frame`, or None past the timeline or with no proxy yet.

        Inside a transition window the transition proxy is shown when one exists for the current spec and
        window length; until then the outgoing act shows before the cut and the incoming act after it.
        """
        with self._lock:
            layout = self._layout
            if not 0 <= timeline_frame < layout.length:
                return None
            k = bisect.bisect_right(layout.starts, timeline_frame) - 1
            clip, index = self._acts.get(layout.act_ids[k]), timeline_frame - layout.starts[k]
            for cut in (k - 1, k):
                if not 0 <= cut < len(layout.windows):
                    continue
                start, end = layout.windows[cut]
                proxy = self._transitions.get((layout.act_ids[cut], layout.act_ids[cut + 1]))
                if (
                    start <= timeline_frame < end
                    and proxy is not None
                    and proxy.spec == layout.specs[cut]
                    and proxy.length == end - start
                ):
                    clip, index = proxy.clip, timeline_frame - start
        if clip is None:
            return None
        try:
            return clip.frame(index)
        except (OSError, RenderError) as error:
            # The cache may have evicted or damaged the entry; show nothing rather than fail a repaint.
            _log.warning("draft frame %d unavailable: %s", timeline_frame, error)
            return None

    def act_clip(self, act_id: str) -> StoredClip | None:
        """The act's latest published draft proxy, or None yet (any thread)."""
        with self._lock:
            return self._acts.get(act_id)

    def thumbnail(self, act_id: str) -> np.ndarray | None:
        """Small RGB picture (THUMBNAIL_WIDTH wide) of the act's latest proxy, or None."""
        found = self.act_thumbnail(act_id)
        return None if found is None else found.image

    def act_thumbnail(self, act_id: str) -> ActThumbnail | None:
        """The act's latest thumbnail with the key of the draft it shows, or None (any thread)."""
        with self._lock:
            return self._thumbnails.get(act_id)


def make_thumbnail(clip: StoredClip) -> np.ndarray:
    """THUMBNAIL_WIDTH-wide RGB picture of the clip's middle frame (aspect kept, even height)."""
    image = clip.frame(clip.length // 2)
    height, width = image.shape[:2]
    thumb_height = max(2, round(THUMBNAIL_WIDTH * height / width / 2) * 2)
    return cv2.resize(image, (THUMBNAIL_WIDTH, thumb_height), interpolation=cv2.INTER_AREA)


def transition_key(out_key: str, in_key: str, spec: TransitionSpec) -> str:
    """Cache key of a transition proxy: both acts' draft keys (which include their lengths) and the spec."""
    return cache_key("transition-draft", {"out": out_key, "in": in_key, "spec": spec.model_dump(mode="json")})


def render_transition_proxy(
    cache: StageCache,
    key: str,
    acts: tuple[Act, Act],
    clips: tuple[StoredClip, StoredClip],
    cancel: CancelToken | None = None,
) -> StoredClip:
    """The transition window at the cut between `acts` (outgoing, incoming), through the stage cache.

    `clips` are the two acts' draft proxies; the result's frame 0 is the window's first timeline frame.
    """
    timeline = TimelineFrames(acts, clips)
    start, end = timeline.windows[0]
    folder = cache.get(key)
    if folder is None:

        def write(out: Path) -> None:
            window = _WindowClip(timeline, start, end - start)
            write_frames(
                out,
                window,
                first=0,
                count=end - start,
                on_frame=cancel.raise_if_cancelled if cancel else None,
            )

        folder = cache.put(key, write)
    return StoredClip(folder, end - start)


class _WindowClip:
    """Timeline frames [start, start + length) of a two-act timeline, as a clip."""

    def __init__(self, timeline: TimelineFrames, start: int, length: int) -> None:
        self._timeline = timeline
        self._start = start
        self.length = length

    def frame(self, index: int) -> np.ndarray:
        return self._timeline.frame(self._start + index)
