"""`wanflow export comfyui`: one shot, as the render plan fixes it, as a ComfyUI workflow beside its start frame.

The plan decides the shot exactly as a run would; ComfyUI loads its own weights, so a model
missing on this machine does not stop the export (the plan's `missing_models` are left out; turbo: the
template's Lightning branch names the lightx2v LoRAs whether or not they are installed here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.cache import ArtifactStore, default_cache_dir
from wanflow.errors import Problem, UserError
from wanflow.film import MAX_TAKES
from wanflow.media.clips import cached_clip
from wanflow.plan import RenderJob, RenderPlan, make_plan
from wanflow.report.comfyui import ShotSettings, shot_workflow
from wanflow.storyboard import load_film
from wanflow.storyboard.mediafiles import open_start_image


@dataclass(frozen=True)
class StartImage:
    """The shot's start frame, written beside the workflow as `name` for ComfyUI's input folder."""

    name: str
    source: Path | None  # an image file, or the upstream clip whose last frame it is; None: not rendered yet
    from_clip: bool
    note: str
    first_frame: bool = False  # from a clip: its first frame (an end frame, `end_at:`), else its last


@dataclass(frozen=True)
class ComfyExport:
    shot: ShotSettings
    start: StartImage | None
    end: StartImage | None = None  # the last frame of a first-last-frame shot (the flf2v template)


def export_comfyui(spec: Path, shot_id: str, profile: str, out: Path, take: int | None = None) -> ComfyExport:
    """Write the shot's workflow to `out` (and its start frame beside it when there is one)."""
    if out.is_dir():
        raise UserError(Problem(str(out), None, None, "--out", "is a folder; name the workflow file to write"))
    exported = comfyui_shot(spec, shot_id, profile, take)
    shot, start = exported.shot, exported.start
    workflow = shot_workflow(shot)  # every problem is found before anything is written
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(workflow, ensure_ascii=False, indent=2) + "\n")
    for frame in (start, exported.end):
        if frame is not None and frame.source is not None:
            _write_start_image(frame, out.parent / frame.name)
    return exported


def comfyui_shot(
    spec: Path, shot_id: str, profile: str, take: int | None = None, plan: RenderPlan | None = None
) -> ComfyExport:
    """The shot's take (default: the one the film uses) as the export sets it; nothing written.
    `plan`: the spec's plan under `profile`, when the caller has it already."""
    if take is not None and not 1 <= take <= MAX_TAKES:
        raise UserError(Problem("wanflow", None, None, "--take", f"must be 1 .. {MAX_TAKES}, not {take}"))
    film = plan.film if plan is not None else load_film(spec)
    plan = plan if plan is not None else make_plan(film, profile)
    if take is not None and shot_id in {job.shot_id for job in plan.jobs}:
        if take not in {job.take for job in plan.takes_of(shot_id)}:
            plan = make_plan(film, profile, takes=take)  # a take beyond the storyboard's `takes:`, as `run --takes`
    job = _exported_job(plan, shot_id, take)
    start = _start_image(spec, plan, job) if job.shot.image_conditioned else None
    end = _end_image(spec, plan, job) if job.shot.end_conditioned else None
    shot = ShotSettings(
        shot_id=shot_id,
        prompt=job.compiled.prompt,
        negative=job.compiled.negative,
        take=job.settings,
        start_image=start.name if start else None,
        end_image=end.name if end else None,
    )
    return ComfyExport(shot, start, end)


def _exported_job(plan: RenderPlan, shot_id: str, take: int | None) -> RenderJob:
    known = [job.shot_id for job in plan.jobs]
    if shot_id not in known:
        message = f"no shot {shot_id!r} in the film; its shots: {', '.join(known)}"
        raise UserError(Problem(str(plan.film.path), None, None, "--shot", message))
    problems = plan.shot_problems(shot_id, models=False)
    if problems:
        raise UserError(problems)
    if plan.job(shot_id).settings.animatic:
        message = f"profile {plan.profile} draws its takes without a model: no workflow to export; export a profile that renders (draft, final, turbo)"
        raise UserError(Problem(str(plan.film.path), None, None, "--profile", message))
    if take is None:
        return plan.job(shot_id)
    return next(job for job in plan.takes_of(shot_id) if job.take == take)


def _start_image(spec: Path, plan: RenderPlan, job: RenderJob) -> StartImage:
    """The shot's own image, or the last frame of the shot it continues from when that is rendered."""
    name = f"{job.shot_id}_start.png"
    if job.shot.image is not None:
        return StartImage(name, job.shot.image, False, f"{name} (from {job.shot.image}): copy it into ComfyUI/input/")
    upstream = plan.job(job.upstream)
    clip = cached_clip(ArtifactStore(default_cache_dir(spec.resolve())), upstream.keys.clip)
    if clip is None:
        return StartImage(name, None, True, _not_written(spec, plan, upstream, name, "last"))
    return StartImage(name, clip, True, f"{name} (the last frame of {upstream.shot_id}): copy it into ComfyUI/input/")


def _end_image(spec: Path, plan: RenderPlan, job: RenderJob) -> StartImage:
    """The shot's end frame: a file (its end_image, or the image of the shot it ends at), or that shot's first frame."""
    name = f"{job.shot_id}_end.png"
    if job.settings.end_image is not None:
        source = job.settings.end_image
        return StartImage(name, source, False, f"{name} (from {source}): copy it into ComfyUI/input/")
    assert job.end_shot is not None
    target = plan.job(job.end_shot)
    clip = cached_clip(ArtifactStore(default_cache_dir(spec.resolve())), target.keys.clip)
    if clip is None:
        return StartImage(name, None, True, _not_written(spec, plan, target, name, "first"), first_frame=True)
    note = f"{name} (the first frame of {target.shot_id}): copy it into ComfyUI/input/"
    return StartImage(name, clip, True, note, first_frame=True)


def _not_written(spec: Path, plan: RenderPlan, source: RenderJob, name: str, which: str) -> str:
    return (
        f"NOT WRITTEN: it is the {which} frame of {source.name}, not rendered under profile {plan.profile} yet, "
        f"and ComfyUI refuses this workflow until ComfyUI/input/{name} exists. "
        f"`wanflow run {spec} --profile {plan.profile} --only {source.shot_id}` renders it; "
        f"then export this shot again and {name} is written here"
    )


def _write_start_image(start: StartImage, target: Path) -> None:
    from wanflow.run.phases import first_frame_image, last_frame_image

    assert start.source is not None
    if start.from_clip:
        (first_frame_image if start.first_frame else last_frame_image)(start.source, target)
        return
    with open_start_image(start.source) as image:  # its format only, within the pixel limit
        image.convert("RGB").save(target)
