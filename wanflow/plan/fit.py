"""Which memory plan each take runs with: the fastest one whose estimated peak fits the card.

Plans are tried in the order of their expected speed (`wanflow.memory`); for each, the text
encoder goes to the CPU and the VAE decodes in tiles only when the GPU would not hold them
otherwise. A card of `card_gib` keeps CARD_RESERVE_GIB for CUDA itself (context, cuBLAS
workspace, allocator slack), which the estimates do not count. `ram_gib`, when given, also
bounds the weights a plan holds in CPU memory: streaming keeps every expert there, which is
why a small card with little RAM gets GGUF experts. Without a card (no --card, no CUDA) the
take keeps the plan the switches name, and nothing is checked. The peaks come from
`wanflow.backends.peaks`; tiny models are not estimated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from wanflow.backends.quantized import GGUF_REPOS
from wanflow.errors import Problem
from wanflow.memory import DEFAULT_PLAN, MEMORY_PLANS, MemoryPlan, check_card, memory_plan
from wanflow.plan.jobs import RenderJob, RenderPlan
from wanflow.plan.keys import job_keys
from wanflow.take import RenderSettings

CARD_RESERVE_GIB = 1.0


@dataclass(frozen=True)
class Budget:
    """What the plans must fit: --card, --ram (GiB; None: not bounded) and --memory (one plan forced)."""

    card_gib: float | None = None
    ram_gib: float | None = None
    forced: str | None = None


@dataclass(frozen=True)
class MemoryChoice:
    plan: str
    text_encoder_cpu: bool
    vae_tiling: bool
    peak_gib: float | None  # None for tiny models
    host_gib: float | None

    def label(self) -> str:
        """`fp8-offload`, `+ t5 cpu` and `+ vae tiling` where the plan needed them."""
        extras = [name for name, on in (("t5 cpu", self.text_encoder_cpu), ("vae tiling", self.vae_tiling)) if on]
        return " + ".join([self.plan, *extras])

    def data(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "text_encoder": "cpu" if self.text_encoder_cpu else "gpu",
            "vae_tiling": self.vae_tiling,
            "peak_gib": None if self.peak_gib is None else round(self.peak_gib, 2),
            "host_gib": None if self.host_gib is None else round(self.host_gib, 2),
        }


def card_budget(plan: RenderPlan, card: float | None, ram: float | None, memory: str | None) -> Budget:
    """--card (else $WANFLOW_CARD, else the CUDA card's free memory), --ram (else, with a card, this
    machine's memory) and --memory, each checked: one message for a card or plan that makes no sense.
    The card is looked for only when a real model generates a take (not for tiny models, nor an
    animatic): that may import torch, seconds."""
    from wanflow import settings as environment

    card = card if card is not None else environment.current().card
    if card is None and generates_with_real_models(plan):
        from wanflow.backends.peaks import this_card_gib

        card = this_card_gib()
    if ram is None and card is not None:  # the host memory of the machine that plans (--ram plans for another)
        ram = this_machine_ram_gib()
    return Budget(
        card_gib=None if card is None else check_card(card),
        ram_gib=None if ram is None else check_card(ram),
        forced=None if memory is None else memory_plan(memory).name,
    )


def generates_with_real_models(plan: RenderPlan) -> bool:
    """Whether a real-size model generates any take (tiny models and drawn animatic takes hold no card)."""
    return any(not job.tiny and not job.settings.animatic for job in plan.takes)


def this_machine_ram_gib() -> float | None:
    """This machine's physical memory in GiB, None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    except (AttributeError, OSError, ValueError):
        return None


def candidate_plans(backend_id: str, budget: Budget, default: str) -> list[MemoryPlan]:
    """The plans to try, fastest first: the forced one, every one that can hold the backend, or the default."""
    if budget.forced is not None:
        return [memory_plan(budget.forced)]
    if budget.card_gib is None:
        return [memory_plan(default)]
    plans = [plan for plan in MEMORY_PLANS.values() if not plan.gguf or backend_id in GGUF_REPOS]
    return sorted(plans, key=lambda plan: plan.speed)


def choose(
    backend_id: str,
    width: int,
    height: int,
    frames: int,
    budget: Budget,
    *,
    default: str = "resident",
    text_encoder_cpu: bool = False,
    vae_tiling: bool = False,
) -> MemoryChoice | tuple[MemoryChoice, float]:
    """The first plan that fits, or (the nearest plan, GiB over) when none does."""
    from wanflow.backends.peaks import plan_peak

    def choice(plan: MemoryPlan, te_cpu: bool, tiling: bool) -> MemoryChoice:
        peak = plan_peak(backend_id, plan, width, height, frames, text_encoder_cpu=te_cpu, vae_tiling=tiling)
        return MemoryChoice(plan.name, te_cpu, tiling, peak.gpu_gib, peak.host / (1 << 30))

    def over(candidate: MemoryChoice) -> float:
        gpu = candidate.peak_gib - (budget.card_gib - CARD_RESERVE_GIB) if budget.card_gib is not None else 0.0
        host = candidate.host_gib - budget.ram_gib if budget.ram_gib is not None else 0.0
        return max(gpu, host)

    plans = candidate_plans(backend_id, budget, default)
    if budget.card_gib is None and budget.ram_gib is None:
        return choice(plans[0], text_encoder_cpu, vae_tiling)
    nearest: tuple[MemoryChoice, float] | None = None
    for plan in plans:
        for te_cpu in sorted({text_encoder_cpu, True}):  # the GPU first, unless --t5-cpu
            for tiling in sorted({vae_tiling, True}):
                candidate = choice(plan, te_cpu, tiling)
                excess = over(candidate)
                if excess <= 0:
                    return candidate
                if nearest is None or excess < nearest[1]:
                    nearest = (candidate, excess)
    assert nearest is not None
    return nearest


def refusal(backend_id: str, budget: Budget, nearest: MemoryChoice, excess: float) -> str:
    """One message: the nearest plan and how far over it is (the problem's field names the shot)."""
    bounds = []
    if budget.card_gib is not None:
        bounds.append(f"a {budget.card_gib:g} GiB card ({CARD_RESERVE_GIB:g} GiB kept for CUDA)")
    if budget.ram_gib is not None:
        bounds.append(f"{budget.ram_gib:g} GiB of RAM")
    extras = "".join(
        f" with {what}"
        for what, on in (("the text encoder on the CPU", nearest.text_encoder_cpu), ("VAE tiling", nearest.vae_tiling))
        if on
    )
    needs = (
        f"needs an estimated {nearest.peak_gib:.1f} GiB on the GPU and {nearest.host_gib:.1f} GiB of RAM, "
        f"{excess:.1f} GiB over"
    )
    if budget.forced:
        return (
            f"--memory {budget.forced}{extras} does not fit {' and '.join(bounds)}: it {needs}; "
            "leave out --memory to let the plan choose"
        )
    return (
        f"no memory plan of {backend_id} fits {' and '.join(bounds)}: the nearest, {nearest.plan}{extras}, {needs}; "
        "try a smaller size or fewer frames, or a bigger card"
    )


def fit_plan(
    plan: RenderPlan, budget: Budget, render: RenderSettings, *, default: str = DEFAULT_PLAN
) -> tuple[RenderPlan, dict[str, MemoryChoice]]:
    """The plan with every take's memory plan fitted (`TakeSettings.memory`) and its keys made anew.

    Plans that change numbers change the latents key, and so the keys of the takes that continue
    from the take (recomputed in film order, as `make_plan` makes them). A shot size no plan fits
    is a plan problem, said once per size, naming the shot, the nearest plan and how far over.
    """
    choices: dict[str, MemoryChoice] = {}
    problems: list[Problem] = []
    refused: set[tuple[str, int, int, int]] = set()
    new_clips: dict[str, str] = {}
    fitted: dict[str, RenderJob] = {}
    for job in plan.takes:
        take = job.settings
        if take.animatic:  # drawn, not generated: no model to hold, keys as the animatic made them
            choices[job.name] = MemoryChoice("none", False, False, None, None)
            fitted[job.name] = job
            new_clips[job.name] = job.keys.clip
            continue
        if job.tiny:
            found: MemoryChoice | tuple[MemoryChoice, float] = MemoryChoice(
                budget.forced or default, render.text_encoder_cpu, render.vae_tiling, None, None
            )
            memory_plan(found.plan)
        else:
            found = choose(
                take.backend,
                take.width,
                take.height,
                take.frames,
                budget,
                default=default,
                text_encoder_cpu=render.text_encoder_cpu,
                vae_tiling=render.vae_tiling,
            )
        if not isinstance(found, MemoryChoice):
            nearest, excess = found
            size = (take.backend, take.width, take.height, take.frames)
            if size not in refused:  # said once, at the first take of that size
                refused.add(size)
                message = refusal(take.backend, budget, nearest, excess)
                problems.append(Problem(str(plan.film.path), job.shot.line, None, f"shots.{job.shot_id}", message))
            found = nearest
        choices[job.name] = found
        take = replace(take, memory=found.plan)
        keys = job_keys(
            compiled=job.compiled,
            take=take,
            weights=job.weights,
            upstream_clip=new_clips.get(job.upstream_job) if job.upstream_job else None,
            render=render,
            end_clip=new_clips.get(job.end_job) if job.end_job else None,
        )
        fitted[job.name] = replace(job, settings=take, keys=keys)
        new_clips[job.name] = keys.clip
    plan = replace(
        plan,
        jobs=tuple(fitted[job.name] for job in plan.jobs),
        takes=tuple(fitted[job.name] for job in plan.takes),
        problems=(*plan.problems, *problems),
    )
    return plan, choices
