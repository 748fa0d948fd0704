"""The deployment's flow: `render_film`, the Prefect entry point of `wanflow.run.flow:render_film`.

It builds the user's request from its parameters and runs the one lifecycle
(`wanflow.run.lifecycle.render`) from inside its own flow run; `wanflow run` calls the same
lifecycle without this wrapper.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from wanflow.run.lifecycle import render
from wanflow.run.prepare import RunRequest
from wanflow.run.summary import RunSummary
from wanflow.take import RenderSettings


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
