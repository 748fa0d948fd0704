"""The Prefect flow that renders a storyboard: the only module that knows Prefect.

Thin on purpose: planning, rendering and assembly are plain functions elsewhere; this file
names the runs, orders the phases, isolates failures, and puts artifacts on the flow run.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from wanflow.cache import ArtifactStore, default_cache_dir
from wanflow.keys import cut_key
from wanflow.media import write_text_atomic
from wanflow.plan import (
    TINY_NOTICE,
    RenderJob,
    RenderPlan,
    generation_order,
    prepare_plan,
    select_forced,
    select_shots,
)
from wanflow.render import (
    ModelPool,
    decode_clip,
    encode_prompts,
    generate_latents,
    last_frame_image,
    needs_generation,
)
from wanflow.settings import RenderSettings
from wanflow.spec import load_film


@dataclass
class ShotOutcome:
    shot_id: str
    backend: str
    status: str  # rendered | cached | failed | skipped | not selected
    seconds: float = 0.0
    clip: str | None = None
    error: str | None = None


@dataclass
class RunSummary:
    spec: str
    profile: str
    shots: list[ShotOutcome]
    phases: dict[str, float] = field(default_factory=dict)  # phase name -> seconds
    loads: list[str] = field(default_factory=list)  # models loaded, in order
    film: str | None = None
    report: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for shot in self.shots if shot.status == status)


def _is_transient(task, task_run, state) -> bool:
    """Retry what a second try can fix (I/O hiccups, a GPU out of memory), never bad input."""
    try:
        state.result()
    except (OSError, ConnectionError, TimeoutError):
        return True
    except RuntimeError as error:
        return "out of memory" in str(error).lower()
    except Exception:
        return False
    return False


_TASK_DEFAULTS = dict(cache_policy=NO_CACHE, persist_result=False, retries=1, retry_condition_fn=_is_transient)


@task(name="encode-prompts", task_run_name="encode-prompts", **_TASK_DEFAULTS)
def encode_task(jobs: list[RenderJob], store: ArtifactStore, pool: ModelPool) -> dict[str, int]:
    logger = get_run_logger()
    result = encode_prompts(jobs, store, pool, log=logger.info)
    logger.info(f"prompts: {result.encoded} encoded, {result.cached} from the cache")
    return {"encoded": result.encoded, "cached": result.cached}


@task(name="generate", task_run_name="shot-{job.shot_id}", retry_delay_seconds=5, **_TASK_DEFAULTS)
def generate_task(
    job: RenderJob, store: ArtifactStore, pool: ModelPool, condition_image: Path | None, force: bool
) -> bool:
    logger = get_run_logger()
    logger.info(
        f"shot {job.shot_id}: {job.backend} {job.width}x{job.height} {job.frames}f, {job.steps} steps, seed {job.seed}"
    )
    return generate_latents(job, store, pool, condition_image=condition_image, force=force, log=logger.info)


@task(name="decode", task_run_name="decode-{job.shot_id}", **_TASK_DEFAULTS)
def decode_task(job: RenderJob, store: ArtifactStore, pool: ModelPool, force: bool) -> str:
    path, decoded = decode_clip(job, store, pool, force=force)
    if decoded:
        get_run_logger().info(f"shot {job.shot_id}: clip decoded")
    return str(path)


@flow(name="render-film", flow_run_name="{spec}:{profile}", log_prints=False)
def render_film(
    spec: str,
    profile: str = "preview",
    only: list[str] | None = None,
    force: list[str] | None = None,
    out: str = "out",
    cache: str | None = None,
    device: str | None = None,
    dtype: str = "auto",
    offload: bool = False,
    text_encoder_cpu: bool = False,
    vae_tiling: bool = False,
    step_cache: str | None = None,
):
    """Render a storyboard: encode prompts, generate latents per backend, decode, assemble."""
    logger = get_run_logger()
    phases: dict[str, float] = {}
    with _timed(phases, "plan"):
        settings = RenderSettings(device, dtype, offload, text_encoder_cpu, vae_tiling, step_cache)
        spec_path = Path(spec).resolve()
        plan = prepare_plan(load_film(spec_path), profile, settings, log=logger.info)
        plan.check()
        selected = select_shots(plan, only)
        run = _Run(
            plan=plan,
            jobs=[job for job in plan.jobs if job.shot_id in selected],
            forced=select_forced(plan, force, selected),
            store=ArtifactStore(Path(cache) if cache else default_cache_dir(spec_path)),
            pool=ModelPool(settings),
            outcomes={job.shot_id: ShotOutcome(job.shot_id, job.backend, "not selected") for job in plan.jobs},
        )
        to_generate = {j.shot_id for j in run.jobs if needs_generation(j, run.store, force=j.shot_id in run.forced)}
    if plan.tiny:
        logger.warning(TINY_NOTICE)
    logger.info(
        f"{len(run.jobs)} shot(s) selected, {len(to_generate)} to generate, {len(run.jobs) - len(to_generate)} cached"
    )
    with _timed(phases, "encode"):
        encode_task([job for job in run.jobs if job.shot_id in to_generate], run.store, run.pool)
    with _timed(phases, "generate"):
        _generate_all(run, to_generate, logger)
        run.pool.release_generator()
    with _timed(phases, "decode"):
        _decode_all(run)
        run.pool.release_all()
    summary = RunSummary(str(spec_path), plan.profile, list(run.outcomes.values()), phases, list(run.pool.loads))
    with _timed(phases, "assemble"):
        _assemble(plan, run.store, summary, Path(out).resolve(), logger)
    _publish_artifacts(plan, summary)
    write_text_atomic(Path(out).resolve() / "run.json", json.dumps(asdict(summary), indent=2, ensure_ascii=False))
    if run.failed:
        return Failed(message=f"{len(run.failed)} shot(s) failed: {', '.join(sorted(run.failed))}", data=summary)
    return summary


@dataclass
class _Run:
    """What the phases of one flow run share."""

    plan: RenderPlan
    jobs: list[RenderJob]  # the selected shots, in film order
    forced: set[str]
    store: ArtifactStore
    pool: ModelPool
    outcomes: dict[str, ShotOutcome]
    clips: dict[str, str] = field(default_factory=dict)  # shot id -> clip path in the cache
    failed: set[str] = field(default_factory=set)  # failed shots and the shots continuing them


def _generate_all(run: _Run, to_generate: set[str], logger) -> None:
    """Generate latents in continuity-and-model order; a failure stops only its own line."""
    progress = create_progress_artifact(progress=0.0, key=None, description=f"{run.plan.film.title}: shots done")
    for number, job in enumerate(generation_order(run.jobs)):
        update_progress_artifact(progress, progress=100.0 * number / len(run.jobs))
        outcome = run.outcomes[job.shot_id]
        if job.upstream in run.failed:
            outcome.status, outcome.error = "skipped", f"continues from failed shot {job.upstream!r}"
            run.failed.add(job.shot_id)
            continue
        if job.shot_id not in to_generate:
            outcome.status = "cached"
            continue
        started = time.perf_counter()
        try:
            condition = _condition_image(job, run)
            state = generate_task(job, run.store, run.pool, condition, job.shot_id in run.forced, return_state=True)
            generated = state.result()
        except Exception as error:  # one failed shot loses nothing else
            outcome.status, outcome.error = "failed", f"{type(error).__name__}: {error}"
            run.failed.add(job.shot_id)
            logger.error(f"shot {job.shot_id} failed: {outcome.error}")
            continue
        outcome.status = "rendered" if generated else "cached"
        outcome.seconds = time.perf_counter() - started
    update_progress_artifact(progress, progress=100.0)


def _decode_all(run: _Run) -> None:
    for job in run.jobs:
        if job.shot_id in run.failed:
            continue
        outcome = run.outcomes[job.shot_id]
        try:
            if job.shot_id not in run.clips:
                run.clips[job.shot_id] = decode_task(job, run.store, run.pool, job.shot_id in run.forced)
        except Exception as error:
            outcome.status, outcome.error = "failed", f"{type(error).__name__}: {error}"
            run.failed.add(job.shot_id)
            continue
        outcome.clip = run.clips[job.shot_id]


@contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = time.perf_counter() - started


def _condition_image(job: RenderJob, run: _Run) -> Path | None:
    """The start frame of an image-conditioned shot: its own image, or the upstream's last frame."""
    if job.shot.image is not None:
        return job.shot.image
    if job.upstream is None:
        return None
    upstream = run.plan.job(job.upstream)
    if job.upstream not in run.clips:  # decoded now: its last frame starts this shot
        run.clips[job.upstream] = decode_task(upstream, run.store, run.pool, job.upstream in run.forced)
    last_frame = run.store.scratch_dir() / f"{upstream.keys.clip}-last.png"
    return last_frame_image(Path(run.clips[job.upstream]), last_frame)


def _assemble(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path, logger) -> None:
    """Cut the film once every shot has a clip, copying the clips beside it for editors."""
    from wanflow.assemble import CutClip, assemble
    from wanflow.report import manifest_metadata, write_report

    clip_paths = {job.shot_id: store.get_file("clips", job.keys.clip) for job in plan.jobs}
    missing = [shot_id for shot_id, path in clip_paths.items() if path is None]
    if missing:
        summary.note = f"film not assembled: no clip yet for {', '.join(missing)}"
        logger.warning(summary.note)
        return
    clips_dir = out_dir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    cut, records = [], []
    for job in plan.jobs:
        local = clips_dir / f"{job.shot_id}.mp4"
        _link_or_copy(clip_paths[job.shot_id], local)
        cut.append(CutClip(shot=job.shot, path=local))
        records.append(_record(job, local, summary))
    film_path = out_dir / f"{Path(plan.film.path).stem}.mp4"
    stamp_path = out_dir / f".{film_path.stem}.cut.json"
    key = cut_key(plan.film, [job.keys.clip for job in plan.jobs], (plan.width, plan.height), plan.profile)
    stamp = _read_stamp(stamp_path)
    if stamp.get("key") == key and all(Path(p).is_file() for p in [stamp["film"], *stamp["report"].values()]):
        logger.info(f"{film_path} is up to date (same clips, same spec): not cut again")
        summary.film, summary.report = stamp["film"], stamp["report"]
        return
    logger.info(f"assembling {len(cut)} clips into {film_path}")
    run_info = {"loads": summary.loads}
    metadata = manifest_metadata(plan.film, records, profile=plan.profile, run_info=run_info)
    assembly = assemble(
        plan.film, cut, film_path, width=plan.width, height=plan.height, metadata=metadata, progress=logger.info
    )
    paths = write_report(plan.film, records, assembly, out_dir, profile=plan.profile, run_info=run_info)
    summary.film = str(assembly.path)
    summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
    write_text_atomic(stamp_path, json.dumps({"key": key, "film": summary.film, "report": summary.report}))


def _read_stamp(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record(job: RenderJob, clip: Path, summary: RunSummary):
    from wanflow.report import ShotRecord

    outcome = next(o for o in summary.shots if o.shot_id == job.shot_id)
    return ShotRecord(
        shot=job.shot,
        clip=clip,
        prompt=job.compiled.prompt,
        negative=job.compiled.negative,
        mode=job.compiled.mode,
        warnings=tuple(w.message for w in job.compiled.warnings),
        backend=job.backend,
        seed=job.seed,
        steps=job.steps,
        width=job.width,
        height=job.height,
        frames=job.frames,
        fps=job.fps,
        weights_fingerprint=job.weights,
        cache_keys=job.keys.all(),
        cached=outcome.status != "rendered",
        seconds=outcome.seconds,  # the number run.json and the console show
        tiny=job.tiny,
    )


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link when the cache shares the filesystem (instant, no space), else copy; atomic."""
    staging = target.with_name(f".{target.name}.tmp")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError:
        shutil.copyfile(source, staging)
    os.replace(staging, target)


def _publish_artifacts(plan: RenderPlan, summary: RunSummary) -> None:
    rows = []
    for job in plan.jobs:
        outcome = next(o for o in summary.shots if o.shot_id == job.shot_id)
        rows.append(
            {
                "shot": job.shot_id,
                "prompt": job.compiled.prompt,
                "backend": job.backend,
                "seed": job.seed,
                "seconds": round(job.seconds, 2),
                "status": outcome.status,
            }
        )
    create_table_artifact(rows, key=None, description=f"Storyboard of {plan.film.title} ({plan.profile})")
    if summary.film:
        links = [f"- film: [{summary.film}](file://{summary.film})"]
        links += [f"- {name}: [{path}](file://{path})" for name, path in summary.report.items()]
        create_markdown_artifact("\n".join(links), key=None, description=f"{plan.film.title}: the cut and its report")
