"""`wanflow plan` and `wanflow run`: show what a render would do, then do it through Prefect."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from wanflow.commands.common import user_errors

console = Console(highlight=False)

SpecArg = Annotated[Path, typer.Argument(help="The storyboard spec (YAML).", show_default=False)]
ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="preview | draft | final | a profile the spec declares.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache", help="Cache folder (default: $WANFLOW_CACHE, else .wanflow/cache beside the spec)."),
]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("run")(run_command)


def plan_command(spec: SpecArg, profile: ProfileOpt = "preview", cache: CacheOpt = None) -> None:
    """Print the render plan: backend, size, frames, estimated GPU time and memory, cached or not."""
    from wanflow.cache import ArtifactStore, default_cache_dir
    from wanflow.pipeline import prepare_plan
    from wanflow.plan import estimate
    from wanflow.spec import load_film

    with user_errors():
        film = load_film(spec)
        plan = prepare_plan(film, profile, log=lambda message: console.print(f"[dim]{message}[/]"))
    store = ArtifactStore(cache or default_cache_dir(spec.resolve()))
    table = Table(title=f"{film.title}: profile {plan.profile}, film {plan.width}x{plan.height}")
    for column in ("shot", "backend", "size", "frames@fps", "seconds", "steps", "est. GPU time", "est. memory", "cache"):
        table.add_column(column, justify="right" if column in ("seconds", "steps") else "left")
    total_seconds = 0.0
    for job in plan.jobs:
        seconds, memory = estimate(job)
        total_seconds += seconds or 0.0
        if store.has("clips", job.keys.clip):
            status = "[green]cached[/]"
        elif store.has("latents", job.keys.latents):
            status = "[yellow]latents[/]"
        else:
            status = "render"
        table.add_row(
            job.shot_id,
            job.backend + (" (tiny)" if job.tiny else ""),
            f"{job.width}x{job.height}",
            f"{job.frames}@{job.fps}",
            f"{job.seconds:.2f}",
            str(job.steps),
            _duration(seconds) if seconds is not None else "-",
            f"{memory:.0f} GB" if memory is not None else "-",
            status,
        )
    console.print(table)
    if total_seconds:
        console.print(f"estimated GPU time for the uncached work at most {_duration(total_seconds)} (official single-GPU table, scaled)")
    for job in plan.jobs:
        for note in job.notes:
            console.print(f"[dim]{job.shot_id}: {note}[/]")


def run_command(
    spec: SpecArg,
    profile: ProfileOpt = "preview",
    only: Annotated[list[str] | None, typer.Option("--only", help="Render only these shots (comma-separated or repeated).")] = None,
    force: Annotated[list[str] | None, typer.Option("--force", help="Re-render these shots (or 'all') even if cached.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the film, its clips and report.")] = Path("out"),
    cache: CacheOpt = None,
    device: Annotated[str | None, typer.Option("--device", help="torch device (default: cuda when present, else cpu).")] = None,
) -> None:
    """Render the storyboard into a film (a Prefect flow; local, or on $PREFECT_API_URL)."""
    from wanflow.pipeline import prepare_plan, render_film, select_forced, select_shots
    from wanflow.spec import load_film

    only_ids = _split(only)
    force_ids = _split(force)
    with user_errors():  # every input problem is reported here, before Prefect starts
        film = load_film(spec)
        plan = prepare_plan(film, profile, log=lambda message: console.print(f"[dim]{message}[/]"))
        select_forced(plan, force_ids, select_shots(plan, only_ids))
    state = render_film(
        spec=str(spec),
        profile=profile,
        only=only_ids,
        force=force_ids,
        out=str(out),
        cache=str(cache) if cache else None,
        device=device,
        return_state=True,
    )
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        console.print(f"[bold red]run failed[/]: {summary}")
        raise typer.Exit(1)
    _print_summary(summary)
    if summary.count("failed") or summary.count("skipped"):
        raise typer.Exit(1)


def _print_summary(summary) -> None:
    table = Table(title=f"{Path(summary.spec).name} ({summary.profile})")
    for column in ("shot", "backend", "status", "seconds"):
        table.add_column(column)
    colours = {"rendered": "cyan", "cached": "green", "failed": "red", "skipped": "red", "not selected": "dim"}
    for shot in summary.shots:
        status = f"[{colours[shot.status]}]{shot.status}[/]"
        if shot.error:
            status += f" ({shot.error})"
        table.add_row(shot.shot_id, shot.backend, status, f"{shot.seconds:.1f}")
    console.print(table)
    counts = ", ".join(f"{summary.count(s)} {s}" for s in ("rendered", "cached", "failed", "skipped") if summary.count(s))
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in summary.phases.items())
    console.print(f"shots: {counts or 'none'}; phases: {phases}")
    console.print(f"models loaded: {', '.join(summary.loads) if summary.loads else 'none'}")
    if summary.film:
        console.print(f"film: [bold]{summary.film}[/]")
        for name, path in summary.report.items():
            console.print(f"  {name}: {path}")
    if summary.note:
        console.print(f"[yellow]{summary.note}[/]")


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
