"""The render plan as data (`wanflow plan --json`): what every take will be, cost and hold."""

from __future__ import annotations

from wanflow.cache.store import ArtifactStore
from wanflow.memory import MEMORY_PLANS
from wanflow.plan.estimate import estimate
from wanflow.plan.fit import Budget, MemoryChoice
from wanflow.plan.jobs import RenderPlan
from wanflow.take import RenderSettings


def costs_and_cache(
    plan: RenderPlan, choices: dict[str, MemoryChoice], store: ArtifactStore, settings: RenderSettings
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Per take: estimated GPU seconds under its memory plan, and its cache state
    (`no model`, `cached`, `latents`, `render`)."""
    seconds_of: dict[str, float | None] = {}
    statuses: dict[str, str] = {}
    for job in plan.takes:
        seconds, _ = estimate(job, settings)
        seconds_of[job.name] = None if seconds is None else seconds * MEMORY_PLANS[choices[job.name].plan].speed
        if job.model_dir is None and not job.settings.animatic:
            statuses[job.name] = "no model"
        elif store.has("clips", job.keys.clip):
            statuses[job.name] = "cached"
        elif store.has("latents", job.keys.latents):
            statuses[job.name] = "latents"
        else:
            statuses[job.name] = "render"
    return seconds_of, statuses


def plan_data(
    plan: RenderPlan,
    choices: dict[str, MemoryChoice],
    seconds: dict[str, float | None],
    cache: dict[str, str],
    budget: Budget,
) -> dict[str, object]:
    """One JSON-ready record per take, in film order, beside the film, profile and card it was planned for."""
    takes = []
    for job in plan.takes:
        takes.append(
            {
                "shot": job.shot_id,
                "take": job.take,
                "in_film": job.chosen,
                "backend": job.backend,
                "tiny": job.tiny,
                "model_installed": job.model_dir is not None,
                "width": job.settings.width,
                "height": job.settings.height,
                "frames": job.settings.frames,
                "fps": job.settings.fps,
                "steps": job.settings.steps,
                "seed": job.settings.seed,
                "memory": choices[job.name].data(),
                "estimated_seconds": None if seconds[job.name] is None else round(seconds[job.name], 1),
                "cache": cache[job.name],
                "clip_key": job.keys.clip,
            }
        )
    return {
        "film": plan.film.title,
        "spec": str(plan.film.path),
        "profile": plan.profile,
        "size": [plan.width, plan.height],
        "card_gib": budget.card_gib,
        "ram_gib": budget.ram_gib,
        "memory": budget.forced,
        "takes": takes,
        "problems": [str(problem) for problem in (*plan.problems, *plan.missing_models)],
    }
