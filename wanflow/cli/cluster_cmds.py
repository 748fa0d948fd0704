"""`wanflow cluster start`: a Dask scheduler and its workers on this machine, kept warm (and kept) until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time
from typing import Annotated

import typer

from wanflow.cli.common import gpu_ids, make_console, user_errors

console = make_console()
KEEP_EVERY_SECONDS = 2.0  # how often the cluster is checked for a worker that left
cluster_app = typer.Typer(
    help="A Dask cluster for renders: one worker per GPU, models kept warm.", no_args_is_help=True
)


server_app = typer.Typer(help="The Prefect server your runs report to.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
    app.add_typer(server_app, name="server")


@server_app.command("setup")
def server_setup_command() -> None:
    """Once per server: install the automation that marks a render whose machine died as Crashed."""
    from wanflow.run.heartbeat import AUTOMATION_NAME, setup_server, silence_time

    with user_errors():
        url, done = setup_server()
    console.print(
        f"automation {AUTOMATION_NAME} {done} on {url}: a render-film run silent for {silence_time()} s "
        "is marked Crashed",
        highlight=False,
    )


@server_app.command("stop")
def server_stop_command() -> None:
    """Stop what runs keep between them now: Prefect's temporary server (`WANFLOW_SERVER_LINGER`) and
    the warm wanflow processes (`WANFLOW_WARM_LINGER`; each after the runs it is serving)."""
    from wanflow.cli import warm
    from wanflow.run.server import stop_kept_servers

    stopped = stop_kept_servers()
    console.print(
        f"stopped {stopped} temporary Prefect server(s)" if stopped else "no temporary Prefect server is running",
        highlight=False,
    )
    warmed = warm.stop_all()
    console.print(
        f"stopped {warmed} warm wanflow process(es)" if warmed else "no warm wanflow process is running",
        highlight=False,
    )


@cluster_app.command("start")
def start_command(
    workers: Annotated[int, typer.Option("--workers", help="N CPU workers (the tiny preview models).")] = 0,
    gpus: Annotated[str | None, typer.Option("--gpus", help="One worker per GPU: 0,1,...")] = None,
    port: Annotated[int, typer.Option("--port", help="The scheduler's port on 127.0.0.1 (0: any free one).")] = 8786,
) -> None:
    """Start a scheduler and its workers here, print the address, and keep them (and their models) warm."""
    from wanflow.run.cluster import WorkerKeeper, local_cluster, worker_specs

    with user_errors():
        gpu_list = gpu_ids(gpus)
        specs = worker_specs(workers if workers or gpu_list else 1, gpu_list)
    with local_cluster(specs, port=port) as cluster:
        cluster.wait_for_workers(len(specs), timeout=120)
        for spec in specs:
            console.print(f"worker {spec.name}: resources {spec.resources}", highlight=False)
        console.print(cluster.scheduler_address, highlight=False)
        console.print(f"[dim]render on it: wanflow run SPEC --cluster {cluster.scheduler_address}; Ctrl-C stops it[/]")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop is a Ctrl-C: workers end with us
        keeper = WorkerKeeper(cluster, specs, lambda line: _say(line))
        try:
            while True:
                time.sleep(KEEP_EVERY_SECONDS)
                keeper.check()
        except KeyboardInterrupt:
            console.print("stopping the cluster")


def _say(line: str) -> None:
    console.print(line, highlight=False)
    sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
