"""What a run leaves in `--out`: the clips, the cut, the report, and the stamp that spares a re-cut."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.cache import ArtifactStore
from wanflow.plan import RenderJob, RenderPlan, cut_key
from wanflow.run.prepare import PreparedRun
from wanflow.run.summary import RunSummary, ShotOutcome


def assemble_and_report(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path, logger) -> None:
    """Copy every clip there is beside the film for editors; cut the film once every shot has one,
    else report the shots that have clips (a run `--only` some shots still leaves something to see)."""
    from wanflow.media.cut import CutClip, assemble
    from wanflow.report.storyboard import manifest_metadata, write_report

    clip_paths = {job.shot_id: store.get_file("clips", job.keys.clip) for job in plan.jobs}
    missing = [shot_id for shot_id, path in clip_paths.items() if path is None]
    clips_dir = out_dir / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    cut, records = [], []
    for job in plan.jobs:
        source = clip_paths[job.shot_id]
        if source is None:
            continue
        local = clips_dir / f"{job.shot_id}.mp4"
        _link_or_copy(source, local)
        cut.append(CutClip(shot=job.shot, path=local))
        records.append(_record(job, local, summary))
    run_info = {"loads": summary.loads, "workers": summary.workers}
    if missing:  # `--only`, or a failed shot: what there is, to look at, without a cut
        summary.note = f"film not assembled: no clip yet for {', '.join(missing)}"
        logger.warning(summary.note)
        if records:
            _stamp_path(plan, out_dir).unlink(missing_ok=True)  # this report replaces the cut's
            paths = write_report(
                plan.film, records, None, out_dir, profile=plan.profile, run_info=run_info, not_cut=summary.note
            )
            summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
        return
    film_path = out_dir / f"{Path(plan.film.path).stem}.mp4"
    stamp = current_cut(plan, out_dir)
    if stamp is not None:
        logger.info(f"{film_path} is up to date (same clips, same spec): not cut again")
        summary.film, summary.report = stamp["film"], stamp["report"]
        return
    logger.info(f"assembling {len(cut)} clips into {film_path}")
    metadata = manifest_metadata(plan.film, records, profile=plan.profile, run_info=run_info)
    assembly = assemble(
        plan.film, cut, film_path, width=plan.width, height=plan.height, metadata=metadata, progress=logger.info
    )
    paths = write_report(plan.film, records, assembly, out_dir, profile=plan.profile, run_info=run_info)
    summary.film = str(assembly.path)
    summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
    stamp = {"key": _cut_key(plan), "film": summary.film, "report": summary.report}
    write_text_atomic(_stamp_path(plan, out_dir), json.dumps(stamp))


def current_cut(plan: RenderPlan, out_dir: Path) -> dict | None:
    """The stamp of the film in `out_dir` if it was cut from exactly these clips and this spec
    and its files are all there; None when it must be cut (again)."""
    stamp = _read_stamp(_stamp_path(plan, out_dir))
    if stamp.get("key") != _cut_key(plan):
        return None
    if not all(Path(p).is_file() for p in [stamp["film"], *stamp["report"].values()]):
        return None
    return stamp


def unchanged_run(prepared: PreparedRun) -> RunSummary | None:
    """The summary of a run with nothing to do (every clip cached, the cut current), or None.

    Such a run needs no model, no Prefect and no ffmpeg: the CLI answers it from the cache and
    the stamp in about a second instead of starting Prefect's server for nothing.
    """
    if prepared.forced:
        return None
    store = ArtifactStore(prepared.cache_dir)
    if any(not store.has("clips", job.keys.clip) for job in prepared.plan.jobs):
        return None
    stamp = current_cut(prepared.plan, prepared.out_dir)
    if stamp is None:
        return None
    selected = {job.shot_id for job in prepared.jobs}
    shots = [
        ShotOutcome(job.shot_id, job.backend, "cached" if job.shot_id in selected else "not selected")
        for job in prepared.plan.jobs
    ]
    summary = RunSummary(str(prepared.plan.film.path), prepared.plan.profile, shots, film=stamp["film"])
    summary.report = stamp["report"]
    summary.note = "nothing changed: every clip was in the cache and the film is up to date"
    return summary


def write_run_json(out_dir: Path, summary: RunSummary) -> None:
    write_text_atomic(out_dir / "run.json", json.dumps(asdict(summary), indent=2, ensure_ascii=False))


def _cut_key(plan: RenderPlan) -> str:
    return cut_key(plan.film, [job.keys.clip for job in plan.jobs], (plan.width, plan.height), plan.profile)


def _stamp_path(plan: RenderPlan, out_dir: Path) -> Path:
    return out_dir / f".{Path(plan.film.path).stem}.cut.json"


def _read_stamp(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record(job: RenderJob, clip: Path, summary: RunSummary):
    from wanflow.report.storyboard import ShotRecord

    outcome = summary.outcome(job.shot_id)
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
        model_layout=job.model_layout,
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
