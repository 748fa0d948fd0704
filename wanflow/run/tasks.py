"""The flow's tasks: thin wrappers that run a phase on whatever process holds the models.

They run in the flow's process (in-process runs) or on a Dask worker (a cluster), take plain
picklable values (jobs, folders, settings) and return a `TaskReport`: never a tensor. The
models come from the pool of the process they run in, so a worker keeps them warm.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from wanflow.backends.pool import ModelPool
from wanflow.cache import ArtifactStore
from wanflow.media.clips import cached_clip
from wanflow.plan import RenderJob
from wanflow.run.animatic import draw_take
from wanflow.run.cluster import worker_name
from wanflow.run.journal import journaled
from wanflow.run.phases import ShotWork, encode_prompts, render_shot
from wanflow.run.pool import current_pool
from wanflow.run.summary import TaskReport
from wanflow.take import RenderSettings


def _is_transient(task, task_run, state) -> bool:
    """Retry what a second try can fix (I/O hiccups, a GPU out of memory), never bad input."""
    try:
        state.result()
    except (OSError, ConnectionError, TimeoutError):
        return True
    except RuntimeError as error:
        return "out of memory" in str(error).lower()
    except Exception:
        return False
    return False


_TASK_DEFAULTS = dict(cache_policy=NO_CACHE, persist_result=False, retries=1, retry_condition_fn=_is_transient)


def _shot_run_name() -> str:
    from prefect.runtime import task_run

    return f"shot-{task_run.parameters['job'].name} on {worker_name()}"


def _encode_run_name() -> str:
    from prefect.runtime import task_run

    return f"encode-{task_run.parameters['jobs'][0].backend} on {worker_name()}"


@task(name="encode-prompts", task_run_name=_encode_run_name, **_TASK_DEFAULTS)
def encode_task(
    jobs: list[RenderJob], cache_dir: Path, settings: RenderSettings, turn: int | None = None
) -> TaskReport:
    pool = current_pool(settings)
    with _using(pool, turn, cache_dir) as loads:
        result = encode_prompts(jobs, ArtifactStore(cache_dir), pool, log=get_run_logger().info)
    get_run_logger().info(f"prompts: {result.encoded} encoded, {result.cached} from the cache")
    return TaskReport(worker=worker_name(), loads=tuple(loads))


@task(name="render-shot", task_run_name=_shot_run_name, retry_delay_seconds=5, **_TASK_DEFAULTS)
def render_task(
    job: RenderJob,
    cache_dir: Path,
    settings: RenderSettings,
    upstream_clip_key: str | None,
    force: bool,
    end_clip_key: str | None = None,
    turn: int | None = None,
) -> TaskReport:
    started = time.time()
    store, pool, logger = ArtifactStore(cache_dir), current_pool(settings), get_run_logger()
    logger.info(
        f"shot {job.name}: {job.backend} {job.settings.width}x{job.settings.height} {job.settings.frames}f, seed {job.settings.seed}"
    )
    upstream = cached_clip(store, upstream_clip_key) if upstream_clip_key else None
    if upstream_clip_key and upstream is None:
        raise RuntimeError(f"shot {job.name}: the clip of {job.upstream_job!r} is not in the cache {cache_dir}")
    end = cached_clip(store, end_clip_key) if end_clip_key else None
    if end_clip_key and end is None:
        raise RuntimeError(f"shot {job.name}: the clip of {job.end_job!r} is not in the cache {cache_dir}")
    run = _flow_run_id()
    with _using(pool, turn, cache_dir) as loads:
        if job.settings.animatic:  # drawn: no model, no torch
            work = draw_take(job, store, upstream_clip=upstream, end_clip=end, force=force, run=run)
        else:
            work = render_shot(
                job, store, pool, upstream_clip=upstream, end_clip=end, force=force, log=logger.info, run=run
            )
    # an earlier try of this run (a Prefect retry, a task Dask ran twice, a dead worker's) may have made the clip
    made = work.generated or work.decoded or (run is not None and _made_by(store, job.keys.clip) == run)
    logger.info(f"shot {job.name}: {_work_done(work, job.settings.animatic, made)} ({work.seconds:.1f} s)")
    return TaskReport(
        worker_name(),
        tuple(loads),
        work.generated,
        work.seconds,
        str(work.clip),
        started,
        time.time(),
        decoded=work.decoded,
        made_this_run=made,
    )


def _work_done(work: ShotWork, drawn: bool, made_this_run: bool) -> str:
    """What the take's task did, for its log: two runs at once may share a take's work."""
    if drawn and work.decoded:
        return "clip drawn"
    if work.generated or work.decoded:
        latents = "latents generated" if work.generated else "latents from the cache"
        return f"{latents}, {'clip decoded' if work.decoded else 'clip from the cache'}"
    return "clip made by an earlier try of this run" if made_this_run else "clip from the cache"


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.id) if flow_run.id else None


def _made_by(store: ArtifactStore, clip_key: str) -> str | None:
    """The flow run that made the cached clip, as its meta says."""
    meta = store.get_meta("clips", clip_key)
    return meta.get("run") if meta else None


@contextmanager
def _using(pool: ModelPool, turn: int | None, cache_dir: Path) -> Iterator[list[str]]:
    """A task's hold on its process's pool: its turn at the model stage (in-process runs hand
    one out), and the models it loads, as they start, in its list and the run's journal."""
    loads: list[str] = []
    with pool.turns.holding(turn), pool.listen(loads.append), journaled(pool, cache_dir, worker_name()):
        yield loads
