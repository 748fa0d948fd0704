"""`wanflow export comfyui`: one shot as a ComfyUI workflow, to tweak it by hand in ComfyUI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wanflow.cli.common import AllowReadOpt, make_console, user_errors
from wanflow.errors import Problem, UserError, shown

if TYPE_CHECKING:
    from wanflow.report.comfyui import ShotSettings

console = make_console()
export_app = typer.Typer(help="Write what wanflow knows in other tools' formats.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@dataclass(frozen=True)
class StartImage:
    """The shot's start frame, written beside the workflow as `name` for ComfyUI's input folder."""

    name: str
    source: Path | None  # an image file, or the upstream clip whose last frame it is; None: not rendered yet
    from_clip: bool
    note: str


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
    from wanflow.atomic import write_text_atomic
    from wanflow.confine import allow_reading
    from wanflow.report.comfyui import expert_steps, shot_workflow

    with user_errors():  # every problem is found before anything is written
        allow_reading(allow_read)
        if out.is_dir():
            raise UserError(Problem(str(out), None, None, "--out", "is a folder; name the workflow file to write"))
        settings, start = export_settings(spec, shot, profile)
        workflow = shot_workflow(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(workflow, ensure_ascii=False, indent=2) + "\n")
    say = f"wrote {shown(str(out))}: {settings.backend}, {settings.width}x{settings.height}, {settings.frames} frames"
    console.print(f"{say} @ {settings.fps} fps, seed {settings.seed}", markup=False)
    console.print(f"  {expert_steps(settings)}", markup=False)
    if start is not None:
        if start.source is not None:
            _write_start_image(start, out.parent / start.name)
        console.print(f"  start image: {shown(start.note)}", markup=False)
    for lora in settings.loras:
        where = f"{lora.expert} expert, scale {lora.scale:g}"
        console.print(f"  LoRA: copy {shown(str(lora.path))} into ComfyUI/models/loras/ ({where})", markup=False)


def export_settings(spec: Path, shot_id: str, profile: str) -> tuple[ShotSettings, StartImage | None]:
    """The shot as the render plan fixes it, for the export; a UserError for a shot it cannot export."""
    from wanflow.catalog import BACKENDS
    from wanflow.plan import make_plan
    from wanflow.report.comfyui import ShotSettings
    from wanflow.storyboard import load_film

    film = load_film(spec)
    plan = make_plan(film, profile)
    known = [job.shot_id for job in plan.jobs]
    if shot_id not in known:
        message = f"no shot {shot_id!r} in the film; its shots: {', '.join(known)}"
        raise UserError(Problem(str(film.path), None, None, "--shot", message))
    # ComfyUI loads its own weights: a model missing on this machine does not stop the export.
    problems = [
        p
        for p in plan.problems
        if p.field.startswith(f"shots.{shot_id}.")
        and "not installed" not in p.message
        and "model missing" not in p.message
    ]
    if problems:
        raise UserError(problems)
    job = plan.job(shot_id)
    start = _start_image(film.path, plan, job) if job.shot.image_conditioned else None
    settings = ShotSettings(
        shot_id=shot_id,
        backend=job.backend,
        prompt=job.compiled.prompt,
        negative=job.compiled.negative,
        seed=job.seed,
        width=job.width,
        height=job.height,
        frames=job.frames,
        fps=job.fps,
        steps=job.steps,
        shift=job.shift,
        guidance_high=job.guidance_high,
        guidance_low=job.guidance_low,
        boundary_ratio=BACKENDS[job.backend].boundary_ratio,
        start_image=start.name if start else None,
        loras=job.shot.loras,
    )
    return settings, start


def _start_image(spec_path: Path, plan, job) -> StartImage:
    """The shot's own image, or the last frame of the shot it continues from when that is rendered."""
    from wanflow.cache import ArtifactStore, default_cache_dir
    from wanflow.media.clips import cached_clip

    name = f"{job.shot_id}_start.png"
    if job.shot.image is not None:
        return StartImage(name, job.shot.image, False, f"{name} (from {job.shot.image}): copy it into ComfyUI/input/")
    upstream = plan.job(job.upstream)
    clip = cached_clip(ArtifactStore(default_cache_dir(spec_path)), upstream.keys.clip)
    if clip is None:
        note = (
            f"the last frame of {upstream.shot_id}, which is not rendered under profile {plan.profile} yet: "
            f"render it, then put its last frame at ComfyUI/input/{name}"
        )
        return StartImage(name, None, True, note)
    return StartImage(name, clip, True, f"{name} (the last frame of {upstream.shot_id}): copy it into ComfyUI/input/")


def _write_start_image(start: StartImage, target: Path) -> None:
    from PIL import Image

    from wanflow.run.phases import last_frame_image

    assert start.source is not None
    if start.from_clip:
        last_frame_image(start.source, target)
        return
    with Image.open(start.source) as image:
        image.convert("RGB").save(target)
