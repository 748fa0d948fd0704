"""`wanflow plan` and `wanflow run`: show what a render would do, then do it through Prefect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from wanflow.cli.common import (
    AllowReadOpt,
    default_out,
    gpu_ids,
    interrupt_within,
    make_console,
    named,
    print_table,
    split_ids,
    user_errors,
)
from wanflow.errors import UserError
from wanflow.take import RenderSettings

console = make_console(soft_wrap=False)

SpecArg = Annotated[Path, typer.Argument(help="The storyboard spec (YAML).", show_default=False)]
ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="preview | animatic | draft | final | a profile the spec declares.")
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache", help="Cache folder (default: $WANFLOW_CACHE, else .wanflow/cache at the repository root)."),
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="torch device (default: cuda when present, else cpu).")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp16 | fp32.")]
OffloadOpt = Annotated[bool, typer.Option("--offload", help="Model CPU offload: one expert on the GPU at a time.")]
T5CpuOpt = Annotated[bool, typer.Option("--t5-cpu", help="Keep the UMT5 text encoder on the CPU (official --t5_cpu).")]
TilingOpt = Annotated[bool, typer.Option("--vae-tiling", help="Decode in tiles: less VAE memory at 720p.")]
StepCacheOpt = Annotated[
    str | None,
    typer.Option("--step-cache", help="first-block | taylorseer: faster denoising, slightly different pictures."),
]
TakesOpt = Annotated[
    int | None,
    typer.Option(
        "--takes", help="Takes of every shot for this run, each with its own seed (default: the spec's takes:)."
    ),
]
CardOpt = Annotated[
    float | None,
    typer.Option(
        "--card",
        help="GPU memory in GiB to fit memory plans to (default: $WANFLOW_CARD, else the CUDA card's free memory).",
    ),
]
RamOpt = Annotated[
    float | None,
    typer.Option(
        "--ram", help="CPU memory in GiB the memory plans may hold weights in (default with a card: this machine's)."
    ),
]
MemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--memory",
        help="One memory plan for every take: resident, offload, fp8, fp8-offload, stream, fp8-stream, gguf-q8, gguf-q4.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the whole plan as JSON.")]
NonstandardOpt = Annotated[
    bool,
    typer.Option("--allow-nonstandard", help="Render model folders whose layout differs from the official Wan2.2 one."),
]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("run")(run_command)


def plan_command(
    spec: SpecArg,
    profile: ProfileOpt = "preview",
    cache: CacheOpt = None,
    dtype: DtypeOpt = "auto",
    offload: OffloadOpt = False,
    t5_cpu: T5CpuOpt = False,
    vae_tiling: TilingOpt = False,
    step_cache: StepCacheOpt = None,
    allow_nonstandard: NonstandardOpt = False,
    takes: TakesOpt = None,
    allow_read: AllowReadOpt = None,
    card: CardOpt = None,
    ram: RamOpt = None,
    memory: MemoryOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print the render plan: each take's backend, size, frames, seed, memory plan, estimated GPU time
    and memory, cached or not."""
    from wanflow.cache import ArtifactStore, default_cache_dir
    from wanflow.confine import allow_reading
    from wanflow.plan import make_plan
    from wanflow.plan.data import costs_and_cache, plan_data
    from wanflow.plan.fit import card_budget, fit_plan
    from wanflow.storyboard import load_film

    with user_errors():
        allow_reading(allow_read)
        settings = render_settings(None, dtype, offload, t5_cpu, vae_tiling, step_cache, allow_nonstandard)
        film = load_film(spec)
        plan = make_plan(film, profile, settings, takes)
        budget = card_budget(plan, card, ram, memory)
        plan, choices = fit_plan(plan, budget, settings, default="offload" if offload else "resident")
    store = ArtifactStore(cache or default_cache_dir(spec.resolve()))
    seconds_of, statuses = costs_and_cache(plan, choices, store, settings)
    if json_output:
        typer.echo(json.dumps(plan_data(plan, choices, seconds_of, statuses, budget), ensure_ascii=False, indent=2))
        with user_errors():
            plan.check()
        return
    table = Table(title=f"{named(film.title)}: profile {plan.profile}, film {plan.width}x{plan.height}")
    for column in (
        "shot",
        "take",
        "seed",
        "backend",
        "size",
        "frames@fps",
        "seconds",
        "steps",
        "memory plan",
        "est. GPU time",
        "est. memory",
        "cache",
    ):
        table.add_column(column, justify="right" if column in ("seconds", "steps") else "left")
    total_seconds, to_render = 0.0, 0
    colours = {"no model": "[red]no model[/]", "cached": "[green]cached[/]", "latents": "[yellow]latents[/]"}
    for job in plan.takes:
        seconds, choice = seconds_of[job.name], choices[job.name]
        memory = choice.peak_gib
        status = colours.get(statuses[job.name], statuses[job.name])
        if "cached" not in status:
            total_seconds += seconds or 0.0
            to_render += 1
        several = len(plan.takes_of(job.shot_id)) > 1
        table.add_row(
            job.shot_id,
            f"{job.take}" + (" (film)" if several and job.chosen else ""),
            str(job.settings.seed),
            f"animatic ({job.backend})" if job.settings.animatic else job.backend + (" (tiny)" if job.tiny else ""),
            f"{job.settings.width}x{job.settings.height}",
            f"{job.settings.frames}@{job.settings.fps}",
            f"{job.settings.seconds:.2f}",
            "-" if job.settings.animatic else str(job.settings.steps),
            choice.label(),
            _duration(seconds) if seconds is not None else "-",
            f"{memory:.0f} GiB" if memory is not None else "-",
            status,
        )
    print_table(console, table)
    marks = "; (film) marks the take the film uses where a shot has several" if len(plan.takes) > len(plan.jobs) else ""
    console.print(f"{len(plan.jobs)} shots, {len(plan.takes)} takes ({to_render} to render){marks}")
    if total_seconds:
        console.print(
            f"estimated GPU time for the work not cached: {_duration(total_seconds)} "
            "(the official single-GPU timings, H100 for A14B and RTX 4090 for TI2V-5B, scaled by size, frames and steps); "
            "memory: the real-size weights the memory plan keeps on the GPU plus activations (docs/models.md)",
            soft_wrap=True,  # one line: the terminal wraps it, a pipe keeps it whole
        )
    for job in plan.jobs:
        for note in job.notes:
            console.print(f"[dim]{job.shot_id}: {escape(note)}[/]", soft_wrap=True)
    with user_errors():  # model-limit problems, after the table that puts them in context
        plan.check()
        from wanflow.media.checks import cut_problems

        needs = cut_problems(film)
        if needs:
            raise UserError(needs)


def run_command(
    spec: SpecArg,
    profile: ProfileOpt = "preview",
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Render only these shots (comma-separated or repeated).")
    ] = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Re-render these shots (or 'all') even if cached.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the film, its clips and report (default: out/ at the repository root, beside the cache).",
            show_default=False,
        ),
    ] = None,
    cache: CacheOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = "auto",
    offload: OffloadOpt = False,
    t5_cpu: T5CpuOpt = False,
    vae_tiling: TilingOpt = False,
    step_cache: StepCacheOpt = None,
    allow_nonstandard: NonstandardOpt = False,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Render on this Dask cluster (tcp://HOST:PORT; $WANFLOW_CLUSTER).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Start a local cluster of N CPU workers for this run.")] = 0,
    gpus: Annotated[
        str | None, typer.Option("--gpus", help="Start a local cluster with one worker per GPU: 0,1,...")
    ] = None,
    takes: TakesOpt = None,
    allow_read: AllowReadOpt = None,
    card: CardOpt = None,
    ram: RamOpt = None,
    memory: MemoryOpt = None,
) -> None:
    """Render the storyboard into a film (a Prefect flow; local, or on $PREFECT_API_URL)."""
    from wanflow import settings as environment
    from wanflow.confine import allow_reading
    from wanflow.plan import TINY_NOTICE
    from wanflow.run.lifecycle import render
    from wanflow.run.prepare import RunRequest

    with interrupt_within(), user_errors():  # Ctrl-C ends a run within seconds; bad input: exit code 2
        allow_reading(allow_read)
        request = RunRequest(
            spec=spec,
            profile=profile,
            only=tuple(split_ids(only)),
            force=tuple(split_ids(force)),
            out=out or default_out(spec),
            cache=cache,
            settings=render_settings(device, dtype, offload, t5_cpu, vae_tiling, step_cache, allow_nonstandard),
            takes=takes,
            card_gib=card if card is not None else environment.current().card,
            ram_gib=ram,
            memory=memory,
            cluster=cluster or environment.current().cluster,
            workers=workers,
            gpus=gpu_ids(gpus),
        )
        result = render(request, log=_dim, on_render=_warm_for_the_next_run)
    if result.summary is None:
        console.print(f"[bold red]run failed[/]: {named(result.error)}", soft_wrap=True)
        raise typer.Exit(result.exit_code)
    _print_summary(result.summary)
    if result.tiny and result.rendered:
        console.print(f"[yellow]note[/]: {TINY_NOTICE}")
    raise typer.Exit(result.exit_code)


def render_settings(
    device: str | None,
    dtype: str,
    offload: bool,
    t5_cpu: bool,
    vae_tiling: bool,
    step_cache: str | None,
    allow_nonstandard: bool,
) -> RenderSettings:
    """The machine switches `plan` and `run` share, as one record (with $WANFLOW_CPU_THREADS)."""
    from wanflow import settings as environment

    return RenderSettings(
        device=device,
        dtype=dtype,
        offload=offload,
        text_encoder_cpu=t5_cpu,
        vae_tiling=vae_tiling,
        step_cache=step_cache,
        allow_nonstandard=allow_nonstandard,
        cpu_threads=environment.current().cpu_threads,
    )


def _print_summary(summary) -> None:
    table = Table(title=f"{named(Path(summary.spec).name)} ({summary.profile})")
    several = any(len(shot.takes) > 1 for shot in summary.shots)
    for column in ("shot", "backend", "status", "seconds", "worker", *(("takes",) if several else ())):
        table.add_column(column)
    colours = {"rendered": "cyan", "cached": "green", "failed": "red", "skipped": "red", "not selected": "dim"}
    for shot in summary.shots:
        status = f"[{colours[shot.status]}]{shot.status}[/]"
        if shot.error:
            status += f" ({named(shot.error)})"
        row = [shot.shot_id, shot.backend, status, f"{shot.seconds:.1f}", shot.worker or ""]
        if several:
            row.append(", ".join(f"{t.take}{'*' if t.chosen else ''} {t.status}" for t in shot.takes))
        table.add_row(*row)
    print_table(console, table)
    statuses = ("rendered", "cached", "failed", "skipped")
    counts = ", ".join(f"{summary.count(s)} {s}" for s in statuses if summary.count(s))
    if several:
        takes = ", ".join(f"{summary.count_takes(s)} {s}" for s in statuses if summary.count_takes(s))
        counts += f"; takes: {takes or 'none'} (* the take the film uses)"
    phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in summary.phases.items())
    console.print(f"shots: {counts or 'none'}" + (f"; phases: {phases}" if phases else ""))
    loaded = ", ".join(f"{load['model']} ({load['worker']})" for load in summary.loads)
    console.print(f"models loaded: {loaded or 'none'}")
    if summary.film:
        console.print(f"film: [bold]{named(summary.film)}[/]")
    elif summary.report:
        console.print("no film cut; the shots that have clips are reported in:")
    for name, path in summary.report.items():
        console.print(f"  {name}: {named(path)}")
    if summary.note:
        console.print(f"[yellow]{named(summary.note)}[/]")


def _warm_for_the_next_run() -> None:
    """Say this run is a warm process's, or leave one for the next run (`wanflow.cli.warm`)."""
    from wanflow import settings as environment
    from wanflow.cli import warm

    if warm.served:
        _dim("using a warm wanflow process kept from an earlier run (its libraries already imported)")
    else:
        warm.start(environment.current().warm_linger, _dim)


def _dim(message: str) -> None:
    console.print(f"[dim]{escape(message)}[/]")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
