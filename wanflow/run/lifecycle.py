"""A run's one lifecycle, for `wanflow run` and for the Prefect deployment alike.

prepare (bad input: a UserError, before Prefect starts) -> check the engine (a cluster that
cannot hold the film is refused before any work) -> answer a run with nothing to render from the
cache (the cut's stamp, or a cut in this process: no Prefect, no model) -> the soundtrack mixed on a
spare core (`premix`) -> Prefect's server when none is set -> the heavy imports while it boots -> the task graph (`graph.render_prepared`) -> the
result. `wanflow.run.flow.render_film` is the deployment's flow: it calls `render` from inside its
own flow run. Prefect is imported only once a run has something to render.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wanflow.errors import UserError
from wanflow.run.apifaults import api_fault, quiet_api_tracebacks
from wanflow.run.cluster import check_cluster, check_worker_specs, connect, worker_specs
from wanflow.run.outdir import writing
from wanflow.run.outputs import cut_from_cache, unchanged_run, write_run_json
from wanflow.run.prepare import PreparedRun, RunRequest, prepare_run
from wanflow.run.summary import RunSummary

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


def render(request: RunRequest, log: Log = print, on_render: Callable[[], None] | None = None) -> RunResult:
    """Render the storyboard into a film. Bad input raises UserError before anything starts.

    `on_render`: called once the run knows it has takes to render or a film to cut (the command
    line leaves a warm process for the next run then)."""
    prepared = prepare_run(request, log=log)
    _check_engine(prepared)
    with writing(prepared.out_dir):  # one writer at a time; what a killed run left is removed
        summary = unchanged_run(prepared) or cut_from_cache(prepared, log)
        if summary is not None:
            write_run_json(prepared.out_dir, summary)
    if summary is not None:  # nothing to render: no Prefect, no model
        return RunResult(summary, prepared.plan.tiny, rendered=False)
    from prefect.context import FlowRunContext

    from wanflow.run.graph import render_prepared  # Prefect's flow machinery, once the input is good

    if FlowRunContext.get() is not None:  # a deployment's flow run: the graph runs inside it
        return _result(prepared, render_prepared.fn(prepared))
    from wanflow.run.premix import sound_mixed_meanwhile
    from wanflow.run.server import run_server

    if on_render is not None:
        on_render()

    with quiet_api_tracebacks(), sound_mixed_meanwhile(prepared), run_server(log=log) as server_up:
        if not request.distributed and prepared.renders_takes():
            from wanflow.backends.pool import preload_backends

            preload_backends()  # in this process, while the server boots on another core
        try:
            server_up()
        except RuntimeError as error:  # not the input's fault: what the server said
            return RunResult(None, prepared.plan.tiny, str(error))
        try:
            state = render_prepared(prepared, return_state=True)
        except Exception as error:  # the Prefect API gone (killed mid-run, unreachable): one line
            fault = api_fault(error)
            if fault is None:
                raise
            return RunResult(None, prepared.plan.tiny, fault)
    return _result(prepared, state.result(raise_on_failure=False))


def failure_line(error: BaseException, out_dir: Path) -> str:
    """What failed, in one line; an OS error keeps its path (or names --out, where the run writes)."""
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else f"while writing the run into {out_dir}"
        hint = "; free some space and run again: finished shots are in the cache" if error.errno == errno.ENOSPC else ""
        return f"{error.strerror}: {where}{hint}"
    return api_fault(error) or str(error)


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
        return RunResult(None, prepared.plan.tiny, failure_line(outcome, prepared.out_dir))
    if not isinstance(outcome, RunSummary):  # a Failed state returned from inside a deployment's run
        outcome = outcome.data  # type: ignore[attr-defined]
    return RunResult(outcome, prepared.plan.tiny)
