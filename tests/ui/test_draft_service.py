"""DraftService: background draft proxies on a QThread, priorities, cancellation, failures, audio."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from pytestqt.qtbot import QtBot

import app.engine.pipeline as pipeline_module
from app.engine.backends import MotionBackend, MotionRequest
from app.engine.backends.builtin import BuiltinMotionBackend
from app.engine.cache import StageCache
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import Clip
from app.engine.pipeline import ActPipeline, RenderTarget
from app.engine.preview import frozen_copy
from app.engine.transitions import transition_frame, transition_progress
from app.engine.worker import ActState, ActStatus, DraftService
from app.model import (
    Act,
    AudioClip,
    AudioTrack,
    CameraMove,
    GradeSettings,
    MediaRef,
    MotionSettings,
    Project,
    ProjectSettings,
    Take,
    TransitionKind,
    TransitionSpec,
)
from app.model.template import EmbeddedTemplate, Template
from app.model.template_commands import ApplyTemplate
from tests.engine.audio_fixtures import drum_track, write_wav

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
LENGTH = 12  # frames per act
WAIT_MS = 20_000


class _FakeBackend:
    """The built-in backend, recording which act (by seed) it animates and how many frames it served.

    Prompts steer it: "slow" takes 20 ms a frame, "explode" raises like a broken model; `gate` cleared
    holds every frame until it is set again.
    """

    name = "motion"
    revision = "test"
    uses_prompt = True  # the fake reads its prompt (see above), so prompts belong in its keys
    uses_last_frame = True

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.frames_served: Counter[int] = Counter()
        self.gate = threading.Event()
        self.gate.set()
        self._inner = BuiltinMotionBackend()

    def animate(
        self, request: MotionRequest, cancel: CancelToken | None = None, progress: ProgressFn | None = None
    ) -> Clip:
        if request.prompt == "explode":
            raise RuntimeError("the model exploded")
        self.calls.append(request.seed)
        return _FakeClip(self, self._inner.animate(request, cancel, progress), request)


class _FakeClip:
    def __init__(self, backend: _FakeBackend, inner: Clip, request: MotionRequest) -> None:
        self._backend = backend
        self._inner = inner
        self._request = request
        self.length = inner.length

    def frame(self, index: int) -> np.ndarray:
        self._backend.gate.wait(timeout=10)
        if self._request.prompt == "slow":
            time.sleep(0.02)  # a slow model, not a wait in the test
        self._backend.frames_served[self._request.seed] += 1
        return self._inner.frame(index)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[_FakeBackend]:
    fake = _FakeBackend()

    def get_backend(name: str, registry: object = None) -> MotionBackend:
        return fake

    monkeypatch.setattr(pipeline_module, "get_backend", get_backend)
    yield fake
    fake.gate.set()  # never leave the worker blocked in a frame


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    for photo in sorted(DEMO.glob("0*.jpg"))[:3]:
        image = cv2.imread(str(photo))
        assert image is not None
        cv2.imwrite(str(folder / photo.name), cv2.resize(image, (120, 80)))
    return folder


@pytest.fixture
def cache(tmp_path: Path) -> StageCache:
    return StageCache(tmp_path / "cache")


@pytest.fixture
def drafts(qtbot: QtBot, cache: StageCache, backend: _FakeBackend) -> Iterator[DraftService]:
    service = DraftService(cache)
    yield service
    service.shutdown()


def _project(project_dir: Path, count: int = 3, **fields: object) -> Project:
    photos = sorted(p.name for p in project_dir.glob("0*.jpg"))
    return Project(
        settings=ProjectSettings(fps=Fraction(12), width=96, height=64),
        acts=[
            Act(
                id=f"act{i}",
                name=f"Act {i}",
                duration_frames=LENGTH,
                references=[MediaRef(path=photos[i % len(photos)])],
                motion=MotionSettings(camera=CameraMove.pan_right),
                seed=i,
                **fields,
            )
            for i in range(count)
        ],
    )


def _shown(drafts: DraftService, timeline_frame: int) -> np.ndarray:
    frame = drafts.frame(timeline_frame)
    assert frame is not None, f"no draft frame at {timeline_frame}"
    return frame


def _state(drafts: DraftService, act_id: str) -> ActState:
    return drafts.status(act_id).state


def _wait_all_ready(qtbot: QtBot, drafts: DraftService, project: Project) -> None:
    qtbot.waitUntil(
        lambda: all(_state(drafts, a.id) is ActState.ready for a in project.acts), timeout=WAIT_MS
    )


def _edited(project: Project, act_index: int, **changes: object) -> Project:
    edited = frozen_copy(project)
    for name, value in changes.items():
        setattr(edited.acts[act_index], name, value)
    return edited


def test_drafts_appear_for_every_act(qtbot: QtBot, drafts: DraftService, project_dir: Path) -> None:
    project = _project(project_dir)
    announced: list[str] = []
    drafts.act_status_changed.connect(announced.append)
    assert drafts.frame(0) is None
    with qtbot.waitSignal(drafts.frames_changed, timeout=WAIT_MS):
        drafts.set_project(project, project_dir, 1)
    _wait_all_ready(qtbot, drafts, project)
    qtbot.waitUntil(lambda: {"act0", "act1", "act2"} <= set(announced), timeout=WAIT_MS)
    for start in (0, LENGTH, 2 * LENGTH):
        frame = drafts.frame(start + 3)
        assert frame is not None and frame.shape == (64, 96, 3) and frame.dtype == np.uint8
    thumbnail = drafts.thumbnail("act1")
    assert thumbnail is not None and thumbnail.shape[1] == 96
    assert drafts.frame(3 * LENGTH) is None
    assert not np.array_equal(_shown(drafts, 3), _shown(drafts, LENGTH + 3))


def test_editing_one_act_rerenders_only_that_act(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _project(project_dir)
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert sorted(backend.calls) == [0, 1, 2]

    project = _edited(project, 1, motion=MotionSettings(camera=CameraMove.zoom_out))
    drafts.set_project(project, project_dir, 2)
    assert drafts.wait_idle(WAIT_MS / 1000)
    project = _edited(project, 2, prompt="a red door")
    drafts.set_project(project, project_dir, 3)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert backend.calls[3:] == [1, 2]

    # Renaming and reordering change no pictures: nothing renders.
    project = _edited(project, 0, name="Opening")
    project.acts.reverse()
    drafts.set_project(project, project_dir, 4)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert len(backend.calls) == 5
    _wait_all_ready(qtbot, drafts, project)


def test_an_update_during_a_long_render_cancels_the_stale_job(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path, cache: StageCache
) -> None:
    project = _project(project_dir, count=1, prompt="slow")
    project.acts[0].duration_frames = 200  # 4 s of frames at 20 ms each
    drafts.set_project(project, project_dir, 1)
    qtbot.waitUntil(lambda: drafts.status("act0").progress > 0.05, timeout=WAIT_MS)
    assert _state(drafts, "act0") is ActState.rendering

    edited = _edited(project, 0, prompt="fast", motion=MotionSettings(camera=CameraMove.zoom_in))
    drafts.set_project(edited, project_dir, 2)
    _wait_all_ready(qtbot, drafts, edited)
    assert backend.calls == [0, 0]
    assert backend.frames_served[0] < 2 * (200 + 24)  # the slow job stopped well before its 224 frames
    target = RenderTarget.preview(project)
    pipeline = ActPipeline(project_dir, cache)
    assert cache.get(pipeline.act_key(project.acts[0], target)) is None  # nothing stored for the old job
    expected = pipeline.draft_clip(edited.acts[0], target).frame(100)
    assert np.array_equal(_shown(drafts, 100), expected)


def test_a_corrupt_reference_fails_that_act_only(
    qtbot: QtBot, drafts: DraftService, project_dir: Path
) -> None:
    (project_dir / "broken.jpg").write_bytes(b"this is not a jpeg")
    project = _project(project_dir)
    project.acts[1].references = [MediaRef(path="broken.jpg")]
    project.acts[2].references = [MediaRef(path="missing.jpg")]
    drafts.set_project(project, project_dir, 1)
    qtbot.waitUntil(lambda: _state(drafts, "act1") is ActState.failed, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _state(drafts, "act2") is ActState.failed, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _state(drafts, "act0") is ActState.ready, timeout=WAIT_MS)
    assert "broken.jpg" in drafts.status("act1").message
    assert "missing.jpg" in drafts.status("act2").message
    assert drafts.frame(LENGTH + 1) is None

    # Replacing the file's content (same name) is a new key: the act renders.
    cv2.imwrite(str(project_dir / "broken.jpg"), np.full((80, 120, 3), 200, np.uint8))
    drafts.set_project(project, project_dir, 2)
    qtbot.waitUntil(lambda: _state(drafts, "act1") is ActState.ready, timeout=WAIT_MS)
    assert drafts.frame(LENGTH + 1) is not None


def test_a_backend_error_fails_the_act_and_the_worker_goes_on(
    qtbot: QtBot, drafts: DraftService, project_dir: Path
) -> None:
    project = _project(project_dir)
    project.acts[0].prompt = "explode"
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert drafts.status("act0").state is ActState.failed
    assert drafts.status("act0").message == "the model exploded"
    assert [_state(drafts, a.id) for a in project.acts[1:]] == [ActState.ready, ActState.ready]

    drafts.set_project(_edited(project, 0, prompt="calm"), project_dir, 2)
    qtbot.waitUntil(lambda: _state(drafts, "act0") is ActState.ready, timeout=WAIT_MS)


def test_the_act_under_the_playhead_renders_first_then_visible_acts(
    drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _project(project_dir, count=5)
    drafts.set_focus(3 * LENGTH + 5, (2 * LENGTH, 5 * LENGTH))
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    # Act 3 holds the playhead; acts 2 and 4 are in view (2 is nearer); then the rest by distance.
    assert backend.calls == [3, 2, 4, 1, 0]


def test_frame_shows_the_old_draft_until_the_new_one_is_ready(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path, cache: StageCache
) -> None:
    project = _project(project_dir, count=2)
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    old = _shown(drafts, LENGTH + 6)

    backend.gate.clear()
    edited = _edited(project, 1, motion=MotionSettings(camera=CameraMove.rotate_cw, intensity=1.0))
    drafts.set_project(edited, project_dir, 2)
    qtbot.waitUntil(lambda: _state(drafts, "act1") is ActState.rendering, timeout=WAIT_MS)
    assert np.array_equal(_shown(drafts, LENGTH + 6), old)

    with qtbot.waitSignal(drafts.frames_changed, timeout=WAIT_MS):
        backend.gate.set()
    qtbot.waitUntil(lambda: _state(drafts, "act1") is ActState.ready, timeout=WAIT_MS)
    new = _shown(drafts, LENGTH + 6)
    expected = (
        ActPipeline(project_dir, cache).draft_clip(edited.acts[1], RenderTarget.preview(edited)).frame(6)
    )
    assert np.array_equal(new, expected) and not np.array_equal(new, old)


def test_a_crossfade_shows_blended_frames_once_its_proxy_exists(
    qtbot: QtBot, drafts: DraftService, project_dir: Path, cache: StageCache
) -> None:
    crossfade = TransitionSpec(kind=TransitionKind.crossfade, frames=8)
    project = _project(project_dir, count=2)
    project.acts[0].transition = crossfade
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    pipeline = ActPipeline(project_dir, cache)
    target = RenderTarget.preview(project)
    outgoing, incoming = (pipeline.draft_clip(act, target) for act in project.acts)
    for frame in range(LENGTH - 4, LENGTH + 4):
        progress = transition_progress(frame, (LENGTH - 4, LENGTH + 4))
        expected = transition_frame(
            TransitionKind.crossfade, outgoing.frame(frame), incoming.frame(frame - LENGTH), progress
        )
        shown = _shown(drafts, frame)
        assert np.abs(shown.astype(int) - expected.astype(int)).mean() < 3.0  # a JPEG of the blend
        assert np.abs(shown.astype(int) - outgoing.frame(frame).astype(int)).mean() > 3.0
    assert np.array_equal(_shown(drafts, LENGTH + 5), incoming.frame(5))


def _with_music(project_dir: Path) -> Project:
    """One act over a 2 s drum track (clip id "music")."""
    track = drum_track(120, 2.0, sample_rate=22050)
    write_wav(project_dir / "music.wav", track.samples, track.sample_rate)
    project = _project(project_dir, count=1)
    project.audio = [AudioClip(id="music", media=MediaRef(path="music.wav"))]
    return project


def test_audio_is_decoded_into_a_mixer_and_peaks(
    qtbot: QtBot, drafts: DraftService, project_dir: Path
) -> None:
    project = _with_music(project_dir)
    with qtbot.waitSignal(drafts.audio_ready, timeout=WAIT_MS):
        drafts.set_project(project, project_dir, 1)
    mixer, peaks = drafts.mixer(), drafts.peaks("music")
    assert mixer is not None and peaks is not None
    assert peaks.duration_s == pytest.approx(2.0, abs=0.01)
    mins, maxs = peaks.columns(0.0, 2.0, 400)
    assert maxs.max() > 0.2 and mins.min() < -0.2 and (maxs >= mins).all()
    assert np.abs(mixer.render(0, 48000)).max() > 0.2

    project.audio = []
    with qtbot.waitSignal(drafts.audio_ready, timeout=WAIT_MS):
        drafts.set_project(project, project_dir, 2)
    assert drafts.mixer() is None and drafts.peaks("music") is None


def test_muting_a_track_remixes_the_playback_audio_without_it(
    qtbot: QtBot, drafts: DraftService, project_dir: Path
) -> None:
    project = _with_music(project_dir)
    with qtbot.waitSignal(drafts.audio_ready, timeout=WAIT_MS):
        drafts.set_project(project, project_dir, 1)
    mixer = drafts.mixer()
    assert mixer is not None and np.abs(mixer.render(0, 48000)).max() > 0.2

    project.audio_tracks = [AudioTrack(muted=True)]  # the clip itself is unchanged
    with qtbot.waitSignal(drafts.audio_ready, timeout=WAIT_MS):
        drafts.set_project(project, project_dir, 2)
    muted = drafts.mixer()
    assert muted is not None and np.abs(muted.render(0, 48000)).max() == 0.0


def test_shutdown_cancels_a_running_job_and_is_idempotent(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _project(project_dir, count=1, prompt="slow")
    project.acts[0].duration_frames = 500  # 10 s unless cancelled
    drafts.set_project(project, project_dir, 1)
    qtbot.waitUntil(lambda: _state(drafts, "act0") is ActState.rendering, timeout=WAIT_MS)
    started = time.perf_counter()
    drafts.shutdown()
    assert time.perf_counter() - started < 2.0
    drafts.shutdown()
    assert backend.frames_served[0] < 500


def test_set_project_takes_a_snapshot(drafts: DraftService, project_dir: Path) -> None:
    project = _project(project_dir)
    project.acts[0].takes = [Take(seed=5, backend="motion")]
    copied = frozen_copy(project)
    assert copied == project and copied is not project
    project.acts[0].prompt = "changed later"
    project.acts[0].references.append(MediaRef(path="late.jpg"))
    project.acts[0].takes[0].seed = 9
    project.acts.pop()
    assert copied.acts[0].prompt == "" and len(copied.acts[0].references) == 1
    assert copied.acts[0].takes[0].seed == 5 and len(copied.acts) == 3
    assert copied.acts[0].motion is project.acts[0].motion  # frozen parts are shared, not copied


# -- take previews and the fallback flag -------------------------------------------------------------------


def _with_takes(project: Project, act_index: int, *seeds: int) -> Project:
    """The project with takes of those seeds on one act (ids t<seed>), its camera a seeded drift."""
    act = project.acts[act_index]
    act.motion = MotionSettings(camera=CameraMove.drift, intensity=1.0)
    act.takes = [Take(id=f"t{seed}", seed=seed, backend="motion") for seed in seeds]
    return project


def test_take_previews_render_on_request_with_each_takes_seed(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path, cache: StageCache
) -> None:
    project = _with_takes(_project(project_dir, count=2), 1, 100, 200)
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert sorted(backend.calls) == [0, 1]  # no take renders until asked for
    assert drafts.take_clip("act1", "t100") is None

    ready: list[tuple[str, str]] = []
    drafts.take_ready.connect(lambda act_id, take_id: ready.append((act_id, take_id)))
    with qtbot.waitSignal(drafts.take_ready, timeout=WAIT_MS):
        drafts.set_take_focus("act1")
    qtbot.waitUntil(lambda: len(ready) == 2, timeout=WAIT_MS)
    assert sorted(ready) == [("act1", "t100"), ("act1", "t200")]
    assert sorted(backend.calls[2:]) == [100, 200]
    pipeline = ActPipeline(project_dir, cache)
    target = RenderTarget.preview(project)
    shown = {}
    for take_id in ("t100", "t200"):
        assert drafts.take_status("act1", take_id).state is ActState.ready
        clip = drafts.take_clip("act1", take_id)
        assert clip is not None and clip.length == LENGTH
        selected = project.acts[1].model_copy(update={"selected_take": take_id})
        expected = pipeline.draft_clip(selected, target, backend_override="motion").frame(7)
        shown[take_id] = clip.frame(7)
        assert np.array_equal(shown[take_id], expected)
    assert not np.array_equal(shown["t100"], shown["t200"])  # the seeds differ, so do the pictures

    # Asking again (another act, then back) re-renders nothing: the cache holds the previews.
    drafts.set_take_focus("act0")
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert drafts.take_clip("act1", "t100") is None
    drafts.set_take_focus("act1")
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert len(backend.calls) == 4 and drafts.take_clip("act1", "t100") is not None


def test_takes_render_after_the_acts_in_view_and_before_the_rest(
    drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _with_takes(_project(project_dir, count=5), 3, 100, 101)
    drafts.set_focus(5, (0, 2 * LENGTH))
    drafts.set_take_focus("act3")
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert backend.calls == [0, 1, 100, 101, 2, 3, 4]


def test_a_take_that_vanishes_or_loses_focus_stops_rendering(
    qtbot: QtBot, drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _with_takes(_project(project_dir, count=2), 1, 100, 200)
    project.acts[1].prompt = "slow"
    project.acts[1].duration_frames = 200  # 4 s of frames at 20 ms each
    drafts.set_take_focus("act1")
    drafts.set_project(project, project_dir, 1)
    qtbot.waitUntil(lambda: drafts.take_status("act1", "t100").progress > 0.02, timeout=WAIT_MS)
    assert drafts.take_status("act1", "t100").state is ActState.rendering
    assert drafts.take_status("act1", "t200").state is ActState.queued

    removed = frozen_copy(project)
    removed.acts[1].takes = removed.acts[1].takes[1:]
    drafts.set_project(removed, project_dir, 2)
    qtbot.waitUntil(lambda: drafts.take_status("act1", "t200").state is ActState.rendering, timeout=WAIT_MS)
    assert backend.frames_served[100] < 200
    drafts.set_take_focus(None)
    qtbot.waitUntil(lambda: _state(drafts, "act1") is ActState.rendering, timeout=WAIT_MS)
    assert backend.frames_served[200] < 200
    assert drafts.take_clip("act1", "t100") is None and drafts.take_clip("act1", "t200") is None


def test_a_take_that_cannot_render_fails_with_the_reason(drafts: DraftService, project_dir: Path) -> None:
    project = _with_takes(_project(project_dir, count=1), 0, 100)
    project.acts[0].prompt = "explode"
    drafts.set_take_focus("act0")
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    status = drafts.take_status("act0", "t100")
    assert status.state is ActState.failed and status.message == "the model exploded"
    assert drafts.take_clip("act0", "t100") is None


def test_a_draft_made_by_the_fallback_backend_is_ready_and_flagged(
    drafts: DraftService, project_dir: Path, cache: StageCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    flagged: set[str] = set()

    def fallback_reason(self: ActPipeline, key: str) -> str | None:
        return "model 'svd' is not registered" if key in flagged else None

    monkeypatch.setattr(ActPipeline, "fallback_reason", fallback_reason)
    project = _with_takes(_project(project_dir, count=2), 1, 100)
    target = RenderTarget.preview(project)
    pipeline = ActPipeline(project_dir, cache)
    pipeline.set_project(project)
    flagged.add(pipeline.act_key(project.acts[1], target))
    selected = project.acts[1].model_copy(update={"selected_take": "t100"})
    flagged.add(pipeline.act_key(selected, target, backend_override="motion"))
    drafts.set_take_focus("act1")
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert drafts.status("act0") == ActStatus(ActState.ready, 1.0)
    assert drafts.status("act1") == ActStatus(ActState.ready, 1.0, fallback="model 'svd' is not registered")
    assert drafts.take_status("act1", "t100").fallback == "model 'svd' is not registered"


# -- template previews -------------------------------------------------------------------------------------


def _look(template_id: str, **fields: object) -> EmbeddedTemplate:
    return EmbeddedTemplate(template=Template(id=template_id, name=template_id.title(), **fields))


def _expected_variant(project: Project, act_index: int, embedded: EmbeddedTemplate) -> Act:
    """The act as applying the template through the document would leave it."""
    applied = frozen_copy(project)
    ApplyTemplate([applied.acts[act_index].id], embedded).apply(applied)
    return applied.acts[act_index]


def test_a_template_preview_renders_the_act_with_the_templates_look(
    qtbot: QtBot, drafts: DraftService, project_dir: Path, cache: StageCache
) -> None:
    project = _project(project_dir, count=2)
    noir = _look("noir", grade=GradeSettings(saturation=0.0, contrast=1.6), style_prompt="film noir")
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert drafts.variant_clip() is None
    with qtbot.waitSignal(drafts.variant_ready, timeout=WAIT_MS):
        drafts.set_variant_preview("act1", noir)
    assert drafts.variant_status() == ActStatus(ActState.ready, 1.0)
    clip = drafts.variant_clip()
    assert clip is not None and clip.length == LENGTH

    pipeline = ActPipeline(project_dir, cache)
    pipeline.set_project(project)
    target = RenderTarget.preview(project)
    expected = pipeline.draft_clip(_expected_variant(project, 1, noir), target).frame(5)
    own = pipeline.draft_clip(project.acts[1], target).frame(5)
    shown = clip.frame(5)
    assert np.array_equal(shown, expected)
    assert np.abs(shown.astype(int) - own.astype(int)).mean() > 10  # the look differs from the act's own
    spread = shown.astype(int).max(axis=2) - shown.astype(int).min(axis=2)
    assert spread.mean() < 4  # saturation 0: grey (JPEG storage keeps a little colour noise)
    assert project.acts[1].grade.saturation == 1.0  # previewing changed nothing in the project

    drafts.set_variant_preview(None, None)
    assert drafts.variant_clip() is None


def test_a_template_preview_renders_after_the_act_under_the_playhead_and_before_the_acts_in_view(
    drafts: DraftService, backend: _FakeBackend, project_dir: Path
) -> None:
    project = _project(project_dir, count=4)
    drafts.set_focus(5, (0, 2 * LENGTH))
    drafts.set_variant_preview("act3", _look("noir", grade=GradeSettings(saturation=0.0)))
    drafts.set_project(project, project_dir, 1)
    assert drafts.wait_idle(WAIT_MS / 1000)
    assert backend.calls == [0, 3, 1, 2, 3]  # act 0, the preview of act 3, act 1 in view, the rest


def test_a_template_preview_that_is_replaced_is_cancelled_and_never_shown(
    qtbot: QtBot, drafts: DraftService, project_dir: Path, cache: StageCache
) -> None:
    project = _project(project_dir, count=2)
    project.acts[1].prompt = "slow"  # 20 ms a frame; no style prompt in the looks below, so it stays slow
    project.acts[1].duration_frames = 48
    warm = _look("warm", grade=GradeSettings(temperature=0.8))
    cool = _look("cool", grade=GradeSettings(temperature=-0.8))
    drafts.set_project(project, project_dir, 1)
    drafts.set_variant_preview("act1", warm)
    qtbot.waitUntil(lambda: drafts.variant_status().progress > 0.05, timeout=WAIT_MS)
    assert drafts.variant_status().state is ActState.rendering
    ready: list[bool] = []
    drafts.variant_ready.connect(lambda: ready.append(True))
    drafts.set_variant_preview("act1", cool)
    assert drafts.variant_status() == ActStatus(ActState.queued)  # the warm preview's progress is gone
    qtbot.waitUntil(lambda: drafts.variant_clip() is not None, timeout=WAIT_MS)

    pipeline = ActPipeline(project_dir, cache)
    pipeline.set_project(project)
    target = RenderTarget.preview(project)
    warm_key = pipeline.act_key(_expected_variant(project, 1, warm), target)
    assert cache.get(warm_key) is None  # cancelled before its last frame: nothing stored
    clip = drafts.variant_clip()
    assert clip is not None and ready == [True]
    expected = _expected_variant(project, 1, cool)
    assert np.array_equal(clip.frame(3), pipeline.draft_clip(expected, target).frame(3))


def test_a_template_the_act_cannot_take_fails_the_preview_with_the_reason(
    drafts: DraftService, project_dir: Path
) -> None:
    project = _project(project_dir, count=1)
    drafts.set_project(project, project_dir, 1)
    missing_lut = EmbeddedTemplate(
        template=Template(id="lut", name="Lut", lut="look.cube"), lut=MediaRef(path="gone/look.cube")
    )
    drafts.set_variant_preview("act0", missing_lut)
    assert drafts.wait_idle(WAIT_MS / 1000)
    status = drafts.variant_status()
    assert status.state is ActState.failed and "look.cube" in status.message
    assert drafts.variant_clip() is None
