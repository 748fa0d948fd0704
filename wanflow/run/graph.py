"""The task graph of a prepared run, as a Prefect flow: in-process, on a local Dask cluster, or on a studio's.

One task graph, three engines. The flow places the shots, submits `encode-prompts` per model
and `render-shot` per take of each shot (a continuation waits for the task of its upstream's
chosen take), then cuts the film and writes the report. In-process, tasks run one at a time in
this process; on Dask, each runs on a long-lived worker that keeps its models warm, routed by
the GPU class its model needs, and Dask renders a dead worker's shot on another. What comes
before (preparation, the cluster check, the server) is `wanflow.run.flow.render`'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.futures import PrefectFuture, as_completed
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from wanflow.cache import ArtifactStore
from wanflow.catalog import BACKENDS
from wanflow.errors import UserError
from wanflow.media.clips import cached_clip
from wanflow.plan import TINY_NOTICE, RenderJob, generation_order
from wanflow.plan.placement import Placement, place, unplaceable
from wanflow.report.markdown import markdown_file_link, markdown_text
from wanflow.run.cluster import check_cluster, connect, local_cluster, worker_specs
from wanflow.run.outdir import writing
from wanflow.run.outputs import assemble_and_report, write_run_json
from wanflow.run.phases import needs_generation
from wanflow.run.pool import run_pool
from wanflow.run.prepare import PreparedRun
from wanflow.run.summary import RunSummary, TaskReport, planned_outcomes
from wanflow.run.tasks import encode_task, render_task


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    request = flow_run.parameters["prepared"].request
    return f"{request.spec}:{request.profile}"


@flow(name="render-film", flow_run_name=_flow_run_name, log_prints=False, validate_parameters=False)
def render_prepared(prepared: PreparedRun) -> RunSummary:
    """Render every take that the cache lacks, cut, report; the run's summary (a Failed state
    carrying it when a shot failed)."""
    logger = get_run_logger()
    phases: dict[str, float] = {"plan": prepared.seconds}
    if prepared.plan.tiny:
        logger.warning(TINY_NOTICE)
    summary = RunSummary(str(prepared.plan.film.path), prepared.plan.profile, shots=[])
    with _timed(phases, "render"), _engine(prepared) as engine:
        _render(prepared, engine, summary, logger)
    summary.phases = phases
    with _timed(phases, "assemble"), writing(prepared.out_dir):  # one writer; a killed run's leftovers go
        assemble_and_report(prepared.plan, ArtifactStore(prepared.cache_dir), summary, prepared.out_dir, logger)
    _publish_artifacts(prepared, summary)
    write_run_json(prepared.out_dir, summary)
    failed = [shot.shot_id for shot in summary.shots if shot.status in ("failed", "skipped")]
    if failed:
        return Failed(message=f"{len(failed)} shot(s) failed or skipped: {', '.join(failed)}", data=summary)
    return summary


class _Engine:
    """Where tasks run: the task runner, and the cluster's workers when there is one."""

    def __init__(self, runner, workers=None) -> None:
        self.runner = runner
        self.workers = workers or []  # WorkerSlot list; empty in-process

    @property
    def distributed(self) -> bool:
        return bool(self.workers)


@contextmanager
def _engine(prepared: PreparedRun) -> Iterator[_Engine]:
    request = prepared.request
    if not request.distributed:
        with (
            ThreadPoolTaskRunner(max_workers=1) as runner,
            run_pool(request.settings),
        ):  # one device, one task at a time
            yield _Engine(runner)
        return
    from prefect_dask import DaskTaskRunner

    if request.cluster:
        with _dask_runner(DaskTaskRunner, request.cluster, prepared) as engine:
            yield engine
        return
    from prefect.settings import PREFECT_API_URL

    local = local_cluster(worker_specs(request.workers, request.gpus), prefect_api_url=PREFECT_API_URL.value())
    with local, _dask_runner(DaskTaskRunner, local.scheduler_address, prepared) as engine:
        yield engine


@contextmanager
def _dask_runner(runner_class, address: str, prepared: PreparedRun) -> Iterator[_Engine]:
    connect(address, str(prepared.plan.film.path)).close()  # a clear error when nothing answers
    with runner_class(address=address) as runner:
        runner.client.wait_for_workers(1, timeout=60)
        yield _Engine(runner, check_cluster(runner.client, prepared))


def _render(prepared: PreparedRun, engine: _Engine, summary: RunSummary, logger) -> None:
    """Submit the takes that need work, in an order that keeps models warm; gather what they report."""
    store = ArtifactStore(prepared.cache_dir)
    plan = prepared.plan
    outcomes = planned_outcomes(plan)
    takes = {job.name: outcomes[job.shot_id].take_outcome(job.take) for job in plan.takes}
    summary.shots = list(outcomes.values())
    todo: list[RenderJob] = []
    for job in prepared.takes:
        clip = None if job.shot_id in prepared.forced else cached_clip(store, job.keys.clip)
        if clip is None:
            todo.append(job)
        else:
            takes[job.name].status, takes[job.name].clip = "cached", str(clip)
    logger.info(
        f"{len(prepared.jobs)} shot(s) selected ({len(prepared.takes)} take(s)), "
        f"{len(todo)} take(s) to render, {len(prepared.takes) - len(todo)} cached"
    )
    if todo:
        _submit(todo, prepared, engine, takes, summary, logger)
    for outcome in outcomes.values():
        outcome.settle()


def _submit(todo: list[RenderJob], prepared: PreparedRun, engine: _Engine, takes, summary: RunSummary, logger) -> None:
    """One render-shot task per take; a continuation waits for the take of its upstream the film uses."""
    store = ArtifactStore(prepared.cache_dir)
    placement = _placement(todo, engine, str(prepared.plan.film.path))
    summary.workers = sorted({w.name for w in engine.workers}) if engine.distributed else ["local"]
    to_encode = [job for job in todo if needs_generation(job, store, force=job.shot_id in prepared.forced)]
    encodes = _submit_encodes(to_encode, prepared, engine, placement)
    futures: dict[str, PrefectFuture] = {}
    for job in generation_order(todo):
        needed = [futures.get(name) for name in job.waits_for]  # its upstream's take, the take it ends on
        wait_for = [f for f in (encodes.get(job.backend), *needed) if f is not None]
        upstream_key = prepared.plan.job(job.upstream).keys.clip if job.upstream else None
        end_key = prepared.plan.job(job.end_shot).keys.clip if job.end_shot else None
        with _annotations(job, engine, placement):
            futures[job.name] = engine.runner.submit(
                render_task,
                parameters=dict(
                    job=job,
                    cache_dir=prepared.cache_dir,
                    settings=prepared.request.settings,
                    upstream_clip_key=upstream_key,
                    end_clip_key=end_key,
                    force=job.shot_id in prepared.forced,
                ),
                wait_for=wait_for,
            )
    _gather(encodes, futures, {job.name: job for job in todo}, takes, summary, prepared, logger)


def _placement(todo: list[RenderJob], engine: _Engine, where: str) -> Placement | None:
    if not engine.distributed:
        return None
    problems = unplaceable(todo, engine.workers, where)
    if problems:
        raise UserError(problems)
    return place(todo, engine.workers)


def _submit_encodes(
    jobs: list[RenderJob], prepared: PreparedRun, engine: _Engine, placement: Placement | None
) -> dict[str, PrefectFuture]:
    """One encode task per model, on the worker that renders that model's first shot."""
    futures = {}
    for backend in dict.fromkeys(job.backend for job in generation_order(jobs)):
        group = [job for job in jobs if job.backend == backend]
        with _annotations(group[0], engine, placement, first=True):
            futures[backend] = engine.runner.submit(
                encode_task,
                parameters=dict(jobs=group, cache_dir=prepared.cache_dir, settings=prepared.request.settings),
            )
    return futures


@contextmanager
def _annotations(job: RenderJob, engine: _Engine, placement: Placement | None, first: bool = False) -> Iterator[None]:
    """On Dask: the GPU class the model needs, the placed worker (others allowed if it dies), the order."""
    if placement is None:
        yield
        return
    import dask  # only a Dask run reads annotations

    worker = placement.encoder[job.backend] if first else placement.worker[job.name]
    rank = -1 if first else placement.rank[job.name]
    with dask.annotate(
        resources={BACKENDS[job.backend].card_resource: 1},
        workers=[worker],
        allow_other_workers=True,
        priority=-rank,
    ):
        yield


def _gather(encodes, futures, jobs, takes, summary: RunSummary, prepared: PreparedRun, logger) -> None:
    """Results as they complete; a failed take fails alone and skips only the takes continuing from it."""
    progress = create_progress_artifact(
        progress=0.0, description=f"{markdown_text(prepared.plan.film.title)}: takes done"
    )
    by_future = {id(future): name for name, future in futures.items()}
    reports: list[TaskReport] = []
    for done, future in enumerate(as_completed([*encodes.values(), *futures.values()]), start=1):
        update_progress_artifact(progress, progress=100.0 * done / (len(encodes) + len(futures)))
        name = by_future.get(id(future))
        try:
            report: TaskReport = future.result()
        except Exception as error:  # the take's own error, as the user should read it
            if name is None:
                logger.error(f"encoding prompts failed: {type(error).__name__}: {error}")
                continue
            outcome = takes[name]
            job = jobs[name]
            failed = [needed for needed in job.waits_for if takes[needed].status in ("failed", "skipped")]
            if failed:
                how = "continues from" if failed[0] == job.upstream_job else "ends on the first frame of"
                outcome.status, outcome.error = "skipped", f"{how} failed shot {failed[0].split('#')[0]!r}"
            else:
                outcome.status, outcome.error = "failed", f"{type(error).__name__}: {error}"
                logger.error(f"shot {name} failed: {outcome.error}")
            continue
        reports.append(report)
        if name is not None:
            outcome = takes[name]
            outcome.status = "rendered" if report.generated else "cached"
            outcome.seconds, outcome.clip, outcome.worker = report.seconds, report.clip, report.worker
            outcome.started, outcome.ended = report.started, report.ended
    summary.loads = [{"worker": r.worker, "model": model} for r in reports for model in r.loads]


def _publish_artifacts(prepared: PreparedRun, summary: RunSummary) -> None:
    """For people in the Prefect UI: short columns first, so the long prompt does not push them off."""
    plan = prepared.plan
    rows = []
    for job in plan.jobs:
        outcome = summary.outcome(job.shot_id)
        rows.append(
            {
                "shot": job.shot_id,
                "status": outcome.status,
                "backend": job.backend,
                "take": f"{job.take} of {len(outcome.takes)}",
                "seed": job.settings.seed,
                "seconds": round(outcome.seconds, 1),
                "worker": outcome.worker or "",
                "prompt": job.compiled.prompt,
            }
        )
    title = markdown_text(plan.film.title)  # the UI renders descriptions and artifacts as markdown
    create_table_artifact(rows, key=None, description=f"Storyboard of {title} ({plan.profile})")
    if summary.film or summary.report:
        film = f"- film: {markdown_file_link(summary.film, summary.film)}" if summary.film else None
        links = [film or f"- {markdown_text(summary.note)}"]
        links += [f"- {name}: {markdown_file_link(path, path)}" for name, path in summary.report.items()]
        create_markdown_artifact("\n".join(links), key=None, description=f"{title}: the cut and its report")


@contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = time.perf_counter() - started
