"""`wanflow export comfyui`: one shot as a ComfyUI workflow, to tweak it by hand in ComfyUI."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from wanflow.cli.common import AllowReadOpt, make_console, user_errors

console = make_console()
export_app = typer.Typer(help="Write what wanflow knows in other tools' formats.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command("comfyui")
def comfyui_command(
    spec: Annotated[Path, typer.Argument(help="The storyboard spec (YAML).", show_default=False)],
    shot: Annotated[str, typer.Option("--shot", help="The id of the shot to export.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The workflow file to write (.json).", show_default=False)],
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="final | draft | a profile the spec declares (preview: tiny sizes).")
    ] = "final",
    take: Annotated[
        int | None, typer.Option("--take", help="Which take of the shot (its seed); default: the one the film uses.")
    ] = None,
    allow_read: AllowReadOpt = None,
) -> None:
    """Write the shot as a ComfyUI API-format workflow from the official Wan2.2 template of its model."""
    from wanflow.confine import allow_reading
    from wanflow.report.comfyui import expert_steps, lora_file_name
    from wanflow.run.export import export_comfyui

    with user_errors():
        allow_reading(allow_read)
        exported = export_comfyui(spec, shot, profile, out, take)
    settings = exported.shot.take
    say = f"wrote {out}: {settings.backend}, {settings.width}x{settings.height}, {settings.frames} frames"
    console.print(f"{say} @ {settings.fps} fps, seed {settings.seed}", markup=False)
    for line in expert_steps(exported.shot):
        console.print(f"  {line}", markup=False)
    if exported.start is not None:
        console.print(f"  start image: {exported.start.note}", markup=False)
    if exported.end is not None:
        console.print(f"  end image: {exported.end.note}", markup=False)
    for lora in settings.loras:
        name = lora_file_name(lora)  # `cp -n`: never overwrites; the hash in the name keeps files apart
        where = f"{lora.expert} expert{'s' if lora.expert == 'both' else ''}, " if settings.boundary_ratio else ""
        command = f"cp -n {shlex.quote(str(lora.path))} {shlex.quote(f'ComfyUI/models/loras/{name}')}"
        console.print(f"  LoRA {name} ({where}scale {lora.scale:g}): {command}", markup=False)
