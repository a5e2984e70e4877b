"""Diffusers backends through the real loading path: tiny random-weight pipelines saved to a folder,
registered, and rendered by the act pipeline (keyframes, video, refinement, continuity, fallback)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.engine.backends import get_backend
from app.engine.backends.diffusion import DiffusionBackend, model_frame_count, motion_bucket, motion_prompt
from app.engine.cache import StageCache
from app.engine.cancel import CancelToken
from app.engine.models.catalog import PIPELINES, generation_size
from app.engine.models.memory import MemoryPolicy
from app.engine.models.registry import ModelRegistry
from app.engine.pipeline import ActPipeline, RenderTarget
from app.errors import Cancelled, InputError
from app.model import Act, CameraMove, GenerationSettings, MediaRef, MotionSettings, Project, ProjectSettings
from tests.engine.tiny_models import (
    save_tiny_cogvideox,
    save_tiny_ltx,
    save_tiny_ltx_condition,
    save_tiny_sd,
    save_tiny_svd,
    save_tiny_wan,
)

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
STEPS = 2


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "svd": save_tiny_svd(root / "svd"),
        "sd": save_tiny_sd(root / "sd"),
        "ltx": save_tiny_ltx(root / "ltx"),
        "ltx-condition": save_tiny_ltx_condition(root / "ltx-condition"),
        "wan": save_tiny_wan(root / "wan"),
        "wan-flf": save_tiny_wan(root / "wan-flf", first_last_frame=True),
        "cogvideox": save_tiny_cogvideox(root / "cogvideox"),
    }


@pytest.fixture
def registry(tiny_models: dict[str, Path]) -> ModelRegistry:
    registry = ModelRegistry()
    for name, folder in tiny_models.items():
        registry.add(name, folder)
    return registry


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    for photo in sorted(DEMO.glob("0*.jpg"))[:2]:
        image = cv2.imread(str(photo))
        assert image is not None
        cv2.imwrite(str(tmp_path / photo.name), cv2.resize(image, (160, 120)))
    return tmp_path


def _project(project_dir: Path, **act_fields: Any) -> Project:
    photos = sorted(p.name for p in project_dir.glob("0*.jpg"))
    acts = [
        Act(
            id=f"act{i}",
            name=f"Act {i}",
            duration_frames=8,
            references=[MediaRef(path=photos[i])],
            motion=MotionSettings(camera=CameraMove.zoom_in),
            seed=7 + i,
            generation=GenerationSettings(steps=STEPS),
            **act_fields,
        )
        for i in range(2)
    ]
    return Project(settings=ProjectSettings(fps=Fraction(8), width=64, height=64), acts=acts)


def _pipeline(project_dir: Path, project: Project, cache: StageCache | None = None) -> ActPipeline:
    pipeline = ActPipeline(project_dir, cache or StageCache(project_dir / "cache"))
    pipeline.set_project(project)
    return pipeline


def _frames(clip: Any, count: int) -> np.ndarray:
    return np.stack([clip.frame(i) for i in range(count)])


# -- argument mapping ---------------------------------------------------------------------------------------


def test_frame_counts_follow_each_models_rule() -> None:
    ltx = PIPELINES["LTXImageToVideoPipeline"]
    count, real_time = model_frame_count(ltx, 48, Fraction(24))  # 2 s at 24 fps: 49 frames at 24 fps
    assert (count, real_time) == (49, True)
    assert (count - 1) % 8 == 0
    wan = PIPELINES["WanImageToVideoPipeline"]
    count, _ = model_frame_count(wan, 30, Fraction(30))  # 1 s: 17 frames at 16 fps (4n+1)
    assert count == 17
    svd = PIPELINES["StableVideoDiffusionPipeline"]
    count, real_time = model_frame_count(svd, 240, Fraction(24))  # 10 s is past SVD's 25 frames
    assert count == 25 and not real_time


def test_sizes_snap_to_the_model_multiple_within_its_trained_area() -> None:
    ltx = PIPELINES["LTXImageToVideoPipeline"]
    width, height = generation_size(ltx, 1920, 1080)
    assert width % 32 == 0 and height % 32 == 0
    assert width * height <= 768 * 512 * 1.1
    assert abs(width / height - 16 / 9) < 0.1
    assert generation_size(ltx, 480, 270) == (480, 256)  # drafts are generated at (about) their own size


def test_motion_intensity_maps_onto_pipeline_arguments() -> None:
    assert motion_bucket(0.0) == 1 and motion_bucket(1.0) == 253 and motion_bucket(0.5) == 127
    assert "zooms in" in motion_prompt("a fox", MotionSettings(camera=CameraMove.zoom_in, intensity=0.5), 24)
    pan = MotionSettings(camera=CameraMove.pan_left, intensity=0.9)
    assert motion_prompt("a fox", pan, 24).startswith("a fox, dynamic")


# -- through the real loading path --------------------------------------------------------------------------


def test_registered_image_to_video_model_renders_an_act(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir, final_backend="svd", draft_backend="svd")
    pipeline = _pipeline(project_dir, project)
    act = project.acts[0]
    target = RenderTarget.final(project)
    clip = pipeline.clip(act, target)
    frames = _frames(clip, act.duration_frames)
    assert frames.shape == (8, 64, 64, 3) and frames.dtype == np.uint8
    assert pipeline.fallback_reason(pipeline.act_key(act, target)) is None
    motion = _frames(get_backend("motion").animate(_request(pipeline, act, target)), 8)
    assert np.abs(frames.astype(int) - motion.astype(int)).mean() > 5  # a model made these, not the warp


def _request(pipeline: ActPipeline, act: Act, target: RenderTarget) -> Any:
    from app.engine.backends import MotionRequest

    return MotionRequest(
        keyframes=pipeline.keyframes(act, target),
        fit=act.fit,
        motion=act.motion,
        length=act.duration_frames,
        width=target.width,
        height=target.height,
        fps=target.fps,
        seed=act.effective_seed(),
        steps=STEPS,
    )


def test_same_seed_same_frames_other_seed_other_frames(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir, final_backend="svd")
    target = RenderTarget.final(project)
    act = project.acts[0]
    first = _frames(_pipeline(project_dir, project, StageCache(project_dir / "a")).clip(act, target), 8)
    again = _frames(_pipeline(project_dir, project, StageCache(project_dir / "b")).clip(act, target), 8)
    np.testing.assert_array_equal(first, again)
    reseeded = act.model_copy(update={"seed": act.seed + 1})
    other = _frames(_pipeline(project_dir, project, StageCache(project_dir / "c")).clip(reseeded, target), 8)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 1


def test_generated_video_is_cached_once(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir, final_backend="svd")
    pipeline = _pipeline(project_dir, project)
    backend = get_backend("svd", registry)
    calls = _count_calls(backend)
    target = RenderTarget.final(project)
    _frames(pipeline.clip(project.acts[0], target), 8)
    _frames(pipeline.clip(project.acts[0], target), 8)
    assert calls == [1]


def _count_calls(backend: Any) -> list[int]:
    calls = [0]
    original = backend.animate

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    backend.animate = counted
    return calls


class _Steps(list[tuple[int, int]]):
    def __call__(self, done: int, total: int) -> None:
        self.append((done, total))


def test_progress_reports_every_step(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir)
    pipeline = _pipeline(project_dir, project)
    steps = _Steps()
    get_backend("svd", registry).animate(
        _request(pipeline, project.acts[0], RenderTarget.final(project)), None, steps
    )
    assert steps == [(step, STEPS) for step in range(1, STEPS + 1)]


def test_cancel_mid_run_leaves_nothing_behind(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir, final_backend="svd")
    cache = StageCache(project_dir / "cache")
    pipeline = _pipeline(project_dir, project, cache)
    token = CancelToken()

    def cancel_after_first_step(done: int, total: int) -> None:
        token.cancel()

    target = RenderTarget.final(project)
    with pytest.raises(Cancelled):
        pipeline.clip(project.acts[0], target, cancel=token, progress=cancel_after_first_step)
    assert cache.size_bytes == 0  # no partial video was stored
    # The model is usable again straight away (hooks freed, lock released).
    assert _frames(pipeline.clip(project.acts[0], target), 8).shape == (8, 64, 64, 3)


def _oom() -> BaseException:
    return RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_walks_down_the_ladder(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(project_dir)
    pipeline = _pipeline(project_dir, project)
    policies: list[MemoryPolicy] = []
    original = DiffusionBackend.arguments

    def tight_memory(self: DiffusionBackend, request: Any, frames: int, policy: MemoryPolicy) -> Any:
        policies.append(policy)
        if policy < MemoryPolicy.lower_resolution:
            raise _oom()
        return original(self, request, frames, policy)

    monkeypatch.setattr(DiffusionBackend, "arguments", tight_memory)
    clip = get_backend("svd", registry).animate(
        _request(pipeline, project.acts[0], RenderTarget.final(project))
    )
    assert policies == sorted(set(policies)) and policies[-1] == MemoryPolicy.lower_resolution
    assert len(policies) >= 2
    assert clip.frame(0).shape == (64, 64, 3)  # generated smaller, delivered at the asked size


def test_out_of_memory_everywhere_falls_back_to_motion_and_flags_the_act(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(project_dir, draft_backend="svd")
    pipeline = _pipeline(project_dir, project)

    def no_memory(self: DiffusionBackend, request: Any, frames: int, policy: MemoryPolicy) -> Any:
        raise _oom()

    act = project.acts[0]
    target = RenderTarget.preview(project)
    with monkeypatch.context() as patch:
        patch.setattr(DiffusionBackend, "arguments", no_memory)
        draft = pipeline.draft_clip(act, target)
    reason = pipeline.fallback_reason(pipeline.act_key(act, target))
    assert reason is not None and "memory" in reason
    motion_act = act.model_copy(update={"draft_backend": "motion"})
    motion_draft = _pipeline(project_dir, project, StageCache(project_dir / "motion")).draft_clip(
        motion_act, target
    )
    np.testing.assert_array_equal(_frames(draft, 8), _frames(motion_draft, 8))
    # The fallback is stored apart: once memory allows, the model's own draft is made.
    fresh = _pipeline(project_dir, project, pipeline.cache)
    fresh.draft_clip(act, target)
    assert fresh.fallback_reason(fresh.act_key(act, target)) is None


def test_unregistered_model_falls_back_with_the_reason(project_dir: Path) -> None:
    project = _project(project_dir, draft_backend="not-here")
    pipeline = _pipeline(project_dir, project)
    act = project.acts[0]
    target = RenderTarget.preview(project)
    assert pipeline.draft_clip(act, target).frame(0).shape == (64, 64, 3)
    reason = pipeline.fallback_reason(pipeline.act_key(act, target))
    assert reason is not None and "not-here" in reason


def test_still_model_is_refused_as_a_video_backend(registry: ModelRegistry) -> None:
    with pytest.raises(InputError, match="still images"):
        get_backend("sd", registry)


def test_text_to_image_keyframe_for_an_act_without_references(
    project_dir: Path, registry: ModelRegistry
) -> None:
    project = _project(project_dir)
    act = project.acts[0].model_copy(
        update={
            "references": [],
            "prompt": "a lighthouse at dusk",
            "generation": GenerationSettings(steps=STEPS, keyframe_model="sd"),
        }
    )
    slate_act = act.model_copy(update={"generation": GenerationSettings(steps=STEPS)})
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.final(project)
    (keyframe,) = pipeline.keyframes(act, target)
    (slate,) = pipeline.keyframes(slate_act, target)
    assert keyframe.shape == (64, 64, 3)
    assert np.abs(keyframe.astype(int) - slate.astype(int)).mean() > 5
    again = _pipeline(project_dir, project, StageCache(project_dir / "other")).keyframes(act, target)[0]
    np.testing.assert_array_equal(keyframe, again)
    assert pipeline.act_key(act, target) != pipeline.act_key(slate_act, target)


def test_refinement_pass_changes_final_keyframes_only(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir)
    plain = project.acts[0]
    refined = plain.model_copy(
        update={"generation": GenerationSettings(steps=4, refine_model="sd", refine_strength=0.5)}
    )
    pipeline = _pipeline(project_dir, project)
    final = RenderTarget.final(project)
    draft = RenderTarget.preview(project)
    base = pipeline.keyframes(plain, final)[0]
    out = pipeline.keyframes(refined, final)[0]
    assert out.shape == (64, 64, 3)
    from app.engine.keyframe import fit_image

    assert np.abs(out.astype(int) - fit_image(base, 64, 64, plain.fit).astype(int)).mean() > 3
    np.testing.assert_array_equal(pipeline.keyframes(refined, draft)[0], base)
    assert pipeline.act_key(plain, draft) == pipeline.act_key(refined, draft)
    assert pipeline.act_key(plain, final) != pipeline.act_key(refined, final)


def _spy_arguments(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    original = DiffusionBackend.arguments

    def spy(self: DiffusionBackend, request: Any, frames: int, policy: MemoryPolicy) -> Any:
        arguments: dict[str, Any] = original(self, request, frames, policy)
        seen.append(arguments)
        return arguments

    monkeypatch.setattr(DiffusionBackend, "arguments", spy)
    return seen


@pytest.mark.parametrize(
    ("model", "frame_step", "size_multiple"), [("ltx", 8, 32), ("cogvideox", 8, 16), ("wan", 4, 16)]
)
def test_text_guided_video_models_get_frames_and_sizes_on_their_rules(
    project_dir: Path,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    frame_step: int,
    size_multiple: int,
) -> None:
    project = _project(project_dir, final_backend=model)
    pipeline = _pipeline(project_dir, project)
    seen = _spy_arguments(monkeypatch)
    clip = pipeline.clip(project.acts[0], RenderTarget.final(project))
    assert _frames(clip, 8).shape == (8, 64, 64, 3)
    (arguments,) = seen
    assert (arguments["num_frames"] - 1) % frame_step == 0
    assert arguments["width"] % size_multiple == 0 and arguments["height"] % size_multiple == 0
    assert "zooms in" in arguments["prompt"]


@pytest.mark.parametrize(
    ("model", "pinned"), [("wan", False), ("wan-flf", True), ("ltx-condition", True), ("ltx", False)]
)
def test_end_on_next_pins_the_last_frame_where_the_model_can(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch, model: str, pinned: bool
) -> None:
    project = _project(project_dir, final_backend=model)
    first = project.acts[0].model_copy(
        update={"generation": GenerationSettings(steps=STEPS, end_on_next=True)}
    )
    project = project.model_copy(update={"acts": [first, project.acts[1]]})
    pipeline = _pipeline(project_dir, project)
    seen = _spy_arguments(monkeypatch)
    assert pipeline.clip(first, RenderTarget.final(project)).frame(7).shape == (64, 64, 3)
    (arguments,) = seen
    conditions = arguments.get("conditions", [])
    assert ("last_image" in arguments or len(conditions) == 2) is pinned


# -- continuity ---------------------------------------------------------------------------------------------


def test_act_can_start_from_the_previous_acts_last_frame(project_dir: Path) -> None:
    project = _project(project_dir)
    second = project.acts[1].model_copy(update={"generation": GenerationSettings(start_from_previous=True)})
    project = project.model_copy(update={"acts": [project.acts[0], second]})
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.final(project)
    last = pipeline.clip(project.acts[0], target).frame(7)
    start = pipeline.clip(second, target).frame(0)
    assert np.abs(last.astype(int) - start.astype(int)).mean() < 2
    # Editing the previous act changes this act's key (its first frame depends on it).
    key = pipeline.act_key(second, target)
    moved = project.acts[0].model_copy(
        update={"seed": 99, "motion": MotionSettings(camera=CameraMove.pan_left)}
    )
    pipeline.set_project(project.model_copy(update={"acts": [moved, second]}))
    assert pipeline.act_key(second, target) != key


def test_act_can_end_on_the_next_acts_keyframe(project_dir: Path) -> None:
    project = _project(project_dir)
    first = project.acts[0].model_copy(
        update={"generation": GenerationSettings(end_on_next=True), "motion": MotionSettings(intensity=0.0)}
    )
    project = project.model_copy(update={"acts": [first, project.acts[1]]})
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.final(project)
    from app.engine.keyframe import fit_image

    next_keyframe = fit_image(pipeline.keyframes(project.acts[1], target)[0], 64, 64, first.fit)
    end = pipeline.clip(first, target).frame(7)
    start = pipeline.clip(first, target).frame(0)
    assert (
        np.abs(end.astype(int) - next_keyframe.astype(int)).mean()
        < np.abs(start.astype(int) - next_keyframe.astype(int)).mean()
    )


# -- failures that must neither hang nor stick ---------------------------------------------------------------


def test_a_final_render_that_falls_back_finishes_and_says_why(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    def no_memory(self: DiffusionBackend, request: Any, frames: int, policy: MemoryPolicy) -> Any:
        raise _oom()

    monkeypatch.setattr(DiffusionBackend, "arguments", no_memory)
    project = _project(project_dir, final_backend="svd")
    pipeline = _pipeline(project_dir, project)
    act, target = project.acts[0], RenderTarget.final(project)
    done: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: done.append(pipeline.clip(act, target).frame(0)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done and done[0].shape == (64, 64, 3)  # finished: no lock taken twice
    reason = pipeline.fallback_reason(pipeline.act_key(act, target))
    assert reason is not None and "memory" in reason


def test_a_failed_keyframe_generation_is_retried_later_not_kept(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.engine.backends.diffusion as diffusion

    project = _project(project_dir)
    act = project.acts[0].model_copy(
        update={"references": [], "generation": GenerationSettings(steps=STEPS, keyframe_model="sd")}
    )
    cache = StageCache(project_dir / "cache")
    target = RenderTarget.final(project)
    notes: list[str] = []
    with monkeypatch.context() as patch:
        patch.setattr(diffusion, "text_to_image", lambda *a, **k: (_ for _ in ()).throw(InputError("broken")))
        slate = _pipeline(project_dir, project, cache).keyframes(act, target, notes)[0]
    assert notes and "broken" in notes[0]
    notes.clear()
    keyframe = _pipeline(project_dir, project, cache).keyframes(act, target, notes)[0]
    assert notes == []  # made by the model this time, nothing "damaged" left behind
    assert np.abs(keyframe.astype(int) - slate.astype(int)).mean() > 5


def test_video_made_from_a_stand_in_keyframe_is_not_kept_as_the_real_one(
    project_dir: Path, registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.engine.backends.diffusion as diffusion

    project = _project(project_dir, final_backend="svd")
    act = project.acts[0].model_copy(
        update={"generation": GenerationSettings(steps=STEPS, refine_model="sd", refine_strength=0.5)}
    )
    project = project.model_copy(update={"acts": [act, project.acts[1]]})
    cache = StageCache(project_dir / "cache")
    target = RenderTarget.final(project)
    with monkeypatch.context() as patch:
        patch.setattr(diffusion, "refine_image", lambda *a, **k: (_ for _ in ()).throw(InputError("no vram")))
        degraded = _pipeline(project_dir, project, cache)
        first = _frames(degraded.clip(act, target), 8)
        assert "not refined" in (degraded.fallback_reason(degraded.act_key(act, target)) or "")
    healthy = _pipeline(project_dir, project, cache)
    second = _frames(healthy.clip(act, target), 8)
    assert healthy.fallback_reason(healthy.act_key(act, target)) is None
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 1  # regenerated from the refined keyframe


def test_refined_keyframes_are_keyed_by_their_steps(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir)
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.final(project)
    keys = {
        pipeline.act_key(
            project.acts[0].model_copy(
                update={"generation": GenerationSettings(steps=steps, refine_model="sd", refine_strength=0.5)}
            ),
            target,
        )
        for steps in (2, 30)
    }
    assert len(keys) == 2


def test_edits_a_model_ignores_do_not_rerender(project_dir: Path, registry: ModelRegistry) -> None:
    project = _project(project_dir, final_backend="svd")
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.final(project)
    act = project.acts[0]
    worded = act.model_copy(update={"style_prompt": "oil painting"})
    assert pipeline.act_key(act, target) == pipeline.act_key(worded, target)  # SVD reads no prompt
    ltx = act.model_copy(update={"final_backend": "ltx"})
    assert pipeline.act_key(ltx, target) != pipeline.act_key(
        ltx.model_copy(update={"style_prompt": "oil painting"}), target
    )


def test_long_continuity_chains_stay_shallow(project_dir: Path) -> None:
    photos = sorted(p.name for p in project_dir.glob("0*.jpg"))
    chained = GenerationSettings(start_from_previous=True)
    acts = [Act(id="a0", duration_frames=2, references=[MediaRef(path=photos[0])])] + [
        Act(id=f"a{i}", duration_frames=2, generation=chained) for i in range(1, 800)
    ]
    project = Project(settings=ProjectSettings(fps=Fraction(8), width=32, height=32), acts=acts)
    pipeline = _pipeline(project_dir, project)
    target = RenderTarget.preview(project)
    assert len({pipeline.act_key(act, target) for act in project.acts}) == len(acts)
    assert pipeline.keyframes(project.acts[-1], target)[0].shape == (32, 32, 3)
