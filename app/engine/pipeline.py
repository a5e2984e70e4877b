"""The stages of one act: keyframe → motion → temporal → post, each keyed by content for the cache.

`ActPipeline.clip()` gives a random-access clip of an act at a render target. Full-quality clips from the
built-in backend are computed on demand frame by frame (cheaper than storing them); what a generative model
makes (keyframes, refined keyframes, video) is stored in the stage cache once; draft proxies are rendered
once into the stage cache as JPEG frames and read back on every later request, so scrubbing, re-rendering
after an edit to another act, reordering and undo all cost nothing.

When a generative model cannot serve an act — not registered on this machine, its folder broken, out of
memory even at the last rung of the memory ladder — the act is rendered by the built-in motion backend and
flagged: `fallback_reason(key)` says why. Fallback drafts are stored apart from the real ones, so the model
is tried again once it is available.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.engine.audio.reactivity import act_envelope
from app.engine.backends import BUILTIN_BACKEND, MotionBackend, MotionRequest, backend_for, get_backend
from app.engine.cache import StageCache, cache_key
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import (
    DRAFT_JPEG_QUALITY,
    FINAL_JPEG_QUALITY,
    Clip,
    GradedClip,
    NotedClip,
    StoredClip,
    write_frames,
)
from app.engine.deflicker import REVISION as DEFLICKER_REVISION
from app.engine.deflicker import DeflickeredClip
from app.engine.finish import FinishedClip, Finisher
from app.engine.grade import Grader, load_cube_lut
from app.engine.keyframe import fit_image, load_image, placeholder_slate
from app.engine.media import MediaResolver
from app.engine.models.catalog import ADAPTER_REVISION
from app.engine.models.registry import ModelEntry, ModelRegistry
from app.errors import Cancelled, RenderError, StorybeatError
from app.model import Act, AudioClip, MotionSettings, Project

DRAFT_WIDTH = 480
#: Frames stored before and after a draft proxy's body, for transitions centred on its cuts.
DRAFT_HANDLE_FRAMES = 12


@dataclass(frozen=True)
class RenderTarget:
    width: int
    height: int
    fps: Fraction
    draft: bool

    @classmethod
    def final(cls, project: Project) -> RenderTarget:
        s = project.settings
        return cls(s.width, s.height, s.fps, draft=False)

    @classmethod
    def preview(cls, project: Project) -> RenderTarget:
        """Draft size: DRAFT_WIDTH wide (never larger than the project), the project's aspect, even sides."""
        s = project.settings
        width = min(DRAFT_WIDTH, s.width)
        height = max(2, round(width * s.height / s.width / 2) * 2)
        return cls(width, height, s.fps, draft=True)


class ActPipeline:
    """Builds act clips for one project folder, sharing the stage cache and the media hashes."""

    def __init__(self, project_dir: Path, cache: StageCache) -> None:
        self.media = MediaResolver(project_dir)
        self.cache = cache
        self._luts: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.renders = 0  # draft proxies actually computed (the rest came from the cache)
        self._starts: dict[str, int] = {}
        self._music: AudioClip | None = None
        self._fps = Fraction(24)
        self._envelopes: dict[tuple[object, ...], np.ndarray] = {}
        self._acts: list[Act] = []
        self._positions: dict[str, int] = {}  # act id -> index in self._acts
        self._size = (0, 0)  # the project's frame size: generated keyframes are made at it
        self.registry = ModelRegistry()
        self._models: dict[str, ModelEntry | StorybeatError] = {}  # registry lookups of this snapshot
        self._fallbacks: dict[str, str] = {}  # act key -> why the act was rendered by the motion backend
        # Motion inputs of this snapshot's acts by (act id, target, backend override), with a copy of the act
        # they were computed for (a variant with the same id — a take, a template preview — differs).
        self._inputs: dict[tuple[str, RenderTarget, str | None], tuple[Act, dict[str, Any]]] = {}
        self._last_frames: dict[tuple[str, RenderTarget], np.ndarray] = {}  # by motion key, this snapshot

    def set_project(self, project: Project) -> None:
        """Where each act sits and which music drives audio-reactive motion (the beat grid's source clip,
        else the first audio clip). Call before asking for keys or clips of this project's acts."""
        self._starts = dict(zip((act.id for act in project.acts), project.act_starts(), strict=True))
        source = project.beats.source
        matching = [clip for clip in project.audio if source is not None and clip.media.path == source.path]
        candidates = matching or project.audio
        self._music = candidates[0] if candidates else None
        self._fps = project.settings.fps
        self._acts = list(project.acts)
        self._positions = {act.id: index for index, act in enumerate(self._acts)}
        self._size = (project.settings.width, project.settings.height)
        with self._lock:
            self._models.clear()  # a model may have been registered or its folder changed since
            self._inputs.clear()
            self._last_frames.clear()

    def model(self, name: str) -> ModelEntry:
        """The registered model `name` (validated once per project snapshot); InputError when unusable."""
        with self._lock:
            found = self._models.get(name)
        if found is None:
            try:
                found = self.registry.get(name)
            except StorybeatError as error:
                found = error
            with self._lock:
                self._models[name] = found
        if isinstance(found, StorybeatError):
            raise found
        return found

    def resolve_backend(self, name: str) -> tuple[MotionBackend, str | None]:
        """The backend called `name`, or the built-in one and why when that one cannot be used here."""
        if name == BUILTIN_BACKEND:
            return get_backend(name), None
        try:
            return backend_for(self.model(name)), None
        except StorybeatError as error:
            return get_backend(BUILTIN_BACKEND), f"{error}"

    def fallback_reason(self, key: str) -> str | None:
        """Why the act whose key is `key` was rendered by the built-in motion backend (None: it was not)."""
        with self._lock:
            return self._fallbacks.get(key)

    def _neighbours(self, act: Act) -> tuple[Act | None, Act | None]:
        index = self._positions.get(act.id)
        if index is None:
            return None, None
        before = self._acts[index - 1] if index > 0 else None
        after = self._acts[index + 1] if index + 1 < len(self._acts) else None
        return before, after

    def reactivity(self, act: Act) -> np.ndarray | None:
        """The onset envelope under the act's frames when it reacts to the music, else None."""
        music = self._music
        if act.motion.audio_reactivity <= 0 or music is None or act.id not in self._starts:
            return None
        from app.engine.audio.beats import analyze_cached  # librosa: only when an act reacts to music

        digest = self.media.sha256(music.media)
        start = self._starts[act.id]
        memo = (
            digest,
            music.offset_frames,
            music.in_frames,
            start,
            act.duration_frames,
            act.motion.react_release_frames,
        )
        with self._lock:
            envelope = self._envelopes.get(memo)
        if envelope is None:
            analysis = analyze_cached(self.media.path(music.media), digest, self.cache)
            envelope = act_envelope(
                np.asarray(analysis.onset_envelope, dtype=np.float32),
                analysis.envelope_rate,
                float((music.offset_frames - music.in_frames) / self._fps),
                start,
                act.duration_frames,
                self._fps,
                act.motion.react_release_frames,
            )
            with self._lock:
                self._envelopes[memo] = envelope
        return envelope

    # -- keys ------------------------------------------------------------------------------------------

    def backend_name(self, act: Act, target: RenderTarget, override: str | None = None) -> str:
        return override or (act.draft_backend if target.draft else act.final_backend)

    def act_key(self, act: Act, target: RenderTarget, backend_override: str | None = None) -> str:
        """Hash of everything the act's pictures depend on (not its name, notes, position or transition)."""
        inputs = {
            **self._motion_inputs(act, target, backend_override),
            "grade": act.grade.model_dump(mode="json", exclude={"lut"}),
            "lut": self.media.sha256(act.grade.lut) if act.grade.lut else None,
        }
        if act.grade.deflicker > 0:  # only then: acts without it keep the keys their drafts were cached under
            inputs["deflicker_revision"] = DEFLICKER_REVISION
        key = cache_key("act", inputs)
        _, reason = self.resolve_backend(self.backend_name(act, target, backend_override))
        if reason is not None:
            with self._lock:
                self._fallbacks[key] = reason
        return key

    def _motion_inputs(self, act: Act, target: RenderTarget, backend_override: str | None) -> dict[str, Any]:
        """What the ungraded motion of the act depends on (memoised per snapshot: continuity chains read
        their predecessors' inputs, and a chain is walked from its start so the recursion stays shallow)."""
        memo = (act.id, target, backend_override)
        with self._lock:
            found = self._inputs.get(memo)
        if found is not None and found[0] == act:
            return found[1]
        if act.generation.start_from_previous:
            for earlier in self._chain_before(act, lambda e: self._memoised(e, target)):
                self._motion_inputs(earlier, target, None)
        inputs = self._compute_motion_inputs(act, target, backend_override)
        with self._lock:
            self._inputs[memo] = (act.model_copy(deep=True), inputs)  # a copy: callers may edit the act
        return inputs

    def _chain_before(self, act: Act, known: Callable[[Act], bool]) -> list[Act]:
        """The acts this one continues from, earliest first (each starting from the previous one's end),
        back to the first whose result is `known` already (it is included: its result is what we need)."""
        chain: list[Act] = []
        previous, _ = self._neighbours(act)
        while previous is not None and len(chain) < len(self._acts):
            chain.append(previous)
            if not previous.generation.start_from_previous or known(previous):
                break
            previous, _ = self._neighbours(previous)
        return chain[::-1]

    def _memoised(self, act: Act, target: RenderTarget) -> bool:
        with self._lock:
            found = self._inputs.get((act.id, target, None))
        return found is not None and found[0] == act

    def _compute_motion_inputs(
        self, act: Act, target: RenderTarget, backend_override: str | None
    ) -> dict[str, Any]:
        name = self.backend_name(act, target, backend_override)
        backend, reason = self.resolve_backend(name)
        generative = backend.name != BUILTIN_BACKEND
        envelope = self.reactivity(act)
        return {
            "keyframe": self._keyframe_inputs(act, target),
            "end_on": self._end_keyframe_inputs(act, target) if backend.uses_last_frame else None,
            "fit": act.fit,
            "prompt": [act.full_prompt(), act.negative_prompt] if backend.uses_prompt else None,
            "seed": act.effective_seed(),
            "motion": _motion_key(act.motion),
            "length": act.duration_frames,
            # A fallback is keyed apart from the model's own output, so it is replaced once the model works.
            "backend": [backend.name, backend.revision] + ([name, "unavailable"] if reason else []),
            "steps": act.generation.steps if generative else None,
            "guidance": act.generation.guidance if generative else None,
            "generation_fps": act.generation.generation_fps,
            # The built-in backend makes frames at the project rate unless told otherwise: then no conversion.
            "interpolation": act.generation.interpolation
            if generative or act.generation.generation_fps
            else None,
            "reactivity": None if envelope is None else hashlib.sha256(envelope.tobytes()).hexdigest(),
            "size": [target.width, target.height],
            "fps": str(target.fps),
        }

    def _own_keyframe_inputs(self, act: Act, target: RenderTarget) -> dict[str, Any]:
        """What the act's own first picture depends on (its references, or the generated keyframe)."""
        if act.references:
            refined = self._refine_model(act, target)
            return {
                "references": [self.media.sha256(ref) for ref in act.references],
                "refine": None
                if refined is None
                else [
                    refined.revision,
                    ADAPTER_REVISION,
                    act.generation.refine_strength,
                    act.generation.steps,
                    act.generation.guidance,
                    act.fit,
                    act.full_prompt(),
                    act.negative_prompt,
                    act.effective_seed(),
                    [target.width, target.height],
                ],
            }
        return {"generated": self._generated_keyframe_key(act, target)}

    def _keyframe_inputs(self, act: Act, target: RenderTarget) -> dict[str, Any]:
        previous, _ = self._neighbours(act)
        if act.generation.start_from_previous and previous is not None:
            # The previous act's last frame: its own motion key names it exactly.
            return {"after": cache_key("motion", self._motion_inputs(previous, target, None))}
        return self._own_keyframe_inputs(act, target)

    def _end_keyframe_inputs(self, act: Act, target: RenderTarget) -> dict[str, Any] | None:
        _, following = self._neighbours(act)
        if not act.generation.end_on_next or following is None:
            return None
        return self._own_keyframe_inputs(following, target)

    def _refine_model(self, act: Act, target: RenderTarget) -> ModelEntry | None:
        """The model that refines the act's keyframe for this target (final renders only), if usable."""
        name = act.generation.refine_model
        if target.draft or name is None or act.generation.refine_strength <= 0:
            return None
        try:
            return self.model(name)
        except StorybeatError:
            return None  # rendered unrefined; `_refined` records why

    def _slate_key(self, act: Act, target: RenderTarget) -> str:
        size = list(self._keyframe_size(target))
        return cache_key("slate", {"prompt": act.prompt, "seed": act.effective_seed(), "size": size})

    def _generated_keyframe_key(self, act: Act, target: RenderTarget) -> str:
        """The key of the act's generated keyframe; a slate's when no model makes it (one asked for but
        unusable here is part of the key, so the act's flag goes when the request does)."""
        name = act.generation.keyframe_model
        if name is None:
            return self._slate_key(act, target)
        try:
            model = self.model(name)
        except StorybeatError:
            return cache_key("slate", {"slate": self._slate_key(act, target), "unavailable": name})
        size = list(self._keyframe_size(target))
        return cache_key(
            "keyframe",
            {
                "prompt": act.full_prompt(),
                "seed": act.effective_seed(),
                "model": model.revision,
                "adapter": ADAPTER_REVISION,
                "negative_prompt": act.negative_prompt,
                "steps": act.generation.steps,
                "guidance": act.generation.guidance,
                "size": size,
            },
        )

    # -- stages ----------------------------------------------------------------------------------------

    def keyframes(
        self,
        act: Act,
        target: RenderTarget,
        notes: list[str] | None = None,
        cancel: CancelToken | None = None,
    ) -> list[np.ndarray]:
        """The act's pictures to animate: the previous act's last frame when it continues from it, else its
        references (refined for final renders when a refine model is set) or a generated keyframe."""
        previous, _ = self._neighbours(act)
        if not (act.generation.start_from_previous and previous is not None):
            return self._own_keyframes(act, target, notes)

        # Walk the chain from its start, so each act's last frame is computed once and the recursion stays
        # shallow however long the chain.
        def last_frame_known(earlier: Act) -> bool:
            memo = self._last_frame_memo(earlier, target)  # not under the lock: it takes it itself
            with self._lock:
                return memo in self._last_frames

        last: np.ndarray | None = None
        for earlier in self._chain_before(act, last_frame_known):
            memo = self._last_frame_memo(earlier, target)
            with self._lock:
                last = self._last_frames.get(memo)
            if last is None:
                motion = self._motion_clip(earlier, target, None, cancel, None, notes)
                last = motion.frame(earlier.duration_frames - 1)
                with self._lock:
                    self._last_frames[memo] = last
        assert last is not None
        return [last]

    def _last_frame_memo(self, act: Act, target: RenderTarget) -> tuple[str, RenderTarget]:
        return cache_key("motion", self._motion_inputs(act, target, None)), target

    def _own_keyframes(self, act: Act, target: RenderTarget, notes: list[str] | None) -> list[np.ndarray]:
        if not act.references:
            return [self._generated_keyframe(act, target, notes)]
        images = [load_image(self.media.path(ref)) for ref in act.references]
        return [self._refined(act, target, images[0], notes), *images[1:]]

    def _refined(
        self, act: Act, target: RenderTarget, image: np.ndarray, notes: list[str] | None
    ) -> np.ndarray:
        """`image` fitted and refined by the act's refine model for the final render (unchanged otherwise)."""
        name = act.generation.refine_model
        if target.draft or name is None or act.generation.refine_strength <= 0:
            return image
        try:
            model = self.model(name)
        except StorybeatError as error:
            _note(notes, f"keyframe not refined: {error}")
            return image
        key = cache_key("refined", self._own_keyframe_inputs(act, target))

        def write(folder: Path) -> None:
            from app.engine.backends.diffusion import refine_image

            fitted = fit_image(image, target.width, target.height, act.fit)
            refined = refine_image(
                model,
                fitted,
                prompt=act.full_prompt(),
                negative_prompt=act.negative_prompt,
                seed=act.effective_seed(),
                strength=act.generation.refine_strength,
                steps=act.generation.steps,
                guidance=act.generation.guidance,
            )
            _write_png(folder / "keyframe.png", refined)

        try:
            return _read_png(self.cache.get_or_create(key, write) / "keyframe.png")
        except Cancelled:
            raise
        except StorybeatError as error:
            _note(notes, f"keyframe not refined: {error}")
            return image

    def _keyframe_size(self, target: RenderTarget) -> tuple[int, int]:
        """Generated keyframes are made at the project size (drafts fit them down), so a draft shows the
        picture the final render will animate; the target's size before any project is set."""
        return self._size if all(self._size) else (target.width, target.height)

    def _generated_keyframe(self, act: Act, target: RenderTarget, notes: list[str] | None) -> np.ndarray:
        """A keyframe from the act's text-to-image model at the project size, or the placeholder slate."""
        width, height = self._keyframe_size(target)
        name = act.generation.keyframe_model
        if name is not None:
            try:
                return self._text_to_image(act, self.model(name), target)
            except Cancelled:
                raise
            except StorybeatError as error:
                _note(notes, f"placeholder keyframe: model {name!r}: {error}")

        def write(folder: Path) -> None:
            _write_png(
                folder / "slate.png", placeholder_slate(act.prompt, act.effective_seed(), width, height)
            )

        return _read_png(self.cache.get_or_create(self._slate_key(act, target), write) / "slate.png")

    def _text_to_image(self, act: Act, model: ModelEntry, target: RenderTarget) -> np.ndarray:
        width, height = self._keyframe_size(target)

        def write(folder: Path) -> None:
            from app.engine.backends.diffusion import text_to_image

            image = text_to_image(
                model,
                prompt=act.full_prompt(),
                negative_prompt=act.negative_prompt,
                seed=act.effective_seed(),
                width=width,
                height=height,
                steps=act.generation.steps,
                guidance=act.generation.guidance,
            )
            _write_png(folder / "keyframe.png", image)

        return _read_png(
            self.cache.get_or_create(self._generated_keyframe_key(act, target), write) / "keyframe.png"
        )

    def grader(self, act: Act) -> Grader:
        lut = None
        if act.grade.lut is not None:
            digest = self.media.sha256(act.grade.lut)
            with self._lock:
                lut = self._luts.get(digest)
            if lut is None:
                lut = load_cube_lut(self.media.path(act.grade.lut))
                with self._lock:
                    self._luts[digest] = lut
        return Grader(act.grade, lut)

    def clip(
        self,
        act: Act,
        target: RenderTarget,
        backend_override: str | None = None,
        cancel: CancelToken | None = None,
        progress: ProgressFn | None = None,
    ) -> Clip:
        """The act at `target`, graded: computed on demand (final) or through the draft proxy cache."""
        if target.draft:
            return self.draft_clip(act, target, backend_override, cancel, progress)
        notes: list[str] = []
        clip = self._graded(act, self._motion_clip(act, target, backend_override, cancel, progress, notes))
        if notes:
            key = self.act_key(act, target, backend_override)  # not under the lock: it takes it itself
            with self._lock:
                self._fallbacks[key] = "; ".join(notes)
        return clip

    def _graded(self, act: Act, clip: Clip) -> Clip:
        """The post stage: deflicker, colour grade, then finishing (painterly stylize, grain, vignette).

        Deflicker comes first: it evens out the motion's own brightness, before grain adds its noise."""
        if act.grade.deflicker > 0:
            clip = DeflickeredClip(clip, act.grade.deflicker)
        grader = self.grader(act)
        graded = clip if grader.is_identity else GradedClip(clip, grader)
        finisher = Finisher(act.grade, act.effective_seed())
        return graded if finisher.is_identity else FinishedClip(graded, finisher)

    def _motion_clip(
        self,
        act: Act,
        target: RenderTarget,
        backend_override: str | None,
        cancel: CancelToken | None,
        progress: ProgressFn | None,
        notes: list[str] | None,
    ) -> Clip:
        """The act's ungraded motion. A generative model's output is stored in the cache once (it is costly
        and continuity reads its last frame); the built-in backend's frames are computed on demand."""
        name = self.backend_name(act, target, backend_override)
        backend, reason = self.resolve_backend(name)
        if reason is not None:
            _note(notes, f"rendered with the built-in motion backend: {reason}")
        _, following = self._neighbours(act)
        end_on = (
            self._own_keyframes(following, target, notes)[0]
            if act.generation.end_on_next and following is not None
            else None
        )
        rate = act.generation.generation_fps
        notes = [] if notes is None else notes
        noted_before = len(notes)
        request = MotionRequest(
            keyframes=self.keyframes(act, target, notes, cancel),
            fit=act.fit,
            motion=act.motion,
            length=act.duration_frames,
            width=target.width,
            height=target.height,
            fps=target.fps,
            seed=act.effective_seed(),
            prompt=act.full_prompt(),
            negative_prompt=act.negative_prompt,
            reactivity=self.reactivity(act),
            last_keyframe=end_on,
            steps=act.generation.steps,
            guidance=act.generation.guidance,
            generation_fps=None if rate is None else Fraction(rate),
            interpolation=act.generation.interpolation,
        )
        if backend.name == BUILTIN_BACKEND:
            return backend.animate(request, cancel, progress)
        key = cache_key("motion", self._motion_inputs(act, target, backend_override))
        folder = self.cache.get(key)
        if folder is None:
            try:
                generated = backend.animate(request, cancel, progress)
            except Cancelled:
                raise
            except StorybeatError as error:
                # Out of memory at every rung, a broken model folder, a failing pipeline: keep the act
                # watchable and say why.
                _note(notes, f"{name!r} failed, rendered with the built-in motion backend: {error}")
                return get_backend(BUILTIN_BACKEND).animate(request, cancel, progress)
            if isinstance(generated, NotedClip):
                _note(notes, generated.note)
            if len(notes) > noted_before:
                # Made from a stand-in (an unrefined keyframe, a slate, a fallen-back previous act) or at a
                # lower resolution: kept apart, so the real thing is made once it can be.
                key = _fallback_key(key)
            quality = DRAFT_JPEG_QUALITY if target.draft else FINAL_JPEG_QUALITY
            folder = self.cache.put(key, partial(_store_act, act, generated, cancel, quality))
        return StoredClip(folder, act.duration_frames)

    def draft_clip(
        self,
        act: Act,
        target: RenderTarget,
        backend_override: str | None = None,
        cancel: CancelToken | None = None,
        progress: ProgressFn | None = None,
    ) -> StoredClip:
        """The act's draft proxy from the cache, rendered first when missing. A draft made by the fallback
        backend is stored under its own key and flagged (`fallback_reason`)."""
        key = self.act_key(act, target, backend_override)
        folder = self.cache.get(key)
        if folder is None and self.fallback_reason(key) is not None:
            folder = self.cache.get(_fallback_key(key))
        if folder is None:
            notes: list[str] = []
            source = self._graded(
                act, self._motion_clip(act, target, backend_override, cancel, progress, notes)
            )
            if notes:
                with self._lock:
                    self._fallbacks[key] = "; ".join(notes)

            store = partial(_store_act, act, source, cancel, DRAFT_JPEG_QUALITY)
            folder = self.cache.put(_fallback_key(key) if notes else key, store)
            with self._lock:
                self.renders += 1
        return StoredClip(folder, act.duration_frames)


def _store_act(act: Act, clip: Clip, cancel: CancelToken | None, quality: int, folder: Path) -> None:
    """Write the act's body and its handles (for transitions centred on its cuts) into `folder`."""
    write_frames(
        folder,
        clip,
        first=-DRAFT_HANDLE_FRAMES,
        count=act.duration_frames + 2 * DRAFT_HANDLE_FRAMES,
        on_frame=cancel.raise_if_cancelled if cancel else None,
        quality=quality,
    )


def _motion_key(motion: MotionSettings) -> dict[str, Any]:
    """The motion settings as a cache input. An act showing its whole move, without camera keys, keys as it
    did before the path window and the keys existed, so upgrading Storybeat keeps the renders already cached
    (finals take minutes each)."""
    unused = {"path_start", "path_end"} if motion.path_start == 0.0 and motion.path_end == 1.0 else set()
    if not motion.keyframes:
        unused.add("keyframes")
    return motion.model_dump(mode="json", exclude=unused or None)


def _fallback_key(key: str) -> str:
    return cache_key("fallback", {"act": key})


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None and text not in notes:
        notes.append(text)


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise RenderError(f"could not write {path}")


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise RenderError(f"cached image {path} is damaged; clear the cache folder")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
