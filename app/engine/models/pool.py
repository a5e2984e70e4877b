"""Loaded diffusers pipelines, kept between jobs so that only a model's first generation pays for loading.

Models are large, so one generation runs at a time (`acquire` holds the pool's lock) and a model that would
not fit beside the others makes the least recently used ones unload first. An image-to-image pipeline of a
text-to-image model is derived from the loaded one with `from_pipe`: both share one set of weights, and
one placement (memory policy) that follows whichever of them was last acquired.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.engine.cancel import CancelToken
from app.engine.models.catalog import pipeline_spec
from app.engine.models.loader import dtype_keyword, import_diffusers, load_pipeline
from app.engine.models.memory import (
    DevicePlan,
    MemoryPolicy,
    apply_policy,
    choose_device,
    release_cached_memory,
    remove_hooks,
    run_with_memory_ladder,
    safety_margin,
    starting_policy,
    weights_bytes,
)
from app.errors import InputError

if TYPE_CHECKING:
    import torch

    from app.engine.models.registry import ModelEntry

#: How often a wait for the pool checks its cancel token (seconds).
_WAIT_STEP_S = 0.1

#: Loads `class_name` from the entry's folder: (entry, class_name, device, dtype) -> pipeline.
Loader = Callable[["ModelEntry", str, str, "torch.dtype"], Any]
#: Makes a `class_name` pipeline that shares the components of a loaded one: (base, class_name, dtype).
Derive = Callable[[Any, str, "torch.dtype"], Any]


def derive_pipeline(base: Any, class_name: str, dtype: torch.dtype) -> Any:
    """A `class_name` pipeline built on `base`'s components with diffusers' `from_pipe` (no extra weights)."""
    pipeline_spec(class_name)  # only allow-listed classes are ever instantiated
    pipeline_class = getattr(import_diffusers(), class_name)
    # from_pipe casts the components to float32 unless given the dtype, which would change `base` too.
    derived = pipeline_class.from_pipe(base, **{dtype_keyword(): dtype})
    derived.set_progress_bar_config(disable=True)  # progress goes through the step callback, not tqdm
    return derived


@dataclass
class _Resident:
    """One model's weights in memory: its own pipeline and those derived from it."""

    revision: str
    weights: int  # bytes, as `weights_bytes` estimates them
    pipes: dict[str, Any]  # class name -> pipeline; all share the same components
    policy: MemoryPolicy
    placed: str | None  # the class whose pipeline the components are placed for; None: not placed yet


@dataclass
class LoadedModel:
    """A pipeline ready to run under `policy` on `plan`'s device; valid only inside `ModelPool.acquire`."""

    pipe: Any
    policy: MemoryPolicy
    plan: DevicePlan
    class_name: str
    _resident: _Resident = field(repr=False, compare=False)

    def set_policy(self, policy: MemoryPolicy) -> None:
        """Re-place the pipeline for `policy` (after an out-of-memory error); later jobs start from it —
        except the lower-resolution rung, which changes the pictures: each job has to earn that one."""
        if policy == self.policy:
            return
        self._resident.placed = None  # until placed again: a failed placement leaves it half moved
        apply_policy(self.pipe, policy, self.plan)
        self.policy = policy
        self._resident.policy = min(policy, MemoryPolicy.sequential_offload)
        self._resident.placed = self.class_name


class ModelPool:
    """Pipelines kept loaded between jobs, one generation at a time, evicted least recently used first.

    `plan` defaults to `choose_device()`, chosen on first use (creating a pool imports no torch); the memory
    budget in bytes to the device's total memory less a safety margin (no budget where that is unknown).
    """

    def __init__(
        self,
        loader: Loader = load_pipeline,
        plan: DevicePlan | None = None,
        budget_bytes: int | None = None,
        derive: Derive = derive_pipeline,
    ) -> None:
        self._loader = loader
        self._plan = plan
        self._budget_bytes = budget_bytes
        self._derive = derive
        # Not re-entrant on purpose: a second acquire inside the first could unload the model in use.
        self._lock = threading.Lock()
        self._residents: OrderedDict[str, _Resident] = OrderedDict()  # by entry name, least recent first

    @property
    def plan(self) -> DevicePlan:
        if self._plan is None:
            self._plan = choose_device()
        return self._plan

    @contextmanager
    def acquire(
        self, entry: ModelEntry, class_name: str, cancel: CancelToken | None = None
    ) -> Iterator[LoadedModel]:
        """Hold the pool and get `entry` loaded as `class_name` (its own class or its spec's img2img_class).

        Waits while another thread holds the pool (checking `cancel`: a cancelled export must not wait for a
        draft's generation to end). The model stays loaded after the block; a policy the caller raises with
        `set_policy` is kept for the next job. InputError if the model cannot run as `class_name`.
        """
        while not self._lock.acquire(timeout=_WAIT_STEP_S):
            if cancel is not None:
                cancel.raise_if_cancelled()
        try:
            model = self._checkout(entry, class_name)
            try:
                yield model
            except BaseException:
                # An interrupted call (cancel, error) skips the pipeline's own maybe_free_model_hooks, which
                # leaves the last component on the device and the offload hooks out of step: reset them.
                free_hooks = getattr(model.pipe, "maybe_free_model_hooks", None)
                if free_hooks is not None:
                    free_hooks()
                raise
        finally:
            self._lock.release()

    def unload(self, name: str) -> None:
        """Free the model called `name` (and the pipelines derived from it); a no-op if it is not loaded."""
        with self._lock:
            if self._residents.pop(name, None) is not None:
                release_cached_memory()

    def unload_all(self) -> None:
        """Free every model (on shutdown); waits for a running generation to finish."""
        with self._lock:
            self._residents.clear()
            release_cached_memory()

    def _checkout(self, entry: ModelEntry, class_name: str) -> LoadedModel:
        if class_name not in (entry.pipeline, entry.spec().img2img_class):
            raise InputError(f"model {entry.name!r} is a {entry.pipeline}; it cannot run as {class_name}")
        resident = self._residents.get(entry.name)
        if resident is not None and resident.revision != entry.revision:
            del self._residents[entry.name]  # its folder changed on disk: the weights in memory are stale
            release_cached_memory()
            resident = None
        if resident is None:
            resident = self._load(entry)
        self._residents.move_to_end(entry.name)
        pipe = resident.pipes.get(class_name)
        if pipe is None:
            base = resident.pipes[entry.pipeline]
            # from_pipe re-casts the shared components, which offload hooks (weights on "meta") would break.
            remove_hooks(base)
            resident.placed = None
            pipe = resident.pipes[class_name] = self._derive(base, class_name, self.plan.dtype)
        if resident.placed != class_name:
            # Placing can itself run out of memory (moving every weight to the device under `full`).
            resident.policy = self._place(pipe, resident.policy)
            resident.placed = class_name
        return LoadedModel(pipe, resident.policy, self.plan, class_name, resident)

    def _load(self, entry: ModelEntry) -> _Resident:
        plan = self.plan
        weights = weights_bytes(entry.path, plan.dtype_name)
        self._make_room(weights)
        # Loaded into system memory: moving it to the device is the policy's job, which may offload instead.
        pipe = self._loader(entry, entry.pipeline, "cpu", plan.dtype)
        policy = starting_policy(weights, plan)
        resident = _Resident(entry.revision, weights, {entry.pipeline: pipe}, policy, placed=None)
        self._residents[entry.name] = resident
        return resident

    def _make_room(self, weights: int) -> None:
        """Unload the least recently used models until `weights` more bytes fit the budget."""
        budget = self._budget()
        if budget is None:
            return
        freed = False
        while self._residents and weights + sum(r.weights for r in self._residents.values()) > budget:
            self._residents.popitem(last=False)
            freed = True
        if freed:
            release_cached_memory()

    def _budget(self) -> int | None:
        if self._budget_bytes is not None:
            return self._budget_bytes
        total = self.plan.total_bytes()
        return None if total is None else total - safety_margin(total)

    def _place(self, pipe: Any, start: MemoryPolicy) -> MemoryPolicy:
        plan = self.plan

        def place(policy: MemoryPolicy) -> MemoryPolicy:
            apply_policy(pipe, policy, plan)
            return policy

        return run_with_memory_ladder(place, start)


_default_pool: ModelPool | None = None
_default_pool_lock = threading.Lock()


def default_pool() -> ModelPool:
    """The process-wide pool, created on first use."""
    global _default_pool
    with _default_pool_lock:
        if _default_pool is None:
            _default_pool = ModelPool()
        return _default_pool


def release_default_pool() -> None:
    """Free the process-wide pool's models if it was ever created (on shutdown, after the workers that use
    it are joined); creates nothing and imports no torch otherwise."""
    with _default_pool_lock:
        pool = _default_pool
    if pool is not None:
        pool.unload_all()
