"""`wanflow export comfyui`: one shot, as the render plan fixes it, as a ComfyUI workflow beside its start frame.

The plan decides the shot exactly as a run would; ComfyUI loads its own weights, so a model
missing on this machine does not stop the export (the plan's `missing_models` are left out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.cache import ArtifactStore, default_cache_dir
from wanflow.errors import Problem, UserError
from wanflow.plan import RenderJob, RenderPlan, make_plan
from wanflow.report.comfyui import ShotSettings, shot_workflow
from wanflow.storyboard import load_film


@dataclass(frozen=True)
class StartImage:
    """The shot's start frame, written beside the workflow as `name` for ComfyUI's input folder."""

    name: str
    source: Path | None  # an image file, or the upstream clip whose last frame it is; None: not rendered yet
    from_clip: bool
    note: str


@dataclass(frozen=True)
class ComfyExport:
    shot: ShotSettings
    start: StartImage | None


def export_comfyui(spec: Path, shot_id: str, profile: str, out: Path) -> ComfyExport:
    """Write the shot's workflow to `out` (and its start frame beside it when there is one)."""
    if out.is_dir():
        raise UserError(Problem(str(out), None, None, "--out", "is a folder; name the workflow file to write"))
    plan = make_plan(load_film(spec), profile)
    job = _exported_job(plan, shot_id)
    start = _start_image(spec, plan, job) if job.shot.image_conditioned else None
    shot = ShotSettings(
        shot_id=shot_id,
        prompt=job.compiled.prompt,
        negative=job.compiled.negative,
        take=job.settings,
        start_image=start.name if start else None,
    )
    workflow = shot_workflow(shot)  # every problem is found before anything is written
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(workflow, ensure_ascii=False, indent=2) + "\n")
    if start is not None and start.source is not None:
        _write_start_image(start, out.parent / start.name)
    return ComfyExport(shot, start)


def _exported_job(plan: RenderPlan, shot_id: str) -> RenderJob:
    known = [job.shot_id for job in plan.jobs]
    if shot_id not in known:
        message = f"no shot {shot_id!r} in the film; its shots: {', '.join(known)}"
        raise UserError(Problem(str(plan.film.path), None, None, "--shot", message))
    problems = plan.shot_problems(shot_id, models=False)
    if problems:
        raise UserError(problems)
    return plan.job(shot_id)


def _start_image(spec: Path, plan: RenderPlan, job: RenderJob) -> StartImage:
    """The shot's own image, or the last frame of the shot it continues from when that is rendered."""
    name = f"{job.shot_id}_start.png"
    if job.shot.image is not None:
        return StartImage(name, job.shot.image, False, f"{name} (from {job.shot.image}): copy it into ComfyUI/input/")
    upstream = plan.job(job.upstream)
    clip = ArtifactStore(default_cache_dir(spec.resolve())).get_file("clips", upstream.keys.clip)
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
