"""The order shots (each take a job of its own) are generated in on one device: continuity first, then fewest model swaps."""

from __future__ import annotations

from wanflow.plan.jobs import RenderJob


def generation_order(jobs: list[RenderJob]) -> list[RenderJob]:
    """Continuity first, then as few model swaps as possible.

    Greedy: keep rendering ready shots on the backend that is loaded; when none is ready,
    switch to the backend with the most ready shots. Text-only backends never depend on
    another shot, so the usual plans load each backend exactly once.
    """
    pending = list(jobs)
    selected = {job.name for job in jobs}
    done: set[str] = set()
    order: list[RenderJob] = []
    current: str | None = None
    while pending:
        ready = [j for j in pending if all(name not in selected or name in done for name in j.waits_for)]
        if not any(j.backend == current for j in ready):
            counts: dict[str, int] = {}
            for j in ready:
                counts[j.backend] = counts.get(j.backend, 0) + 1
            current = max(counts, key=lambda b: (counts[b], -_first_index(ready, b)))
        job = next(j for j in ready if j.backend == current)
        order.append(job)
        done.add(job.name)
        pending.remove(job)
    return order


def _first_index(jobs: list[RenderJob], backend: str) -> int:
    return next(i for i, j in enumerate(jobs) if j.backend == backend)
