"""A run's one lifecycle, for `wanflow run` and for the Prefect deployment alike.

prepare (bad input: a UserError, before Prefect starts) -> check the engine (a cluster that
cannot hold the film is refused before any work) -> answer a run with nothing to do from the
cache and the cut's stamp (no Prefect, no model, no ffmpeg) -> Prefect's server when none is
set -> the heavy imports while it boots -> the task graph (`graph.render_prepared`) -> the
result. `render_film` is the deployment's flow: it calls `render` from inside its own flow run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefect import flow
from prefect.context import FlowRunContext

from wanflow.errors import UserError
from wanflow.run.cluster import check_cluster, check_worker_specs, connect, worker_specs
from wanflow.run.outdir import writing
from wanflow.run.outputs import unchanged_run, write_run_json
from wanflow.run.prepare import PreparedRun, RunRequest, prepare_run
from wanflow.run.summary import RunSummary
from wanflow.take import RenderSettings

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """How a run ended: its summary, or why there is none (`error`: not the input's fault)."""

    summary: RunSummary | None
    tiny: bool = False  # the plan's models are the tiny random-weight ones
    error: str | None = None
    rendered: bool = True  # False: nothing to do, answered from the cache and the cut's stamp

    @property
    def exit_code(self) -> int:
        """0 when every shot has its clip; 1 when a shot failed or the run could not finish."""
        if self.error or self.summary is None:
            return 1
        return 1 if self.summary.count("failed") or self.summary.count("skipped") else 0


def render(request: RunRequest, log: Log = print) -> RunResult:
    """Render the storyboard into a film. Bad input raises UserError before anything starts."""
    prepared = prepare_run(request, log=log)
    _check_engine(prepared)
    with writing(prepared.out_dir):  # one writer at a time; what a killed run left is removed
        summary = unchanged_run(prepared)
        if summary is not None:
            write_run_json(prepared.out_dir, summary)
    if summary is not None:  # nothing to render or cut
        return RunResult(summary, prepared.plan.tiny, rendered=False)
    from wanflow.run.graph import render_prepared  # Prefect's flow machinery, once the input is good

    if FlowRunContext.get() is not None:  # a deployment's flow run: the graph runs inside it
        return _result(prepared, render_prepared.fn(prepared))
    from wanflow.run.server import run_server

    with run_server(log=log) as server_up:
        if not request.distributed and prepared.renders_takes():
            from wanflow.backends.pool import preload_backends

            preload_backends()  # in this process, while the server boots on another core
        try:
            server_up()
        except RuntimeError as error:  # not the input's fault: what the server said
            return RunResult(None, prepared.plan.tiny, str(error))
        state = render_prepared(prepared, return_state=True)
    return _result(prepared, state.result(raise_on_failure=False))


def _check_engine(prepared: PreparedRun) -> None:
    """The cluster (or the local one about to start) can render every model of the film."""
    request = prepared.request
    if request.cluster:
        with connect(request.cluster, str(request.spec)) as client:
            check_cluster(client, prepared)
    elif request.workers or request.gpus:
        check_worker_specs(worker_specs(request.workers, request.gpus), prepared)


def _result(prepared: PreparedRun, outcome: object) -> RunResult:
    """The flow's return value (a summary, a Failed state carrying one, or the error it raised)."""
    if isinstance(outcome, UserError):  # found while rendering (a cluster refused mid-run): still the input's
        raise outcome
    if isinstance(outcome, BaseException):
        return RunResult(None, prepared.plan.tiny, str(outcome))
    if not isinstance(outcome, RunSummary):  # a Failed state returned from inside a deployment's run
        outcome = outcome.data  # type: ignore[attr-defined]
    return RunResult(outcome, prepared.plan.tiny)


@flow(name="render-film", flow_run_name="{spec}:{profile}", log_prints=False)
def render_film(
    spec: str,
    profile: str = "preview",
    only: list[str] | None = None,
    force: list[str] | None = None,
    out: str = "out",
    cache: str | None = None,
    settings: RenderSettings = RenderSettings(),
    cluster: str | None = None,
    workers: int = 0,
    gpus: list[int] | None = None,
    takes: int | None = None,
) -> RunSummary:
    """Render a storyboard into a film (the deployment's entry point; `wanflow run` calls `render`).

    `cluster` (or $WANFLOW_CLUSTER) is an existing Dask scheduler's address; `workers` / `gpus`
    start a local cluster for this run; with none of them the tasks run in this process.
    `takes` renders that many takes of every selected shot instead of the storyboard's `takes:`.
    """
    from prefect import get_run_logger
    from prefect.states import Failed

    from wanflow import settings as environment

    request = RunRequest(
        spec=Path(spec),
        profile=profile,
        only=tuple(only or ()),
        force=tuple(force or ()),
        out=Path(out),
        cache=Path(cache) if cache else None,
        settings=settings,
        takes=takes,
        cluster=cluster or environment.current().cluster,
        workers=workers,
        gpus=tuple(gpus or ()),
    )
    result = render(request, log=get_run_logger().info)
    if result.summary is None:
        raise RuntimeError(result.error)
    if result.exit_code:
        failed = [shot.shot_id for shot in result.summary.shots if shot.status in ("failed", "skipped")]
        return Failed(message=f"{len(failed)} shot(s) failed or skipped: {', '.join(failed)}", data=result.summary)
    return result.summary
