"""Which worker renders which shot: right GPU class, warm models first, balanced, few model swaps.

Dask routes a task to any worker with the resource it asks for, but it neither groups shots by
model nor knows which worker already holds a model. So the flow places every shot on a worker
here (a pure function over the plan and the cluster's description) and pins each task to that
worker (wanflow.run.dispatch); when the worker dies, the flow places it again on a live worker
of its class.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanflow.catalog import BACKENDS, card_resources
from wanflow.errors import Problem
from wanflow.plan.jobs import RenderJob
from wanflow.plan.order import generation_order

LOAD_COST = 4.0
"""A model load, in units of one average shot's work: worth queueing a shot behind a warm worker."""


@dataclass(frozen=True)
class WorkerSlot:
    """One worker as the placement sees it: where it is, what it can hold, what it holds now."""

    address: str
    name: str
    resources: frozenset[str]  # GPU classes it declares, e.g. {"GPU24", "GPU80"}
    warm: frozenset[str] = frozenset()  # backends whose generator it holds
    warm_text_encoders: frozenset[str] = frozenset()  # backends whose text encoder it holds


@dataclass(frozen=True)
class Placement:
    worker: dict[str, str]  # job name (a shot's id, `id#2` for its second take) -> worker address
    rank: dict[str, int]  # job name -> submission rank (lower runs first on its worker)
    encoder: dict[str, str]  # backend -> the worker that encodes its prompts

    def shots_on(self, address: str) -> list[str]:
        return sorted((s for s, a in self.worker.items() if a == address), key=self.rank.__getitem__)


def unplaceable(jobs: list[RenderJob], workers: list[WorkerSlot], where: str, address: str) -> list[Problem]:
    """One problem per backend that no worker of the cluster at `address` can run (refused before any work)."""
    problems = []
    for backend in sorted({job.backend for job in jobs}):
        needed = BACKENDS[backend].card_resource
        if not any(needed in worker.resources for worker in workers):
            shots = ", ".join(dict.fromkeys(job.shot_id for job in jobs if job.backend == backend))
            offered = sorted({r for w in workers for r in w.resources}) or ["none"]
            problems.append(
                Problem(
                    where,
                    None,
                    None,
                    "--cluster",
                    f"no worker can run {backend} (shots {shots}): it needs a worker with the {needed} "
                    f"resource, the cluster offers {', '.join(offered)}; start one with "
                    f"`{worker_command(address, needed)}`",
                )
            )
    return problems


def worker_command(address: str, resource: str) -> str:
    """The `dask worker` line of docs/deployments.md for a worker offering `resource`."""
    offered = card_resources(int(resource.removeprefix("GPU")))  # an 80 GB card also serves GPU24
    resources = ",".join(f"{name}={amount}" for name, amount in sorted(offered.items(), reverse=True))
    return f'dask worker {address} --nthreads 1 --memory-limit 0 --resources "{resources}" --preload wanflow.run.warmup'


def place(jobs: list[RenderJob], workers: list[WorkerSlot]) -> Placement:
    """Greedy list scheduling in generation order, each shot to the capable worker that finishes it first.

    A worker's finish time counts its shots' work (frames x pixels x steps) plus a load for
    every model it does not hold yet, so warm workers attract their model's shots, a worker
    keeps one model while it has shots of it, and the work still spreads when it is plentiful.
    A continuing shot waits for its upstream, so it starts no earlier than that shot ends. Each
    take of a shot is a job of its own, placed like any shot.
    """
    order = generation_order(jobs)
    unit = sum(_work(job) for job in order) / max(1, len(order))
    busy_until = {w.address: 0.0 for w in workers}
    holds = {w.address: set(w.warm) for w in workers}
    last_backend: dict[str, str | None] = {w.address: None for w in workers}
    ends: dict[str, float] = {}
    placement: dict[str, str] = {}
    for job in order:
        needed = BACKENDS[job.backend].card_resource
        ready_at = max((ends.get(name, 0.0) for name in job.waits_for), default=0.0)

        def finish(worker: WorkerSlot) -> tuple[float, str]:
            load = 0.0 if job.backend in holds[worker.address] else LOAD_COST * unit
            swap = 0.0 if last_backend[worker.address] in (None, job.backend) else LOAD_COST * unit
            start = max(busy_until[worker.address], ready_at)
            return start + load + swap + _work(job), worker.address

        capable = [w for w in workers if needed in w.resources]
        _, address = min(finish(w) for w in capable)
        end = max(busy_until[address], ready_at) + _work(job)
        if job.backend not in holds[address]:
            end += LOAD_COST * unit
        busy_until[address] = end
        ends[job.name] = end
        holds[address] = {job.backend}  # a worker keeps one generator resident
        last_backend[address] = job.backend
        placement[job.name] = address
    encoder = {}
    for job in order:  # a worker holding the text encoder, else the one rendering the model's first shot
        if job.backend not in encoder:
            holding = [w.address for w in workers if job.backend in w.warm_text_encoders]
            encoder[job.backend] = holding[0] if holding else placement[job.name]
    return Placement(placement, {job.name: index for index, job in enumerate(order)}, encoder)


def _work(job: RenderJob) -> float:
    return float(job.settings.frames * job.settings.width * job.settings.height * job.settings.steps)
