"""Submitting a run's tasks and gathering them, on any engine, through dying workers.

Each unit of work (an `encode-prompts` per model, a `render-shot` per take) is submitted once
what it needs is done: its model's prompts, its upstream's clip. On Dask it is pinned to one
worker of its GPU class: the resource and `workers=[address]`, never `allow_other_workers`,
which Dask lets loosen the resource too (dask/distributed issue 4792: an A14B shot sent to a
24 GB worker, `KeyError: 'GPU80'` in work stealing). So no path of Dask's (placement,
stealing, the retry of a lost worker's task) can move a task off its class, and the
scheduler needs no setting for it.

Dask's own retry would not help a pinned task anyway: it waits for the dead address forever.
So the flow watches the cluster: when a unit's worker leaves, the attempt is recorded as
`retried` (its Prefect task run marked Crashed), and the unit goes to a live worker of its
class, the one holding its model when there is one. When no worker of its class is left, it
waits up to `wait_seconds` for one to join (a nanny restarting the dead one), then fails alone,
saying so; the takes continuing from it are skipped. Nothing waits forever.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wanflow.backends.turns import Turns
from wanflow.catalog import BACKENDS
from wanflow.plan import RenderJob

POLL_SECONDS = 1.0
"""How often a Dask run looks at its workers while it waits for its tasks."""


@dataclass
class Attempt:
    """One try of a unit on one worker, as run.json records it."""

    worker: str
    status: str  # done | failed | retried (its worker died under it)
    error: str | None = None


@dataclass
class Unit:
    """One task to run: an encode (`encode-<backend>`) or a take's render (the job's name)."""

    name: str
    job: RenderJob  # the take; for an encode, the first job of its model
    task: Any  # the Prefect task
    parameters: dict[str, Any]
    needs: tuple[str, ...] = ()  # units that must be done first
    worker: str | None = None  # on Dask: the address it is placed (pinned) on
    rank: int = 0  # lower runs first on its worker
    state: str = "waiting"  # waiting | running | done | failed | skipped
    report: Any = None  # the TaskReport it returned
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    future: Any = None
    waiting_since: float | None = None  # no live worker of its class since then (monotonic)

    @property
    def resource(self) -> str:
        return BACKENDS[self.job.backend].card_resource

    @property
    def is_encode(self) -> bool:
        return self.name.startswith("encode-")


@dataclass(frozen=True)
class LiveWorker:
    address: str
    name: str
    resources: frozenset[str]


class Dispatcher:
    """Runs units to the end: each done, failed or skipped, none left waiting or running."""

    def __init__(
        self,
        runner,
        units: list[Unit],
        *,
        client=None,
        slots: int | None = None,
        turns: Turns | None = None,
        wait_seconds: float = 120.0,
        log=None,
    ) -> None:
        self.runner = runner
        self.slots = slots  # in-process: how many run at once; the next is chosen when one ends, by rank
        self.turns = turns  # in-process: the pool's model stage, handed out in the order units are submitted
        self.units = {unit.name: unit for unit in units}
        self.client = client  # a Dask client: None in-process
        self.wait_seconds = wait_seconds
        self.log = log
        self.workers: dict[str, LiveWorker] = {}  # the live ones, by address
        self.names: dict[str, str] = {}  # every worker seen in this run: address -> name
        self.warm: dict[str, set[str]] = {}  # worker address -> backends sent to it in this run
        self.first_seen: set[str] = set()  # the workers there when the run began

    def run(self, on_finished: Callable[[Unit], None] = lambda unit: None) -> dict[str, Unit]:
        if self.client is not None:
            self.workers = self._live_workers()
            self.first_seen = set(self.workers)
        while True:
            self._settle_blocked()
            self._submit_ready()
            running = [unit for unit in self.units.values() if unit.state == "running"]
            waiting = [unit for unit in self.units.values() if unit.state == "waiting"]
            if not running and not waiting:
                return self.units
            for unit in self._finished(running):
                self._collect(unit)
                on_finished(unit)
            if self.client is not None:
                self.workers = self._live_workers()
                self._survive_departures()

    # --- submission -------------------------------------------------------------------------

    def _settle_blocked(self) -> None:
        """A unit whose prerequisite failed does not run: failed after its encode, skipped after a take it needs."""
        for unit in self.units.values():
            if unit.state != "waiting":
                continue
            for need in (self.units[name] for name in unit.needs):
                if need.state in ("failed", "skipped"):
                    if need.is_encode:
                        unit.state, unit.error = "failed", f"its prompts could not be encoded: {need.error}"
                    else:
                        how = "continues from" if need.name == unit.job.upstream_job else "ends on the first frame of"
                        unit.state, unit.error = "skipped", f"{how} failed shot {need.job.shot_id!r}"
                    break

    def _submit_ready(self) -> None:
        ready = [
            unit
            for unit in self.units.values()
            if unit.state == "waiting" and all(self.units[name].state == "done" for name in unit.needs)
        ]
        if self.slots is not None:  # the thread pool would run them first come: choose when a slot is free
            running = sum(1 for unit in self.units.values() if unit.state == "running")
            ready = sorted(ready, key=lambda unit: unit.rank)[: max(0, self.slots - running)]
        for unit in sorted(ready, key=lambda unit: unit.rank):
            if self.client is None:
                self._submit(unit, None)
                continue
            worker = self._choose_worker(unit)
            if worker is not None:
                unit.waiting_since = None
                self._submit(unit, worker)
                continue
            now = time.monotonic()
            if unit.waiting_since is None:
                unit.waiting_since = now
                self._say(
                    f"{unit.name}: no worker with {unit.resource} is left; waiting up to "
                    f"{self.wait_seconds:.0f} s for one to join"
                )
            elif now - unit.waiting_since > self.wait_seconds:
                lost = f" after its worker {unit.attempts[-1].worker} died" if unit.attempts else ""
                unit.state = "failed"
                unit.error = (
                    f"no worker with the {unit.resource} resource{lost}; none joined within "
                    f"{self.wait_seconds:.0f} s (start one, or restart the dead one, and run again)"
                )
                self._say(f"{unit.name} failed: {unit.error}")

    def _choose_worker(self, unit: Unit) -> LiveWorker | None:
        """The placed worker while it lives; else a live one of the class: warm, there from the start, least busy.

        A worker restarted by its nanny has a new address and holds no model: it counts as cold.
        """
        if unit.worker in self.workers:
            return self.workers[unit.worker]
        capable = [w for w in self.workers.values() if unit.resource in w.resources]
        if not capable:
            return None
        busy = {w.address: 0 for w in capable}
        for other in self.units.values():
            if other.state == "running" and other.worker in busy:
                busy[other.worker] += 1
        return min(
            capable,
            key=lambda w: (
                unit.job.backend not in self.warm.get(w.address, ()),
                w.address not in self.first_seen,  # one that just (re)joined holds no model and may die again
                busy[w.address],
                w.name,
            ),
        )

    def _submit(self, unit: Unit, worker: LiveWorker | None) -> None:
        upstream = [self.units[name].future for name in unit.needs if self.units[name].future is not None]
        dependencies = _lineage(upstream)
        if worker is None:
            if self.turns is not None:
                unit.parameters = {**unit.parameters, "turn": self.turns.ticket()}
            unit.future = self.runner.submit(unit.task, parameters=unit.parameters, dependencies=dependencies)
        else:
            import dask

            unit.worker = worker.address
            self.warm.setdefault(worker.address, set()).add(unit.job.backend)
            with dask.annotate(
                resources={unit.resource: 1}, workers=[worker.address], allow_other_workers=False, priority=-unit.rank
            ):
                unit.future = self.runner.submit(unit.task, parameters=unit.parameters, dependencies=dependencies)
        unit.state = "running"

    # --- gathering --------------------------------------------------------------------------

    def _finished(self, running: list[Unit]) -> list[Unit]:
        """The units among `running` that have ended; on Dask, waits at most POLL_SECONDS for one."""
        if not running:  # only units waiting for a worker of their class: look again a little later
            time.sleep(POLL_SECONDS)
            return []
        by_future = {id(unit.future.wrapped_future): unit for unit in running}
        futures = [unit.future.wrapped_future for unit in running]
        if self.client is None:
            done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        else:  # a Dask future's done() is the client's own state: no round trip
            deadline = time.monotonic() + POLL_SECONDS
            while not (done := [future for future in futures if future.done()]) and time.monotonic() < deadline:
                time.sleep(0.05)
        return [by_future[id(future)] for future in done]

    def _collect(self, unit: Unit) -> None:
        if self.turns is not None and "turn" in unit.parameters:  # a task that never ran must not hold up the rest
            self.turns.passed(unit.parameters["turn"])
        worker_name = self._name_of(unit.worker)
        try:
            unit.report = unit.future.result()
        except Exception as error:  # the task's own error, as the user should read it
            unit.state, unit.error = "failed", f"{type(error).__name__}: {error}"
            unit.attempts.append(Attempt(worker_name, "failed", unit.error))
            self._say(f"{unit.name} failed: {unit.error}")
            return
        unit.state = "done"
        unit.attempts.append(Attempt(unit.report.worker, "done"))

    def _live_workers(self) -> dict[str, LiveWorker]:
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        self.names.update({address: str(worker.get("name", address)) for address, worker in info.items()})
        return {
            address: LiveWorker(
                address,
                str(worker.get("name", address)),
                frozenset(name for name, amount in (worker.get("resources") or {}).items() if amount >= 1),
            )
            for address, worker in info.items()
        }

    def _survive_departures(self) -> None:
        """A running unit whose worker left: the attempt is over; it waits to be submitted again."""
        for unit in self.units.values():
            if unit.state != "running" or unit.worker in self.workers:
                continue
            dead = self._name_of(unit.worker)
            unit.future.wrapped_future.cancel()
            try:
                started = _crash_task_run(unit.future.task_run_id, f"worker {dead} left the cluster during this task")
            except Exception as error:  # the server's hiccup must not end the run: the attempt is still over
                self._say(f"{unit.name}: could not mark its task run Crashed: {error}")
                started = True
            if started:  # it had begun on the dead worker: an attempt the records keep
                unit.attempts.append(Attempt(dead, "retried", f"worker {dead} died during this task"))
            self._say(f"{unit.name}: worker {dead} left the cluster; submitting it again")
            unit.state, unit.future = "waiting", None

    def _name_of(self, address: str | None) -> str:
        return self.names.get(address or "", address or "local")

    def _say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)


def _lineage(futures: list) -> dict[str, set] | None:
    """The Prefect UI's edges to the tasks this one waited for (no Dask dependency: a pinned copy of a
    lost result would wait for its dead worker)."""
    if not futures:
        return None
    from prefect.client.schemas.objects import TaskRunResult

    return {"job": {TaskRunResult(id=future.task_run_id) for future in futures}}


def _crash_task_run(task_run_id, message: str) -> bool:
    """Mark the task run of a dead attempt Crashed; False when it never started (no task run)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        try:
            task_run = client.read_task_run(task_run_id)
        except ObjectNotFound:
            return False
        if task_run.state is not None and task_run.state.is_final():
            return True
        client.set_task_run_state(task_run_id, Crashed(message=message), force=True)
    return True
