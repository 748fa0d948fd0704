"""`wanflow export comfyui`: one shot as a ComfyUI workflow, to tweak it by hand in ComfyUI."""

from __future__ import annotations

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
    allow_read: AllowReadOpt = None,
) -> None:
    """Write the shot as a ComfyUI API-format workflow from the official Wan2.2 template of its model."""
    from wanflow.confine import allow_reading
    from wanflow.report.comfyui import expert_steps
    from wanflow.run.export import export_comfyui

    with user_errors():
        allow_reading(allow_read)
        exported = export_comfyui(spec, shot, profile, out)
    take = exported.shot.take
    say = f"wrote {out}: {take.backend}, {take.width}x{take.height}, {take.frames} frames"
    console.print(f"{say} @ {take.fps} fps, seed {take.seed}", markup=False)
    console.print(f"  {expert_steps(exported.shot)}", markup=False)
    if exported.start is not None:
        console.print(f"  start image: {exported.start.note}", markup=False)
    for lora in take.loras:
        where = f"{lora.expert} expert, scale {lora.scale:g}"
        console.print(f"  LoRA: copy {lora.path} into ComfyUI/models/loras/ ({where})", markup=False)
