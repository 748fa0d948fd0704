"""One preparation per run: load and compile the storyboard once, make missing tiny models, plan once.

`wanflow.run.lifecycle.render` prepares before Prefect starts, so bad input is reported in a second
with exit code 2, and hands the prepared run to the flow as its argument.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from wanflow.backends.store import find_model
from wanflow.cache import ArtifactStore, check_cache_links, default_cache_dir
from wanflow.catalog import BACKENDS
from wanflow.confine import Confinement
from wanflow.errors import Problem, UserError
from wanflow.media.checks import cut_problems
from wanflow.plan import RenderJob, RenderPlan, make_plan, resolve_profile, select_forced, select_shots
from wanflow.plan.fit import Budget, card_budget, fit_plan
from wanflow.run.outdir import check_writable, spec_folder, spec_name
from wanflow.storyboard import load_film
from wanflow.take import RenderSettings

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: the flow's parameters, as plain values."""

    spec: Path
    profile: str = "preview"
    only: tuple[str, ...] = ()
    force: tuple[str, ...] = ()
    out: Path = Path("out")
    cache: Path | None = None
    settings: RenderSettings = field(default_factory=RenderSettings)
    takes: int | None = None  # --takes: takes of every shot for this run (None: the storyboard's)
    cluster: str | None = None  # an existing Dask scheduler's address
    workers: int = 0  # a local cluster of N CPU workers for this run
    gpus: tuple[int, ...] = ()  # a local cluster of one worker per GPU for this run
    card_gib: float | None = None  # --card: fit every take's memory plan to it (None: the CUDA card's free memory)
    ram_gib: float | None = None  # --ram: the CPU memory the memory plans may hold weights in
    memory: str | None = None  # --memory: one memory plan for every take

    @property
    def distributed(self) -> bool:
        return bool(self.cluster or self.workers or self.gpus)


@dataclass(frozen=True)
class PreparedRun:
    request: RunRequest
    plan: RenderPlan
    jobs: tuple[RenderJob, ...]  # the selected shots (the take the film uses), in film order
    takes: tuple[RenderJob, ...]  # every take of the selected shots: what the run renders
    forced: frozenset[str]  # shot ids: every take of these renders again
    cache_dir: Path
    out_dir: Path
    seconds: float = 0.0  # how long preparing took (the run's `plan` phase)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Opaque to pydantic. Prefect builds a flow's parameter schema when the flow is defined,
        for deployment forms this flow never has; walking every type of a plan cost each run 0.25 s."""
        return core_schema.any_schema()

    def renders_takes(self) -> bool:
        """Some selected take is generated (not drawn: the animatic) and forced or lacks its clip:
        the run will load a model."""
        store = ArtifactStore(self.cache_dir)
        generated = [job for job in self.takes if not job.settings.animatic]
        return any(job.shot_id in self.forced or not store.has("clips", job.keys.clip) for job in generated)


def prepare_run(request: RunRequest, log: Log = print) -> PreparedRun:
    """Everything that can be checked before a model loads is checked here, all problems at once."""
    started = time.perf_counter()
    film = load_film(request.spec)  # problems name the spec as the user wrote it, as `validate` does
    spec = film.path
    if resolve_profile(film, request.profile).tiny:
        ensure_tiny_models(log)
    plan = make_plan(film, request.profile, request.settings, request.takes)
    budget = card_budget(plan, request.card_gib, request.ram_gib, request.memory)
    if budget != Budget():  # a card to fit, or a plan forced; else every take stays `resident` (or --offload)
        plan = fit_plan(plan, budget, request.settings, default="offload" if request.settings.offload else "resident")[
            0
        ]
    plan.check()
    needs = cut_problems(film)  # the cut's fonts and soundtrack, checked before the first shot renders
    if needs:
        raise UserError(needs)
    selected = select_shots(plan, list(request.only) or None)
    forced = select_forced(plan, list(request.force) or None, selected)
    confinement = Confinement.of_spec(request.spec)
    out_dir = spec_folder(_not_led_out(request.out, confinement, "--out"), spec)
    check_writable(out_dir, spec, spec_name(spec))
    cache_dir = (
        request.cache.resolve() if request.cache else _not_led_out(default_cache_dir(spec), confinement, "cache")
    )
    check_cache_links(cache_dir)
    return PreparedRun(
        request=request,
        plan=plan,
        jobs=tuple(job for job in plan.jobs if job.shot_id in selected),
        takes=tuple(job for job in plan.takes if job.shot_id in selected),
        forced=frozenset(forced),
        cache_dir=cache_dir,
        out_dir=out_dir,
        seconds=time.perf_counter() - started,
    )


def _not_led_out(folder: Path, confinement: Confinement, what: str) -> Path:
    """`folder` resolved; a folder named inside the storyboard repository must stay there (a link
    committed in the repository must not send the film or the cache elsewhere)."""
    resolved = folder.resolve()
    written = Path(os.path.abspath(folder))
    if confinement.root in (written, *written.parents) and not confinement.contains(resolved):
        message = f"{folder} is inside the storyboard repository but leads outside it (a link?); name a folder outside the repository to write there"
        raise UserError(Problem("wanflow", None, None, what, message))
    return resolved


def ensure_tiny_models(log: Log) -> None:
    """The preview's tiny models are written once per machine, as an explicit step of the run."""
    if all(find_model(backend_id, tiny=True) for backend_id in BACKENDS):
        return
    from wanflow.backends.tiny import make_tiny_models

    log("making the tiny random-weight models (first preview on this machine)")
    make_tiny_models()
