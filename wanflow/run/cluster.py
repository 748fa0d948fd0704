"""The Dask cluster: local clusters for a run or `wanflow cluster start`, and what its workers offer.

One worker per GPU, each a long-lived process with `--nthreads 1` (one task at a time, so its
model pool stays warm across shots and flow runs), declaring the GPU classes its card can
serve as Dask resources. GPU workers hold tens of GB of weights in host memory, so Dask's
memory manager is switched off for them (no pause at 80 %, no kill at 95 %).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from wanflow import settings
from wanflow.catalog import card_resources
from wanflow.errors import Problem, UserError
from wanflow.plan.placement import WorkerSlot

DEFAULT_CARD_GB = 80
"""What `--gpus` assumes each card holds (WANFLOW_CARD_GB overrides): every backend fits one."""

WORKER_OPTIONS = {"nthreads": 1, "memory_limit": 0, "preload": ["wanflow.run.warmup"]}
"""memory_limit 0 turns Dask's memory manager off: model weights are not a leak to pause or kill for;
the warm-up preload does the heavy imports when the worker starts."""


CLUSTER_CONFIG = {
    # A lost worker's nanny restarts it; SpecCluster would close that nanny when no worker of its
    # name is back within 15 s, and a worker that imports torch on a busy machine takes longer:
    # the cluster kept one worker less for good. `wanflow cluster start` reopens closed ones too.
    "distributed.deploy.lost-worker-timeout": "10 minutes",
    # Dask has glibc give freed memory back to the system at once (MALLOC_TRIM_THRESHOLD_=65536),
    # which also sends every large allocation to a fresh mmap: torch's CPU work (the tiny models'
    # decode, a text encoder kept on the CPU) ran 2x slower. Workers hold models, not a churn of
    # small objects, and their memory manager is off anyway.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}
"""The Dask settings of the clusters wanflow starts (docs/deployments.md has them for your own)."""


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    env: dict[str, str]  # CUDA_VISIBLE_DEVICES for a GPU worker
    resources: dict[str, int]


def worker_specs(workers: int = 0, gpus: tuple[int, ...] = ()) -> list[WorkerSpec]:
    """`--gpus 0,1`: one worker per GPU, pinned to it; `--workers N`: N CPU workers (tiny models)."""
    if gpus:
        card_gb = settings.current().card_gb
        return [
            WorkerSpec(f"gpu{index}", {"CUDA_VISIBLE_DEVICES": str(index)}, card_resources(card_gb)) for index in gpus
        ]
    if workers < 1:
        raise UserError(Problem("wanflow", None, None, "--workers", f"needs at least 1 worker, not {workers}"))
    # CPU workers run the tiny models of every backend; CUDA stays hidden from them.
    return [
        WorkerSpec(f"cpu{index}", {"CUDA_VISIBLE_DEVICES": ""}, card_resources(DEFAULT_CARD_GB))
        for index in range(workers)
    ]


def check_worker_specs(specs: list[WorkerSpec], prepared) -> None:
    """A local cluster about to be started can run every model of the run (else exit 2, nothing started)."""
    from wanflow.plan.placement import unplaceable

    slots = [WorkerSlot(spec.name, spec.name, frozenset(spec.resources)) for spec in specs]
    problems = unplaceable(list(prepared.jobs), slots, str(prepared.plan.film.path), "tcp://SCHEDULER:8786")
    if problems:
        raise UserError(problems)


def local_cluster(specs: list[WorkerSpec], port: int = 0, prefect_api_url: str | None = None):
    """A scheduler and one worker process (under a nanny) per spec, on 127.0.0.1; its workers report
    to `prefect_api_url` (the run's server) when given."""
    import dask
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {
        spec.name: {
            "cls": Nanny,
            "options": {
                **WORKER_OPTIONS,
                "name": spec.name,
                "env": _worker_env(spec, prefect_api_url),
                "resources": spec.resources,
            },
        }
        for spec in specs
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "port": port, "dashboard": False}}
    dask.config.set(CLUSTER_CONFIG)  # for this process's life: read again whenever a worker dies or restarts
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=40)


class WorkerKeeper:
    """Keeps a cluster that `local_cluster` started at its size, and says so.

    A killed worker's nanny starts a new worker process; when the nanny itself is gone (or was
    closed), a new one is started here. `check()` every few seconds, for as long as it serves.
    """

    def __init__(self, cluster, specs: list[WorkerSpec], say) -> None:
        self.cluster, self.specs, self.say = cluster, specs, say
        self.missing: set[str] = set()

    def check(self) -> None:
        present = {str(worker["name"]) for worker in self.cluster.scheduler_info.get("workers", {}).values()}
        missing = {spec.name for spec in self.specs if spec.name not in present}
        for name in sorted(missing - self.missing):
            self.say(f"worker {name} left the cluster; starting it again")
        for name in sorted(self.missing - missing):
            self.say(f"worker {name} is back: {len(present)} of {len(self.specs)} workers")
        self.missing = missing
        if any(name not in self.cluster.workers for name in missing):  # its nanny is gone: a new one
            self.cluster.sync(self.cluster._correct_state)


def _worker_env(spec: WorkerSpec, prefect_api_url: str | None) -> dict[str, str]:
    return {**spec.env, "PREFECT_API_URL": prefect_api_url} if prefect_api_url else dict(spec.env)


def describe_workers(client) -> list[WorkerSlot]:
    """Every worker of the cluster with its resources and the generator it holds warm."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    warm = client.run(_warm_models)
    return [
        WorkerSlot(
            address=address,
            name=str(worker.get("name", address)),
            resources=frozenset(name for name, amount in (worker.get("resources") or {}).items() if amount >= 1),
            warm=frozenset(warm.get(address, {}).get("generators", ())),
            warm_text_encoders=frozenset(warm.get(address, {}).get("text_encoders", ())),
        )
        for address, worker in sorted(info.items())
    ]


def worker_name() -> str:
    """The Dask worker this code runs on, or "local" in the flow's own process."""
    distributed = sys.modules.get("distributed")  # loaded on every worker; an in-process run need not import it
    if distributed is None:
        return "local"
    try:
        return str(distributed.get_worker().name)
    except ValueError:  # a process that merely imported it (a client, a local cluster's parent)
        return "local"


def _warm_models() -> dict[str, list[str]]:
    from wanflow.run.pool import warm_models

    return warm_models()


def connect(address: str, where: str):
    """A Dask client for `address`, or a clear problem when nothing answers there."""
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise UserError(
            Problem(where, None, None, "--cluster", f"no Dask scheduler answers at {address}: {error}")
        ) from None


def check_cluster(client, prepared) -> list[WorkerSlot]:
    """Before any work: some worker can run every model, every worker sees the cache.

    A worker on another machine without the shared cache folder would render into a cache the
    flow never reads; it is refused here, by name, instead. Returns the workers.
    """
    import uuid

    from wanflow.plan.placement import unplaceable

    where = str(prepared.plan.film.path)
    workers = describe_workers(client)
    if not workers:
        raise UserError(
            Problem(where, None, None, "--cluster", f"the cluster at {client.scheduler.address} has no workers")
        )
    problems = unplaceable(list(prepared.jobs), workers, where, client.scheduler.address)
    prepared.cache_dir.mkdir(parents=True, exist_ok=True)
    probe = prepared.cache_dir / f".probe-{uuid.uuid4().hex}"
    probe.write_text("wanflow", encoding="utf-8")
    try:
        seen = client.run(_sees, str(probe))
    finally:
        probe.unlink(missing_ok=True)
    blind = sorted(str(w.name) for w in workers if not seen.get(w.address))
    if blind:
        problems.append(
            Problem(
                where,
                None,
                None,
                "--cache",
                f"worker(s) {', '.join(blind)} cannot see the cache {prepared.cache_dir}: "
                "every worker must reach the same cache folder (a shared filesystem, same path)",
            )
        )
    if problems:
        raise UserError(problems)
    return workers


def _sees(path: str) -> bool:
    try:
        return open(path, encoding="utf-8").read() == "wanflow"
    except OSError:
        return False
