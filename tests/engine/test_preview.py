"""The preview lookup: timeline frame → stored draft frame, old proxies kept, transition proxies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.engine.cache import StageCache
from app.engine.clip import StoredClip, write_frames
from app.engine.preview import (
    THUMBNAIL_WIDTH,
    DraftLayout,
    DraftPreview,
    make_thumbnail,
    render_transition_proxy,
    transition_key,
)
from app.engine.timeline import TimelineFrames
from app.model import Act, TransitionKind, TransitionSpec

HEIGHT, WIDTH = 36, 64


class _FlatClip:
    """Flat frames whose red channel names the act and whose green channel counts the body index."""

    def __init__(self, red: int, length: int) -> None:
        self.red = red
        self.length = length

    def frame(self, index: int) -> np.ndarray:
        return np.full((HEIGHT, WIDTH, 3), (self.red, 100 + 4 * index, 60), dtype=np.uint8)


def _store(folder: Path, red: int, length: int) -> StoredClip:
    folder.mkdir(parents=True)
    write_frames(folder, _FlatClip(red, length), first=-4, count=length + 8)
    return StoredClip(folder, length)


def _colour(frame: np.ndarray | None) -> tuple[int, int]:
    assert frame is not None and frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
    return round(float(frame[..., 0].mean())), round(float(frame[..., 1].mean()))


def _side(frame: np.ndarray | None) -> str:
    """Which act of the crossfade set-up a frame shows: "out" (red 40), "in" (red 220) or "blend"."""
    red = _colour(frame)[0]
    return "out" if abs(red - 40) <= 3 else "in" if abs(red - 220) <= 3 else "blend"


def _acts(*lengths: int, spec: TransitionSpec | None = None) -> list[Act]:
    return [
        Act(id=f"act{i}", duration_frames=length, transition=spec or TransitionSpec())
        for i, length in enumerate(lengths)
    ]


@pytest.fixture
def preview(tmp_path: Path) -> DraftPreview:
    preview = DraftPreview()
    acts = _acts(5, 7, 4)
    preview.set_layout(DraftLayout.from_acts(acts))
    for i, act in enumerate(acts):
        clip = _store(tmp_path / act.id, 40 * (i + 1), act.duration_frames)
        preview.publish_act(act.id, clip, make_thumbnail(clip), f"key-{act.id}")
    return preview


def test_every_timeline_frame_shows_its_act_at_the_right_body_index(preview: DraftPreview) -> None:
    starts = [0, 5, 12]
    for frame in range(16):
        act = max(i for i, start in enumerate(starts) if start <= frame)
        red, green = _colour(preview.frame(frame))
        assert abs(red - 40 * (act + 1)) <= 2 and abs(green - (100 + 4 * (frame - starts[act]))) <= 2
    assert preview.frame(16) is None and preview.frame(-1) is None


def test_an_act_without_a_proxy_shows_nothing_while_the_others_show(tmp_path: Path) -> None:
    preview = DraftPreview()
    acts = _acts(5, 5)
    preview.set_layout(DraftLayout.from_acts(acts))
    preview.publish_act("act1", _store(tmp_path / "b", 80, 5), np.zeros((2, 2, 3), np.uint8), "b")
    assert preview.frame(2) is None
    assert abs(_colour(preview.frame(7))[0] - 80) <= 2


def test_an_edited_act_shows_its_previous_proxy_until_the_new_one_is_published(
    preview: DraftPreview, tmp_path: Path
) -> None:
    longer = _acts(5, 9, 4)  # act1 trimmed longer: new timing at once, its old draft meanwhile
    preview.set_layout(DraftLayout.from_acts(longer))
    assert abs(_colour(preview.frame(6))[0] - 80) <= 2
    assert abs(_colour(preview.frame(14))[0] - 120) <= 2  # act2 moved two frames later
    preview.publish_act("act1", _store(tmp_path / "new", 200, 9), np.zeros((2, 2, 3), np.uint8), "new")
    assert abs(_colour(preview.frame(6))[0] - 200) <= 2


def test_removed_acts_lose_their_proxies_and_thumbnails(preview: DraftPreview) -> None:
    preview.set_layout(DraftLayout.from_acts(_acts(5, 4)[::2]))
    preview.set_layout(DraftLayout.from_acts(_acts(5, 7, 4)))
    assert preview.thumbnail("act1") is None and preview.frame(6) is None
    assert preview.thumbnail("act0") is not None


def test_thumbnail_is_the_middle_frame_at_thumbnail_width(preview: DraftPreview) -> None:
    thumbnail = preview.thumbnail("act1")
    assert thumbnail is not None and thumbnail.shape == (
        THUMBNAIL_WIDTH * HEIGHT // WIDTH,
        THUMBNAIL_WIDTH,
        3,
    )
    assert abs(float(thumbnail[..., 1].mean()) - (100 + 4 * 3)) <= 2  # body index 7 // 2


def test_a_damaged_proxy_gives_none_instead_of_raising(preview: DraftPreview, tmp_path: Path) -> None:
    for jpeg in (tmp_path / "act0").glob("*.jpg"):
        jpeg.unlink()
    assert preview.frame(1) is None
    assert preview.frame(6) is not None


def _crossfade_setup(tmp_path: Path) -> tuple[DraftPreview, list[Act], tuple[StoredClip, StoredClip]]:
    acts = _acts(12, 12, spec=TransitionSpec(kind=TransitionKind.crossfade, frames=6))
    clips = (_store(tmp_path / "out", 40, 12), _store(tmp_path / "in", 220, 12))
    preview = DraftPreview()
    preview.set_layout(DraftLayout.from_acts(acts))
    for act, clip in zip(acts, clips, strict=True):
        preview.publish_act(act.id, clip, make_thumbnail(clip), f"key-{act.id}")
    return preview, acts, clips


def test_without_its_proxy_a_transition_shows_outgoing_before_the_cut_and_incoming_after(
    tmp_path: Path,
) -> None:
    preview, _, _ = _crossfade_setup(tmp_path)
    assert [_side(preview.frame(f)) for f in range(9, 15)] == ["out"] * 3 + ["in"] * 3


def test_a_crossfade_window_shows_blended_frames_once_its_proxy_exists(tmp_path: Path) -> None:
    preview, acts, clips = _crossfade_setup(tmp_path)
    cache = StageCache(tmp_path / "cache")
    key = transition_key("k-out", "k-in", acts[0].transition)
    proxy = render_transition_proxy(cache, key, (acts[0], acts[1]), clips)
    assert proxy.length == 6
    preview.publish_transition("act0", "act1", acts[0].transition, proxy.length, proxy)
    expected = TimelineFrames(acts, list(clips))
    reds = []
    for frame in range(9, 15):
        shown = preview.frame(frame)
        assert shown is not None
        assert np.abs(shown.astype(int) - expected.frame(frame).astype(int)).mean() < 2.5
        reds.append(_colour(shown)[0])
    assert reds == sorted(reds)
    assert all(_side(preview.frame(f)) == "blend" for f in range(9, 15))
    assert _side(preview.frame(8)) == "out" and _side(preview.frame(15)) == "in"
    # The same key is served from the cache, not rendered again.
    assert render_transition_proxy(cache, key, (acts[0], acts[1]), clips).frame(0).shape == (HEIGHT, WIDTH, 3)
    assert cache.hits >= 1


def test_a_transition_proxy_for_another_spec_is_not_shown(tmp_path: Path) -> None:
    preview, acts, clips = _crossfade_setup(tmp_path)
    proxy = render_transition_proxy(StageCache(tmp_path / "cache"), "k", (acts[0], acts[1]), clips)
    preview.publish_transition("act0", "act1", acts[0].transition, proxy.length, proxy)
    longer = TransitionSpec(kind=TransitionKind.crossfade, frames=10)
    edited = [acts[0].model_copy(update={"transition": longer}), acts[1]]
    preview.set_layout(DraftLayout.from_acts(edited))
    assert [_side(preview.frame(f)) for f in range(7, 17)] == ["out"] * 5 + ["in"] * 5


def test_layout_windows_agree_with_the_timeline() -> None:
    spec = TransitionSpec(kind=TransitionKind.dip, frames=9)
    acts = _acts(12, 5, 20, spec=spec)
    layout = DraftLayout.from_acts(acts)
    timeline = TimelineFrames(acts, [_FlatClip(0, act.duration_frames) for act in acts])
    assert list(layout.windows) == timeline.windows
    assert layout.starts == (0, 12, 17) and layout.length == 37
    assert DraftLayout.from_acts(_acts(4, 4)).windows == ((4, 4),)  # a plain cut has no window


def test_transition_key_depends_on_both_acts_and_the_spec() -> None:
    crossfade = TransitionSpec(kind=TransitionKind.crossfade, frames=6)
    keys = {
        transition_key("a", "b", crossfade),
        transition_key("a", "c", crossfade),
        transition_key("x", "b", crossfade),
        transition_key("a", "b", crossfade.model_copy(update={"frames": 8})),
        transition_key("a", "b", crossfade.model_copy(update={"kind": TransitionKind.flow_morph})),
    }
    assert len(keys) == 5
    assert transition_key("a", "b", crossfade) == transition_key(
        "a", "b", TransitionSpec(kind="crossfade", frames=6)
    )
