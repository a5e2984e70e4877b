"""The stages of one act: keyframe → motion → temporal → post, each keyed by content for the cache.

`ActPipeline.clip()` gives a random-access clip of an act at a render target. Full-quality clips from the
built-in backend are computed on demand frame by frame (cheaper than storing them); draft proxies are
rendered once into the stage cache as JPEG frames and read back on every later request, so scrubbing,
re-rendering after an edit to another act, reordering and undo all cost nothing.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.engine.audio.reactivity import act_envelope
from app.engine.backends import MotionRequest, get_backend
from app.engine.cache import StageCache, cache_key
from app.engine.cancel import CancelToken
from app.engine.clip import Clip, GradedClip, StoredClip, write_frames
from app.engine.grade import Grader, load_cube_lut
from app.engine.keyframe import load_image, placeholder_slate
from app.engine.media import MediaResolver
from app.errors import RenderError
from app.model import Act, AudioClip, Project

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

    def set_project(self, project: Project) -> None:
        """Where each act sits and which music drives audio-reactive motion (the beat grid's source clip,
        else the first audio clip). Call before asking for keys or clips of this project's acts."""
        self._starts = dict(zip((act.id for act in project.acts), project.act_starts(), strict=True))
        source = project.beats.source
        matching = [clip for clip in project.audio if source is not None and clip.media.path == source.path]
        candidates = matching or project.audio
        self._music = candidates[0] if candidates else None
        self._fps = project.settings.fps

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
        backend = get_backend(self.backend_name(act, target, backend_override))
        envelope = self.reactivity(act)
        inputs = {
            "references": [self.media.sha256(ref) for ref in act.references],
            "fit": act.fit,
            "prompt": act.prompt,
            "negative_prompt": act.negative_prompt,
            "seed": act.effective_seed(),
            "motion": act.motion.model_dump(mode="json"),
            "grade": act.grade.model_dump(mode="json", exclude={"lut"}),
            "lut": self.media.sha256(act.grade.lut) if act.grade.lut else None,
            "length": act.duration_frames,
            "backend": [backend.name, backend.revision],
            "reactivity": None if envelope is None else hashlib.sha256(envelope.tobytes()).hexdigest(),
            "size": [target.width, target.height],
            "fps": str(target.fps),
        }
        return cache_key("act", inputs)

    # -- stages ----------------------------------------------------------------------------------------

    def keyframes(self, act: Act, target: RenderTarget) -> list[np.ndarray]:
        """The act's reference images, or a cached placeholder slate when it has none."""
        if act.references:
            return [load_image(self.media.path(ref)) for ref in act.references]
        key = cache_key(
            "slate",
            {"prompt": act.prompt, "seed": act.effective_seed(), "size": [target.width, target.height]},
        )

        def write(folder: Path) -> None:
            slate = placeholder_slate(act.prompt, act.effective_seed(), target.width, target.height)
            cv2.imwrite(str(folder / "slate.png"), cv2.cvtColor(slate, cv2.COLOR_RGB2BGR))

        folder = self.cache.get_or_create(key, write)
        image = cv2.imread(str(folder / "slate.png"), cv2.IMREAD_COLOR)
        if image is None:
            raise RenderError(f"cached slate {folder} is damaged; clear the cache folder")
        return [cv2.cvtColor(image, cv2.COLOR_BGR2RGB)]

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
    ) -> Clip:
        """The act at `target`, graded: computed on demand (final) or through the draft proxy cache."""
        if target.draft:
            return self.draft_clip(act, target, backend_override, cancel)
        return self._compute_clip(act, target, backend_override, cancel)

    def _compute_clip(
        self, act: Act, target: RenderTarget, backend_override: str | None, cancel: CancelToken | None
    ) -> Clip:
        backend = get_backend(self.backend_name(act, target, backend_override))
        request = MotionRequest(
            keyframes=self.keyframes(act, target),
            fit=act.fit,
            motion=act.motion,
            length=act.duration_frames,
            width=target.width,
            height=target.height,
            fps=target.fps,
            seed=act.effective_seed(),
            prompt=act.prompt,
            negative_prompt=act.negative_prompt,
            reactivity=self.reactivity(act),
        )
        clip = backend.animate(request, cancel)
        grader = self.grader(act)
        return clip if grader.is_identity else GradedClip(clip, grader)

    def draft_clip(
        self,
        act: Act,
        target: RenderTarget,
        backend_override: str | None = None,
        cancel: CancelToken | None = None,
    ) -> StoredClip:
        key = self.act_key(act, target, backend_override)
        folder = self.cache.get(key)
        if folder is None:
            source = self._compute_clip(act, target, backend_override, cancel)

            def write(out: Path) -> None:
                write_frames(
                    out,
                    source,
                    first=-DRAFT_HANDLE_FRAMES,
                    count=act.duration_frames + 2 * DRAFT_HANDLE_FRAMES,
                    on_frame=cancel.raise_if_cancelled if cancel else None,
                )

            folder = self.cache.put(key, write)
            with self._lock:
                self.renders += 1
        return StoredClip(folder, act.duration_frames)
