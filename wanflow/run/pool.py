"""Whose models a task uses: an in-process run's own pool (released at its end), or a long-lived
Dask worker's (`worker_pool`, kept across shots and flow runs), so a model is loaded once per
worker, never once per shot. The pool itself is `wanflow.backends.pool.ModelPool`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wanflow.backends.pool import ModelPool
from wanflow.take import RenderSettings

_worker_pools: dict[RenderSettings, ModelPool] = {}
_worker_pools_lock = threading.Lock()


def worker_pool(settings: RenderSettings) -> ModelPool:
    """This process's pool for these settings, kept for the life of the process (a Dask worker)."""
    with _worker_pools_lock:
        return _worker_pools.setdefault(settings, ModelPool(settings, keep_warm=True))


_run_pool: ContextVar[ModelPool | None] = ContextVar("wanflow_run_pool", default=None)


@contextmanager
def run_pool(settings: RenderSettings, decode_slots: int = 1) -> Iterator[ModelPool]:
    """An in-process run's own pool: its tasks (threads of this process) use it; freed at the end.
    `decode_slots`: clips it decodes at once (the tiny models on a CPU: one per slot)."""
    pool = ModelPool(settings, decode_slots=decode_slots)
    token = _run_pool.set(pool)
    try:
        yield pool
    finally:
        _run_pool.reset(token)
        pool.release_all()


def current_pool(settings: RenderSettings) -> ModelPool:
    """The run's pool in-process, else this worker process's long-lived one."""
    return _run_pool.get() or worker_pool(settings)


def warm_models() -> dict[str, list[str]]:
    """What this process holds now, by backend: asked of every worker before a run is placed."""
    pools = list(_worker_pools.values())
    return {
        "generators": sorted({b for pool in pools if (b := pool.warm_generator()) is not None}),
        "text_encoders": sorted({b for pool in pools for b in pool.warm_text_encoders()}),
    }
