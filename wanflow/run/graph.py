"""The task graph of a prepared run, as a Prefect flow: in-process, on a local Dask cluster, or on a studio's.

One task graph, three engines. The flow places the shots, submits `encode-prompts` per model
and `render-shot` per take of each shot (a continuation waits for the task of its upstream's
chosen take), each once what it needs is done, then cuts the film and writes the report.
In-process, tasks run in this process, one generation at a time (on the tiny models one take
decodes while the next generates; the animatic draws one take per core). On Dask, each runs on
a long-lived worker that keeps its models warm, pinned to a worker of the GPU class its model
needs, and placed again on another when its worker dies (`wanflow.run.dispatch`). What comes
before (preparation, the cluster check, the server) is `wanflow.run.lifecycle.render`'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.runtime import flow_run
from prefect.states import Failed
from prefect.task_runners import ThreadPoolTaskRunner

from wanflow import settings as environment
from wanflow.cache import ArtifactStore
from wanflow.errors import UserError
from wanflow.media.clips import cached_clip
from wanflow.plan import TINY_NOTICE, RenderJob, RenderPlan, drawing_order, generation_order
from wanflow.plan.placement import Placement, place, unplaceable
from wanflow.report.markdown import markdown_file_link, markdown_text
from wanflow.run.cluster import check_cluster, connect, local_cluster, worker_specs
from wanflow.run.dispatch import Dispatcher, Unit
from wanflow.run.heartbeat import beating
from wanflow.run.journal import read_journal
from wanflow.run.outdir import writing
from wanflow.run.outputs import assemble_and_report, write_run_json
from wanflow.run.phases import needs_generation
from wanflow.run.pool import current_pool, run_pool
from wanflow.run.prepare import PreparedRun
from wanflow.run.summary import RunSummary, planned_outcomes
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

    def __init__(self, runner, workers=None, address: str = "", slots: int | None = None) -> None:
        self.runner = runner
        self.slots = slots  # in-process: the takes worked on at once
        self.workers = workers or []  # WorkerSlot list; empty in-process
        self.address = address  # the Dask scheduler's

    @property
    def distributed(self) -> bool:
        return bool(self.workers)


@contextmanager
def _engine(prepared: PreparedRun) -> Iterator[_Engine]:
    request = prepared.request
    beating()  # heartbeats for a watched server's zombie automation, until the flow run ends
    if not request.distributed:
        slots = _local_slots(prepared.plan)
        with ThreadPoolTaskRunner(max_workers=slots) as runner, run_pool(request.settings, decode_slots=slots):
            yield _Engine(runner, slots=slots)
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


def _local_slots(plan: RenderPlan) -> int:
    """How many takes an in-process run works on at once.

    Drawn takes (the animatic) use no model: one per core. The tiny models (preview): two, each
    decoding while the other generates or decodes (the pool runs one generation at a time, and
    decoding is most of a tiny take's time). Real models: one, as the card's memory plan assumes.
    """
    if all(job.settings.animatic for job in plan.takes):
        return os.cpu_count() or 1
    return 2 if all(job.tiny for job in plan.takes) else 1


@contextmanager
def _dask_runner(runner_class, address: str, prepared: PreparedRun) -> Iterator[_Engine]:
    connect(address, str(prepared.plan.film.path)).close()  # a clear error when nothing answers
    with runner_class(address=address) as runner:
        runner.client.wait_for_workers(1, timeout=60)
        yield _Engine(runner, check_cluster(runner.client, prepared), address)


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
    """One encode per model and one render-shot task per take, each submitted once what it needs is done."""
    store = ArtifactStore(prepared.cache_dir)
    placement = _placement(todo, engine, str(prepared.plan.film.path))
    summary.workers = sorted({w.name for w in engine.workers}) if engine.distributed else ["local"]
    to_encode = [job for job in todo if needs_generation(job, store, force=job.shot_id in prepared.forced)]
    units = _submit_encodes(to_encode, prepared, placement)
    encodes = {unit.job.backend: unit.name for unit in units}
    drawn = all(job.settings.animatic for job in todo)
    for rank, job in enumerate(drawing_order(todo) if drawn else generation_order(todo)):
        upstream_key = prepared.plan.job(job.upstream).keys.clip if job.upstream else None
        end_key = prepared.plan.job(job.end_shot).keys.clip if job.end_shot else None
        parameters = dict(
            job=job,
            cache_dir=prepared.cache_dir,
            settings=prepared.request.settings,
            upstream_clip_key=upstream_key,
            end_clip_key=end_key,
            force=job.shot_id in prepared.forced,
        )
        # its model's prompts, the take it continues from, the take it ends on
        needs = tuple(name for name in (encodes.get(job.backend), *job.waits_for) if name is not None)
        worker = placement.worker[job.name] if placement else None
        units.append(Unit(job.name, job, render_task, parameters, needs, worker, rank))
    names = {unit.name for unit in units}
    for unit in units:  # an upstream take this run does not render (cached) is no prerequisite
        unit.needs = tuple(name for name in unit.needs if name in names)
    client = engine.runner.client if engine.distributed else None
    wait = environment.current().worker_wait
    turns = None if engine.distributed else current_pool(prepared.request.settings).turns
    dispatcher = Dispatcher(
        engine.runner, units, client=client, slots=engine.slots, turns=turns, wait_seconds=wait, log=logger.warning
    )
    _gather(dispatcher, takes, summary, prepared)


def _placement(todo: list[RenderJob], engine: _Engine, where: str) -> Placement | None:
    if not engine.distributed:
        return None
    problems = unplaceable(todo, engine.workers, where, engine.address)
    if problems:
        raise UserError(problems)
    return place(todo, engine.workers)


def _submit_encodes(jobs: list[RenderJob], prepared: PreparedRun, placement: Placement | None) -> list[Unit]:
    """One encode per model, on the worker that holds its text encoder or renders its first shot."""
    units = []
    for backend in dict.fromkeys(job.backend for job in generation_order(jobs)):
        group = [job for job in jobs if job.backend == backend]
        parameters = dict(jobs=group, cache_dir=prepared.cache_dir, settings=prepared.request.settings)
        worker = placement.encoder[backend] if placement else None
        units.append(Unit(f"encode-{backend}", group[0], encode_task, parameters, (), worker, rank=-1))
    return units


def _gather(dispatcher: Dispatcher, takes, summary: RunSummary, prepared: PreparedRun) -> None:
    """Run every unit to its end; a failed take fails alone and skips only the takes continuing from it."""
    progress = create_progress_artifact(
        progress=0.0, description=f"{markdown_text(prepared.plan.film.title)}: takes done"
    )
    finished = []

    def advance(unit: Unit) -> None:
        finished.append(unit.name)
        update_progress_artifact(progress, progress=100.0 * len(finished) / len(dispatcher.units))

    units = dispatcher.run(on_finished=advance)
    for unit in units.values():
        if unit.is_encode:
            continue
        outcome, report = takes[unit.name], unit.report
        outcome.attempts = [asdict(attempt) for attempt in unit.attempts]
        if report is None:
            outcome.status, outcome.error = unit.state, unit.error
            continue
        outcome.status = "rendered" if report.made_this_run else "cached"
        outcome.seconds, outcome.clip, outcome.worker = report.seconds, report.clip, report.worker
        outcome.started, outcome.ended = report.started, report.ended
    reports = [unit.report for unit in units.values() if unit.report is not None]
    journal = read_journal(prepared.cache_dir, str(flow_run.id)) if flow_run.id else None
    summary.loads = (
        journal if journal is not None else [{"worker": r.worker, "model": m} for r in reports for m in r.loads]
    )


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
                "worker": outcome.workers_story(),
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
