"""`wanflow export comfyui`: one shot as a ComfyUI workflow, to tweak it by hand in ComfyUI."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from wanflow.cli.common import AllowReadOpt, make_console, user_errors
from wanflow.errors import shown

console = make_console()
export_app = typer.Typer(
    help=(
        "Write what wanflow knows in other tools' formats: `comfyui` (one shot as a ComfyUI workflow). "
        "Editor timelines (OpenTimelineIO, FCP 7 XML, CMX 3600 EDL) are written beside the film by every "
        "run: choose them with `output: {timelines: \\[otio, fcp_xml, edl]}` in the storyboard."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@export_app.command("comfyui")
def comfyui_command(
    spec: Annotated[Path, typer.Argument(help="The storyboard spec (YAML).", show_default=False)],
    shot: Annotated[str, typer.Option("--shot", help="The id of the shot to export.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The workflow file to write (.json).", show_default=False)],
    profile: Annotated[
        str,
        typer.Option(
            "--profile", "-p", help="final | draft | turbo | a profile the spec declares (preview: tiny sizes)."
        ),
    ] = "final",
    take: Annotated[
        int | None, typer.Option("--take", help="Which take of the shot (its seed); default: the one the film uses.")
    ] = None,
    allow_read: AllowReadOpt = None,
) -> None:
    """Write the shot as a ComfyUI API-format workflow from the official Wan2.2 template of its model."""
    from wanflow.confine import allow_reading
    from wanflow.report.comfyui import expert_steps, lora_copies
    from wanflow.run.export import export_comfyui

    with user_errors():
        allow_reading(allow_read)
        exported = export_comfyui(spec, shot, profile, out, take)
    settings = exported.shot.take
    say = f"wrote {shown(str(out))}: {settings.backend}, {settings.width}x{settings.height}, {settings.frames} frames"
    console.print(f"{say} @ {settings.fps} fps, seed {settings.seed}", markup=False)
    for line in expert_steps(exported.shot):
        console.print(f"  {line}", markup=False)
    if exported.start is not None:
        console.print(f"  start image: {shown(exported.start.note)}", markup=False)
    if exported.end is not None:
        console.print(f"  end image: {shown(exported.end.note)}", markup=False)
    for lora in lora_copies(exported.shot):  # `cp -n`: never overwrites; a hash in a name keeps files apart
        where = f"{lora.expert} expert{'s' if lora.expert == 'both' else ''}, " if lora.expert else ""
        target = shlex.quote(f"ComfyUI/models/loras/{lora.name}")
        if lora.source is None:
            command = f"not installed here: run `wanflow models pull lightx2v`, then cp -n it to {target}"
        else:
            command = f"cp -n {shlex.quote(str(lora.source))} {target}"
        console.print(f"  LoRA {lora.name} ({where}scale {lora.scale:g}): {command}", markup=False)
