"""The order shots (each take a job of its own) are generated in on one device: continuity first, then fewest model loads.

A model load costs minutes with real A14B weights, so the order is a sequence of *phases*:
load one model, render every shot of it that is ready, including those that become ready
on the way (a continuation of a shot just rendered), then switch. Running every ready shot
of the loaded model never costs a later load, so the fewest loads is the shortest sequence
of phases that renders everything: a breadth-first search over which model to load next.
"""

from __future__ import annotations

from wanflow.plan.jobs import RenderJob

MAX_FRONTIER = 64  # states kept per search depth; past it the ones with most shots done (never hit by real films)


def generation_order(jobs: list[RenderJob]) -> list[RenderJob]:
    """Every job once, each after the job it continues from, loading each model as few times as possible.

    Within a phase, shots keep film order; between equally short sequences, the one that
    loads the model of the earliest ready shot first wins (so a film of one model is in film order).
    """
    if not jobs:
        return []
    selected = {job.name for job in jobs}
    frontier: list[tuple[tuple[RenderJob, ...], str | None]] = [((), None)]
    seen: set[frozenset[str]] = set()
    while True:
        following: list[tuple[tuple[RenderJob, ...], str | None]] = []
        for order, current in frontier:
            done = {job.name for job in order}
            for backend in _ready_backends(jobs, done, selected):
                if backend == current:
                    continue
                phase = _phase(jobs, backend, done, selected)
                grown = order + phase
                if len(grown) == len(jobs):
                    return list(grown)
                key = frozenset(job.name for job in grown) | {f"\0{backend}"}
                if key not in seen:
                    seen.add(key)
                    following.append((grown, backend))
        frontier = sorted(following, key=lambda state: -len(state[0]))[:MAX_FRONTIER]


def drawing_order(jobs: list[RenderJob]) -> list[RenderJob]:
    """Drawn takes (the animatic: no model to load), the longest chain of takes waiting on them
    first, then film order: a continuation is drawn as soon as its upstream is, not alone at the
    end while the other cores idle."""
    waiting: dict[str, list[RenderJob]] = {job.name: [] for job in jobs}
    for job in jobs:
        for name in job.waits_for:
            if name in waiting:
                waiting[name].append(job)
    chain: dict[str, int] = {}  # a take and the longest run of takes waiting on it
    for job in jobs:
        stack = [job]
        while stack:  # depth first, without recursion: a chain may be thousands of shots long
            top = stack[-1]
            pending = [other for other in waiting[top.name] if other.name not in chain]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            chain[top.name] = 1 + max((chain[other.name] for other in waiting[top.name]), default=0)
    return sorted(jobs, key=lambda job: -chain[job.name])


def loads(order: list[RenderJob]) -> int:
    """How many times a device loads a model rendering `order`: once per change of backend."""
    return sum(1 for index, job in enumerate(order) if index == 0 or order[index - 1].backend != job.backend)


def _ready(job: RenderJob, done: set[str], selected: set[str]) -> bool:
    """Not done, and every job it needs a clip of (continued from, ended on) done or not in this run."""
    return job.name not in done and all(name not in selected or name in done for name in job.waits_for)


def _ready_backends(jobs: list[RenderJob], done: set[str], selected: set[str]) -> list[str]:
    """Backends with a ready job, in the film order of their first ready job."""
    return list(dict.fromkeys(job.backend for job in jobs if _ready(job, done, selected)))


def _phase(jobs: list[RenderJob], backend: str, done: set[str], selected: set[str]) -> tuple[RenderJob, ...]:
    """Every job of `backend` that is ready or becomes ready while the phase runs, in film order."""
    done = set(done)
    phase: list[RenderJob] = []
    progressed = True
    while progressed:
        progressed = False
        for job in jobs:
            if job.backend == backend and _ready(job, done, selected):
                phase.append(job)
                done.add(job.name)
                progressed = True
    return tuple(phase)
