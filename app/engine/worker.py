"""The draft worker: renders draft proxies, transition proxies, take previews, a template preview and
waveform peaks on one background QThread.

The GUI thread hands over frozen snapshots (`DraftService.set_project`, cheap: a copy and a notify); the
worker computes the content keys (hashing reference files) and renders what is missing, most urgent first:
the act under the playhead, then the template preview asked for (`DraftService.set_variant_preview`),
then acts in view, then the previews of the takes asked for (`DraftService.set_take_focus`), then the rest;
a transition once both its acts are ready.
While a job runs, every frame check takes in a newer snapshot, so a job whose act changed (a new key) or
vanished is cancelled within one frame and its result is never shown. Results go to `DraftPreview`
(thread-safe) and are announced through queued signals. This is the one engine module that imports Qt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from app.engine.audio.mix import AudioMixer
from app.engine.audio.peaks import WaveformPeaks, cached_peaks
from app.engine.cache import StageCache
from app.engine.cancel import CancelToken, ProgressFn
from app.engine.clip import StoredClip
from app.engine.pipeline import DRAFT_HANDLE_FRAMES, ActPipeline, RenderTarget
from app.engine.preview import (
    ActThumbnail,
    DraftLayout,
    DraftPreview,
    frozen_copy,
    make_thumbnail,
    render_transition_proxy,
    transition_key,
)
from app.engine.render import audio_mixer, decoded_pcm
from app.errors import Cancelled, StorybeatError
from app.model import Act, AudioClip, Project
from app.model.template import EmbeddedTemplate
from app.model.template_commands import ApplyTemplate

_log = logging.getLogger(__name__)

#: Smallest progress step (0..1) worth a status signal; finer steps would flood the GUI thread.
_PROGRESS_STEP = 0.02


class ActState(StrEnum):
    queued = "queued"
    rendering = "rendering"
    ready = "ready"
    failed = "failed"


@dataclass(frozen=True)
class ActStatus:
    state: ActState
    progress: float = 0.0  # 0..1 while rendering
    message: str = ""  # failure text
    # Why a ready draft was rendered by the built-in motion backend instead of the AI backend it asked for
    # ("" when it was not).
    fallback: str = ""


_QUEUED = ActStatus(ActState.queued)

#: A take preview: (act id, take id).
TakeRef = tuple[str, str]


@dataclass(frozen=True)
class _Snapshot:
    project: Project  # a frozen copy: nobody mutates it
    project_dir: Path
    revision: int


@dataclass(frozen=True)
class _Job:
    """One unit of work; `index` is the act index (act, take and variant jobs) or the cut index (transition
    jobs)."""

    kind: str  # "act" | "take" | "variant" | "transition" | "audio"
    snapshot: _Snapshot
    pipeline: ActPipeline
    index: int = 0
    key: str = ""
    take_id: str = ""  # take jobs: which take of the act
    variant: Act | None = None  # variant jobs: the act with the template applied


class _Checkpoint(CancelToken):
    """A job's cancel token whose per-frame checks also run `on_check` (progress, newer snapshots), and
    that hears a generative model's denoising steps (`steps`, a ProgressFn) for the progress bar."""

    def __init__(self, on_check: Callable[[], None], on_steps: ProgressFn) -> None:
        super().__init__()
        self._on_check = on_check
        self.steps = on_steps

    def raise_if_cancelled(self) -> None:
        self._on_check()
        super().raise_if_cancelled()


class _WorkerSignals(QObject):
    """Emitted from the worker thread; DraftService re-emits them on the GUI thread (queued)."""

    act_status = Signal(str)
    frames = Signal()
    audio = Signal()
    take_status = Signal(str, str)
    take_ready = Signal(str, str)
    variant_status = Signal()
    variant_ready = Signal()


class _DraftEngine:
    """The worker's state and loop. `run` executes on the worker thread; the other public methods are
    called from the GUI thread and only touch what `_cond` guards."""

    def __init__(self, cache: StageCache, preview: DraftPreview, signals: _WorkerSignals) -> None:
        self._cache = cache
        self._preview = preview
        self._signals = signals
        # Guarded by _cond (shared with the GUI thread).
        self._cond = threading.Condition()
        self._pending: _Snapshot | None = None
        self._focus: tuple[int, tuple[int, int]] = (0, (0, 0))
        self._stopping = False
        self._idle = False
        self._running: tuple[_Job, CancelToken] | None = None
        self._statuses: dict[str, ActStatus] = {}
        self._mixer: AudioMixer | None = None
        self._peaks: dict[str, WaveformPeaks] = {}
        self._take_focus: str | None = None  # the act whose takes are wanted
        self._take_focus_changed = False
        self._take_statuses: dict[TakeRef, ActStatus] = {}
        self._take_clips: dict[TakeRef, StoredClip] = {}
        self._variant_wanted: tuple[str, EmbeddedTemplate] | None = None  # (act id, template) to preview
        self._variant_changed = False
        self._variant_status = _QUEUED
        self._variant_clip: tuple[str, StoredClip] | None = None  # (key, preview) of the wanted variant
        # Worker thread only.
        self._pipeline: ActPipeline | None = None
        self._snapshot: _Snapshot | None = None
        self._starts: list[int] = []
        self._keys: dict[str, str] = {}  # act id -> key of the draft the latest snapshot wants
        self._ready: dict[str, tuple[str, StoredClip]] = {}  # act id -> (key, proxy) last published
        self._failed: dict[str, str] = {}  # act id -> key that failed (not retried until it changes)
        self._transition_keys: dict[int, str] = {}  # cut index -> wanted transition proxy key
        self._transitions_ready: dict[tuple[str, str], str] = {}  # (out id, in id) -> key last published
        self._transitions_failed: set[str] = set()  # transition keys not to retry
        self._audio_wanted: tuple[str, ...] = ()  # the latest snapshot's audio clips, as JSON
        self._audio_done: tuple[str, ...] = ()  # the audio clips that mixer and peaks describe
        self._peaks_by_hash: dict[str, WaveformPeaks] = {}
        self._take_act_index = 0  # index of the take focus act in the latest snapshot
        self._take_keys: dict[TakeRef, str] = {}  # the focused act's takes -> wanted preview keys
        self._takes_ready: dict[TakeRef, str] = {}  # take -> key of the preview last published
        self._takes_failed: dict[TakeRef, str] = {}  # take -> key that failed
        self._variant_act: tuple[int, Act] | None = None  # (act index, the act with the template applied)
        self._variant_key: str | None = None  # key of the wanted variant preview
        self._variant_failed: tuple[str, str] | None = None  # (key, message) of the preview that failed last

    # -- GUI thread ------------------------------------------------------------------------------------------

    def submit(self, snapshot: _Snapshot) -> None:
        with self._cond:
            self._pending = snapshot
            self._cond.notify_all()

    def set_focus(self, playhead: int, visible: tuple[int, int]) -> None:
        with self._cond:
            self._focus = (playhead, visible)

    def set_take_focus(self, act_id: str | None) -> None:
        with self._cond:
            if act_id != self._take_focus:
                self._take_focus = act_id
                self._take_focus_changed = True
                self._cond.notify_all()

    def set_variant_preview(self, act_id: str | None, embedded: EmbeddedTemplate | None) -> None:
        wanted = (act_id, embedded) if act_id is not None and embedded is not None else None
        with self._cond:
            if wanted != self._variant_wanted:
                self._variant_wanted = wanted
                self._variant_changed = True
                # The preview shown so far is another act's or another template's: never show it for this one.
                self._variant_clip = None
                self._variant_status = _QUEUED
                self._cond.notify_all()

    def variant(self) -> tuple[ActStatus, StoredClip | None]:
        with self._cond:
            return self._variant_status, self._variant_clip[1] if self._variant_clip else None

    def status(self, act_id: str) -> ActStatus:
        with self._cond:
            return self._statuses.get(act_id, _QUEUED)

    def take_status(self, take: TakeRef) -> ActStatus:
        with self._cond:
            return self._take_statuses.get(take, _QUEUED)

    def take_clip(self, take: TakeRef) -> StoredClip | None:
        with self._cond:
            return self._take_clips.get(take)

    def audio(self) -> tuple[AudioMixer | None, dict[str, WaveformPeaks]]:
        with self._cond:
            return self._mixer, self._peaks

    def wait_idle(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._idle and self._pending is None and not self._wishes_changed(), timeout_s
            )

    def _wishes_changed(self) -> bool:
        """Whether the GUI asked for other take or template previews since the worker last looked (call
        with `_cond` held)."""
        return self._take_focus_changed or self._variant_changed

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            if self._running is not None:
                self._running[1].cancel()
            self._cond.notify_all()

    # -- worker thread ---------------------------------------------------------------------------------------

    def run(self) -> None:
        """Take in snapshots and render the most urgent job until `stop()`."""
        while True:
            with self._cond:
                if self._stopping:
                    return
            job = None
            try:
                self._take_pending()
                job = self._next_job()
                if job is not None:
                    self._run(job)
            except Exception:
                # A bug, not bad input (jobs record their own failures): wait for the next change.
                _log.exception("draft worker: internal error; waiting for the next project change")
                job = None
            if job is None:
                with self._cond:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait_for(
                        lambda: self._stopping or self._pending is not None or self._wishes_changed()
                    )
                    self._idle = False

    def _take_pending(self) -> None:
        with self._cond:
            snapshot, self._pending = self._pending, None
            focus_changed, self._take_focus_changed = self._take_focus_changed, False
            variant_changed, self._variant_changed = self._variant_changed, False
        if snapshot is not None:
            self._evaluate(snapshot)
            return
        if focus_changed:
            self._evaluate_takes()
        if variant_changed:
            self._evaluate_variant()
        if focus_changed or variant_changed:
            self._cancel_if_stale()

    def _evaluate(self, snapshot: _Snapshot) -> None:
        """Compute the snapshot's keys, settle every act's status and cancel the running job if stale."""
        if self._pipeline is None or self._pipeline.media.project_dir != snapshot.project_dir:
            self._pipeline = ActPipeline(snapshot.project_dir, self._cache)
        self._pipeline.set_project(snapshot.project)
        acts = snapshot.project.acts
        target = RenderTarget.preview(snapshot.project)
        layout = DraftLayout.from_acts(acts)
        self._snapshot = snapshot
        self._starts = list(layout.starts)
        self._keys = {}
        errors: dict[str, str] = {}
        for act in acts:
            try:
                self._keys[act.id] = self._pipeline.act_key(act, target)
            except (StorybeatError, OSError) as error:  # a missing reference, an unknown backend
                errors[act.id] = _message(error)
        ids = {act.id for act in acts}
        self._ready = {i: ready for i, ready in self._ready.items() if i in ids}
        self._failed = {i: key for i, key in self._failed.items() if self._keys.get(i) == key}
        self._transition_keys = {
            k: transition_key(self._keys[a.id], self._keys[b.id], a.transition)
            for k, (a, b) in enumerate(pairwise(acts))
            if layout.windows[k][1] > layout.windows[k][0] and a.id in self._keys and b.id in self._keys
        }
        pairs = set(pairwise(layout.act_ids))
        self._transitions_ready = {p: key for p, key in self._transitions_ready.items() if p in pairs}
        # A mute changes only the tracks, not the clips: both decide what the playback mix holds.
        self._audio_wanted = (
            *(clip.model_dump_json() for clip in snapshot.project.audio),
            *(track.model_dump_json() for track in snapshot.project.audio_tracks),
        )
        self._evaluate_takes()
        self._evaluate_variant()
        with self._cond:
            running = self._running
            self._statuses = {i: s for i, s in self._statuses.items() if i in ids}
        self._cancel_if_stale()
        for act in acts:
            if act.id in errors:
                self._set_status(act.id, ActStatus(ActState.failed, message=errors[act.id]))
            elif not (running and running[0].kind == "act" and self._act_id(running[0]) == act.id):
                self._set_status(act.id, self._settled_status(act.id))

    def _evaluate_takes(self) -> None:
        """Compute the preview keys of the focused act's takes and settle their statuses."""
        with self._cond:
            focus, running = self._take_focus, self._running
        snapshot, pipeline = self._snapshot, self._pipeline
        self._take_keys = {}
        errors: dict[TakeRef, str] = {}
        acts = snapshot.project.acts if snapshot is not None else []
        index = next((i for i, act in enumerate(acts) if act.id == focus), None)
        if snapshot is not None and pipeline is not None and index is not None:
            self._take_act_index = index
            act = snapshot.project.acts[index]
            target = RenderTarget.preview(snapshot.project)
            for take in act.takes:
                try:
                    key = pipeline.act_key(_with_take(act, take.id), target, backend_override=take.backend)
                    self._take_keys[(act.id, take.id)] = key
                except (StorybeatError, OSError) as error:  # a missing reference, an unknown backend
                    errors[(act.id, take.id)] = _message(error)
        wanted = set(self._take_keys) | set(errors)
        # A take whose key changed keeps showing its old preview until the new one is ready.
        self._takes_ready = {t: key for t, key in self._takes_ready.items() if t in wanted}
        self._takes_failed = {
            t: key for t, key in self._takes_failed.items() if self._take_keys.get(t) == key
        }
        with self._cond:
            self._take_clips = {t: clip for t, clip in self._take_clips.items() if t in wanted}
            self._take_statuses = {t: status for t, status in self._take_statuses.items() if t in wanted}
        rendering = self._take_of(running[0]) if running is not None and running[0].kind == "take" else None
        for take_ref in wanted:
            if take_ref in errors:
                self._set_take_status(take_ref, ActStatus(ActState.failed, message=errors[take_ref]))
            elif take_ref != rendering:
                self._set_take_status(take_ref, self._settled_take_status(take_ref))

    def _evaluate_variant(self) -> None:
        """Build the wanted act with the wanted template applied, compute its key and settle its status."""
        with self._cond:
            wanted, running = self._variant_wanted, self._running
        snapshot, pipeline = self._snapshot, self._pipeline
        self._variant_act, self._variant_key = None, None
        acts = snapshot.project.acts if snapshot is not None else []
        index = next((i for i, act in enumerate(acts) if wanted is not None and act.id == wanted[0]), None)
        if wanted is None or index is None or snapshot is None or pipeline is None:
            return
        try:
            variant = _template_variant(snapshot.project, index, wanted[1])
            key = pipeline.act_key(variant, RenderTarget.preview(snapshot.project))
        except (StorybeatError, OSError) as error:  # a template value the act refuses, a missing file
            self._set_variant_status(ActStatus(ActState.failed, message=_message(error)))
            return
        self._variant_act, self._variant_key = (index, variant), key
        if not (running is not None and running[0].kind == "variant" and running[0].key == key):
            self._set_variant_status(self._settled_variant_status())

    def _variant_settled(self) -> bool:
        """Whether the wanted variant's preview is published or has failed (nothing left to render)."""
        with self._cond:
            published = self._variant_clip[0] if self._variant_clip else None
        return self._variant_key in (published, self._variant_failed[0] if self._variant_failed else None)

    def _settled_variant_status(self) -> ActStatus:
        key = self._variant_key
        if key is not None and self._variant_failed is not None and self._variant_failed[0] == key:
            return ActStatus(ActState.failed, message=self._variant_failed[1])
        if key is not None and self._variant_settled():
            return ActStatus(ActState.ready, 1.0, fallback=self._fallback(key))
        return _QUEUED

    def _settled_status(self, act_id: str) -> ActStatus:
        key = self._keys[act_id]
        if self._ready.get(act_id, ("", None))[0] == key:
            return ActStatus(ActState.ready, 1.0, fallback=self._fallback(key))
        if self._failed.get(act_id) == key:
            return self.status(act_id)
        return _QUEUED

    def _settled_take_status(self, take: TakeRef) -> ActStatus:
        key = self._take_keys[take]
        if self._takes_ready.get(take) == key:
            return ActStatus(ActState.ready, 1.0, fallback=self._fallback(key))
        if self._takes_failed.get(take) == key:
            return self.take_status(take)
        return _QUEUED

    def _fallback(self, key: str) -> str:
        assert self._pipeline is not None  # keys exist only once a pipeline does
        return self._pipeline.fallback_reason(key) or ""

    def _cancel_if_stale(self) -> None:
        with self._cond:
            running = self._running
        if running is not None and self._is_stale(running[0]):
            running[1].cancel()

    def _is_stale(self, job: _Job) -> bool:
        if job.kind == "act":
            return self._keys.get(self._act_id(job)) != job.key
        if job.kind == "take":
            return self._take_keys.get(self._take_of(job)) != job.key
        if job.kind == "variant":
            return self._variant_key != job.key
        if job.kind == "transition":
            return job.key not in self._transition_keys.values()
        return False  # audio decoding cannot be interrupted; a newer snapshot queues another pass

    def _act_id(self, job: _Job) -> str:
        return job.snapshot.project.acts[job.index].id

    def _take_of(self, job: _Job) -> TakeRef:
        return (self._act_id(job), job.take_id)

    def _next_job(self) -> _Job | None:
        """The most urgent missing piece of the latest snapshot, or None when everything is done.

        A scan instead of a heap: focus and readiness change between picks, and a scan over even a
        thousand acts costs far less than the job it picks.
        """
        snapshot, pipeline = self._snapshot, self._pipeline
        if snapshot is None or pipeline is None:
            return None
        with self._cond:
            playhead, (view_start, view_end) = self._focus
        acts = snapshot.project.acts
        ranks: list[tuple[int, int, int]] = []  # (band, kind order, distance from the playhead) per act
        for act, start in zip(acts, self._starts, strict=True):
            end = start + act.duration_frames
            band = 0 if start <= playhead < end else 1 if start < view_end and end > view_start else 2
            distance = 0 if start <= playhead < end else min(abs(start - playhead), abs(end - 1 - playhead))
            ranks.append((band, 0, distance))
        candidates: list[tuple[tuple[int, int, int], _Job]] = []
        for index, act in enumerate(acts):
            key = self._keys.get(act.id)
            if key is not None and not self._is_ready(act.id) and self._failed.get(act.id) != key:
                candidates.append((ranks[index], _Job("act", snapshot, pipeline, index, key)))
        for cut, key in self._transition_keys.items():
            pair = (acts[cut].id, acts[cut + 1].id)
            if (
                self._transitions_ready.get(pair) != key
                and key not in self._transitions_failed
                and self._is_ready(pair[0])
                and self._is_ready(pair[1])
            ):
                rank = min(ranks[cut], ranks[cut + 1])
                candidates.append(((rank[0], 1, rank[2]), _Job("transition", snapshot, pipeline, cut, key)))
        for order, (take, key) in enumerate(self._take_keys.items()):
            if self._takes_ready.get(take) != key and self._takes_failed.get(take) != key:
                job = _Job("take", snapshot, pipeline, self._take_act_index, key, take[1])
                candidates.append(((1, 3, order), job))  # after the acts in view, before the rest
        if self._variant_act is not None and self._variant_key is not None and not self._variant_settled():
            index, variant = self._variant_act
            job = _Job("variant", snapshot, pipeline, index, self._variant_key, variant=variant)
            candidates.append(((0, 3, 0), job))  # after the act under the playhead, before the acts in view
        if self._audio_wanted != self._audio_done:
            candidates.append(((0, 2, 0), _Job("audio", snapshot, pipeline)))
        return min(candidates, key=lambda candidate: candidate[0])[1] if candidates else None

    def _is_ready(self, act_id: str) -> bool:
        return act_id in self._keys and self._ready.get(act_id, ("", None))[0] == self._keys[act_id]

    def _run(self, job: _Job) -> None:
        if job.kind == "audio":
            self._run_audio(job)
            return
        progress = _ProgressCounter()
        token = _Checkpoint(
            lambda: self._on_frame(job, progress),
            lambda done, total: self._show_progress(job, progress.generated(done, total)),
        )
        with self._cond:
            self._running = (job, token)
            if self._stopping:
                token.cancel()
        try:
            if job.kind == "act":
                self._run_act(job, token)
            elif job.kind == "take":
                self._run_take(job, token)
            elif job.kind == "variant":
                self._run_variant(job, token)
            else:
                self._run_transition(job, token)
        finally:
            with self._cond:
                self._running = None

    def _on_frame(self, job: _Job, progress: _ProgressCounter) -> None:
        """Per-frame check of a running job: report progress, take in a newer snapshot (may cancel us)."""
        if job.kind in ("act", "take", "variant"):
            act = job.snapshot.project.acts[job.index]
            self._show_progress(job, progress.step(act.duration_frames + 2 * DRAFT_HANDLE_FRAMES))
        self._take_pending()

    def _show_progress(self, job: _Job, value: float | None) -> None:
        if value is None:
            return
        status = ActStatus(ActState.rendering, value)
        if job.kind == "act":
            self._set_status(job.snapshot.project.acts[job.index].id, status)
        elif job.kind == "variant":
            self._set_variant_status(status)
        else:
            self._set_take_status(self._take_of(job), status)

    def _run_act(self, job: _Job, token: _Checkpoint) -> None:
        act = job.snapshot.project.acts[job.index]
        self._set_status(act.id, ActStatus(ActState.rendering, 0.0))
        target = RenderTarget.preview(job.snapshot.project)
        try:
            clip = job.pipeline.draft_clip(act, target, cancel=token, progress=token.steps)
            thumbnail = make_thumbnail(clip)
        except Cancelled:
            clip = None
        except Exception as error:  # any backend failure becomes the act's status; the worker goes on
            if not isinstance(error, StorybeatError):
                _log.exception("draft of act %r failed", act.name)
            self._take_pending()
            if self._keys.get(act.id) == job.key:
                self._failed[act.id] = job.key
                self._set_status(act.id, ActStatus(ActState.failed, message=_message(error)))
            return
        # A snapshot that arrived after the last frame check still decides whether the result is current.
        self._take_pending()
        if clip is not None and self._keys.get(act.id) == job.key:
            self._ready[act.id] = (job.key, clip)
            self._preview.publish_act(act.id, clip, thumbnail, job.key)
            self._signals.frames.emit()
        if act.id in self._keys:
            self._set_status(act.id, self._settled_status(act.id))

    def _run_take(self, job: _Job, token: _Checkpoint) -> None:
        """The act's draft with the take selected, rendered by the take's backend."""
        act = job.snapshot.project.acts[job.index]
        take_ref = self._take_of(job)
        backend = next(take.backend for take in act.takes if take.id == job.take_id)
        self._set_take_status(take_ref, ActStatus(ActState.rendering, 0.0))
        target = RenderTarget.preview(job.snapshot.project)
        try:
            clip = job.pipeline.draft_clip(
                _with_take(act, job.take_id), target, backend, cancel=token, progress=token.steps
            )
        except Cancelled:
            clip = None
        except Exception as error:
            if not isinstance(error, StorybeatError):
                _log.exception("take preview of act %r failed", act.name)
            self._take_pending()
            if self._take_keys.get(take_ref) == job.key:
                self._takes_failed[take_ref] = job.key
                self._set_take_status(take_ref, ActStatus(ActState.failed, message=_message(error)))
            return
        self._take_pending()
        if clip is not None and self._take_keys.get(take_ref) == job.key:
            self._takes_ready[take_ref] = job.key
            with self._cond:
                self._take_clips[take_ref] = clip
            self._signals.take_ready.emit(*take_ref)
        if take_ref in self._take_keys:
            self._set_take_status(take_ref, self._settled_take_status(take_ref))

    def _run_variant(self, job: _Job, token: _Checkpoint) -> None:
        """The act's draft with a template applied (the template browser's preview)."""
        assert job.variant is not None  # variant jobs always carry their act
        self._set_variant_status(ActStatus(ActState.rendering, 0.0))
        target = RenderTarget.preview(job.snapshot.project)
        try:
            clip = job.pipeline.draft_clip(job.variant, target, cancel=token, progress=token.steps)
        except Cancelled:
            clip = None
        except Exception as error:
            if not isinstance(error, StorybeatError):
                _log.exception("template preview of act %r failed", job.variant.name)
            self._take_pending()
            if self._variant_key == job.key:
                self._variant_failed = (job.key, _message(error))
                self._set_variant_status(self._settled_variant_status())
            return
        self._take_pending()
        published = False
        if clip is not None and self._variant_key == job.key:
            with self._cond:
                # A newer wish that the worker has not looked at yet makes this preview stale already.
                if not self._variant_changed:
                    self._variant_clip, published = (job.key, clip), True
        if self._variant_key is not None:
            self._set_variant_status(self._settled_variant_status())
        if published:  # after the status: whoever hears of the new preview finds it ready
            self._signals.variant_ready.emit()

    def _run_transition(self, job: _Job, token: CancelToken) -> None:
        outgoing, incoming = job.snapshot.project.acts[job.index : job.index + 2]
        clips = (self._ready[outgoing.id][1], self._ready[incoming.id][1])
        try:
            clip = render_transition_proxy(self._cache, job.key, (outgoing, incoming), clips, token)
        except Cancelled:
            return
        except Exception:
            # The acts themselves still show on either side of the cut; do not retry this key.
            _log.exception("transition after act %r failed", outgoing.name)
            self._transitions_failed.add(job.key)
            return
        self._take_pending()
        if job.key in self._transition_keys.values():
            self._transitions_ready[(outgoing.id, incoming.id)] = job.key
            self._preview.publish_transition(outgoing.id, incoming.id, outgoing.transition, clip.length, clip)
            self._signals.frames.emit()

    def _run_audio(self, job: _Job) -> None:
        wanted = self._audio_wanted
        mixer: AudioMixer | None = None
        peaks: dict[str, WaveformPeaks] = {}
        try:
            mixer = audio_mixer(job.snapshot.project, job.pipeline)
            for clip in job.snapshot.project.audio:
                peaks[clip.id] = self._clip_peaks(clip, job.pipeline)
        except (StorybeatError, OSError) as error:
            _log.warning("audio unavailable: %s", _message(error))
        except Exception:
            _log.exception("audio decoding failed")
        self._audio_done = wanted
        with self._cond:
            self._mixer, self._peaks = mixer, peaks
        self._signals.audio.emit()

    def _clip_peaks(self, clip: AudioClip, pipeline: ActPipeline) -> WaveformPeaks:
        digest = pipeline.media.sha256(clip.media)
        if digest not in self._peaks_by_hash:
            self._peaks_by_hash[digest] = cached_peaks(decoded_pcm(clip, pipeline), self._cache, digest)
        return self._peaks_by_hash[digest]

    def _set_status(self, act_id: str, status: ActStatus) -> None:
        with self._cond:
            changed = self._statuses.get(act_id) != status
            self._statuses[act_id] = status
        if changed:
            self._signals.act_status.emit(act_id)

    def _set_variant_status(self, status: ActStatus) -> None:
        with self._cond:
            # With a newer wish pending, its evaluation decides the status: this one may be the old preview's.
            if self._variant_changed or self._variant_status == status:
                return
            self._variant_status = status
        self._signals.variant_status.emit()

    def _set_take_status(self, take: TakeRef, status: ActStatus) -> None:
        with self._cond:
            changed = self._take_statuses.get(take) != status
            self._take_statuses[take] = status
        if changed:
            self._signals.take_status.emit(*take)


def _with_take(act: Act, take_id: str) -> Act:
    """The act as it renders with `take_id` selected (its seed is the take's)."""
    return act.model_copy(update={"selected_take": take_id})


def _template_variant(project: Project, index: int, embedded: EmbeddedTemplate) -> Act:
    """Act `index` of `project` as applying `embedded` would leave it: ApplyTemplate itself runs on a copy of
    the act in a scratch project, so the preview can never differ from the edit it previews.

    The scratch project holds the act's own template version (ApplyTemplate keeps the fields the user changed
    from it), and a version the project holds already is applied as that copy: the library's names its
    files elsewhere, which ApplyTemplate would refuse as a changed template."""
    act = project.acts[index]
    linked = project.embedded_template(act.template.id, act.template.version) if act.template else None
    scratch = Project(
        settings=project.settings,
        acts=[act.model_copy(deep=True)],
        templates=[linked] if linked is not None else [],
    )
    ApplyTemplate([act.id], project.embedded_template(*embedded.key) or embedded).apply(scratch)
    return scratch.acts[0]


class _ProgressCounter:
    """Turns frame checks (and a generative model's denoising steps) into a fraction done, and says when it
    moved enough to be worth reporting. With a model, its steps are most of the work: they fill the first
    `_GENERATION_SHARE` of the bar and storing the frames the rest."""

    _GENERATION_SHARE = 0.8

    def __init__(self) -> None:
        self._done = 0
        self._generation: float | None = None  # fraction of denoising steps done, once a model reports
        self._checks_while_generating = 0  # a model checks the cancel token per step: those are no frames
        self._reported = 0.0

    def step(self, total: int) -> float | None:
        self._done += 1
        if self._generation is None:
            return self._report(self._done / max(total, 1))
        frames = min(1.0, (self._done - self._checks_while_generating) / max(total, 1))
        share = self._GENERATION_SHARE
        return self._report(share * self._generation + (1 - share) * frames)

    def generated(self, done: int, total: int) -> float | None:
        self._generation = done / max(total, 1)
        self._checks_while_generating = self._done
        return self._report(self._GENERATION_SHARE * self._generation)

    def _report(self, value: float) -> float | None:
        # A backend may check more often than once per stored frame: never claim to be finished early.
        value = min(0.99, value)
        if value - self._reported < _PROGRESS_STEP:
            return None
        self._reported = value
        return value


def _message(error: BaseException) -> str:
    """One line for the user: the error's own text, or the file and reason for OS errors."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or 'cannot be read'}"
    return str(error) or type(error).__name__


class _DraftThread(QThread):
    def __init__(self, engine: _DraftEngine) -> None:
        super().__init__()
        self._engine = engine
        self.setObjectName("storybeat-drafts")

    def run(self) -> None:
        self._engine.run()


class DraftService(QObject):
    """Draft proxies, preview frames and audio for the editor, computed on one background thread.

    Call `shutdown()` before the application exits (it is also connected to `aboutToQuit`).
    """

    act_status_changed = Signal(str)  # act id; read .status(act_id)
    frames_changed = Signal()  # new draft frames exist (viewer/timeline repaint)
    audio_ready = Signal()  # audio decoded: .mixer() and .peaks(clip_id) now return data
    take_status_changed = Signal(str, str)  # act id, take id; read .take_status(act_id, take_id)
    take_ready = Signal(str, str)  # act id, take id: a new preview of the take, read .take_clip(...)
    variant_status_changed = Signal()  # read .variant_status()
    variant_ready = Signal()  # a new template preview: read .variant_clip()

    def __init__(self, cache: StageCache | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._preview = DraftPreview()
        self._signals = _WorkerSignals()
        queued = Qt.ConnectionType.QueuedConnection
        self._signals.act_status.connect(self.act_status_changed, queued)
        self._signals.frames.connect(self.frames_changed, queued)
        self._signals.audio.connect(self.audio_ready, queued)
        self._signals.take_status.connect(self.take_status_changed, queued)
        self._signals.take_ready.connect(self.take_ready, queued)
        self._signals.variant_status.connect(self.variant_status_changed, queued)
        self._signals.variant_ready.connect(self.variant_ready, queued)
        self.cache = cache or StageCache()  # shared with the editor's other background jobs
        self._engine = _DraftEngine(self.cache, self._preview, self._signals)
        self._thread: _DraftThread | None = _DraftThread(self._engine)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._thread.start(QThread.Priority.LowPriority)

    def set_project(self, project: Project, project_dir: Path, revision: int) -> None:
        """Show and render this state of the document (GUI thread; a copy and a notify, no file access).

        `project_dir` is the folder media paths are relative to; `revision` tags the snapshot.
        """
        snapshot = _Snapshot(frozen_copy(project), project_dir, revision)
        self._preview.set_layout(DraftLayout.from_acts(snapshot.project.acts))
        self._engine.submit(snapshot)

    def set_focus(self, playhead: int, visible: tuple[int, int]) -> None:
        """Render first the act under `playhead`, then acts meeting `visible` = [start, end) frames."""
        self._engine.set_focus(playhead, visible)

    def set_take_focus(self, act_id: str | None) -> None:
        """Render previews of this act's takes (after the acts in view, before the rest); None: no takes.

        A take's preview is the act's draft with the take selected, rendered by the take's backend.
        """
        self._engine.set_take_focus(act_id)

    def set_variant_preview(self, act_id: str | None, embedded: EmbeddedTemplate | None) -> None:
        """Preview act `act_id` of the latest project as it looks with `embedded` applied (ApplyTemplate on
        a copy), rendered after the act under the playhead and before the acts in view; None: no preview.

        A different request drops the preview shown so far and cancels its render; the preview follows
        later edits of the act by itself. The template's files may lie outside the project folder (absolute
        MediaRefs): nothing is copied to preview it.
        """
        self._engine.set_variant_preview(act_id, embedded)

    def variant_status(self) -> ActStatus:
        """The template preview's state: queued / rendering (with progress) / ready / failed (why)."""
        return self._engine.variant()[0]

    def variant_clip(self) -> StoredClip | None:
        """The latest template preview (body frames 0..length-1) of the act asked for, or None yet."""
        return self._engine.variant()[1]

    def status(self, act_id: str) -> ActStatus:
        return self._engine.status(act_id)

    def take_status(self, act_id: str, take_id: str) -> ActStatus:
        """Queued / rendering (with progress) / ready (with any fallback reason) / failed (with message)."""
        return self._engine.take_status((act_id, take_id))

    def take_clip(self, act_id: str, take_id: str) -> StoredClip | None:
        """The latest preview of a take of the take-focus act (body frames 0..length-1), or None yet."""
        return self._engine.take_clip((act_id, take_id))

    def frame(self, timeline_frame: int) -> np.ndarray | None:
        """RGB uint8 draft frame at `timeline_frame` (see DraftPreview.frame); None when none exists."""
        return self._preview.frame(timeline_frame)

    def thumbnail(self, act_id: str) -> np.ndarray | None:
        """Small RGB picture of the act's latest draft (96 pixels wide), or None."""
        return self._preview.thumbnail(act_id)

    def act_thumbnail(self, act_id: str) -> ActThumbnail | None:
        """The act's latest thumbnail and the content key of the draft it shows (a draft of an earlier state
        of the act until `status(act_id)` is ready), or None yet."""
        return self._preview.act_thumbnail(act_id)

    def mixer(self) -> AudioMixer | None:
        return self._engine.audio()[0]

    def peaks(self, clip_id: str) -> WaveformPeaks | None:
        """Waveform of the audio clip's whole source file (seconds from the source's start)."""
        return self._engine.audio()[1].get(clip_id)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the latest snapshot is fully rendered; False on timeout. With a timeout of 0 it never
        blocks: the GUI thread uses that to ask whether the drafts are settled."""
        return self._engine.wait_idle(timeout_s)

    def shutdown(self) -> None:
        """Cancel the running job and join the worker thread; safe to call more than once."""
        if self._thread is None:
            return
        self._engine.stop()
        self._thread.wait()
        self._thread = None

    def act_draft(self, act_id: str) -> StoredClip | None:
        """The act's latest published draft proxy (body frames 0..length-1, draft size), or None yet.

        Read-only, any thread. It shows the latest project only while `status(act_id)` is ready: an edited
        act keeps its previous proxy until the new one is published.
        """
        return self._preview.act_clip(act_id)
