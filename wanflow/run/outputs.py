"""What a run leaves in `--out`: the takes, the clips, the cut, the report, and the stamp that spares a re-cut."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.cache import ArtifactStore
from wanflow.plan import RenderJob, RenderPlan, cut_key, take_name
from wanflow.run.summary import RunSummary


def assemble_and_report(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path, logger) -> None:
    """Write the takes, then cut the film once every shot has a clip, copying the clips beside it for editors."""
    from wanflow.media.cut import CutClip, assemble
    from wanflow.report.storyboard import manifest_metadata, write_report

    takes = write_takes(plan, store, summary, out_dir)
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
        records.append(_record(job, local, summary, takes))
    film_path = out_dir / f"{Path(plan.film.path).stem}.mp4"
    stamp_path = out_dir / f".{film_path.stem}.cut.json"
    clip_keys = [job.keys.clip for job in plan.jobs]
    key = cut_key(plan.film, clip_keys, (plan.width, plan.height), plan.profile, _compared(plan, takes))
    stamp = _read_stamp(stamp_path)
    if stamp.get("key") == key and all(Path(p).is_file() for p in [stamp["film"], *stamp["report"].values()]):
        logger.info(f"{film_path} is up to date (same clips, same spec): not cut again")
        summary.film, summary.report = stamp["film"], stamp["report"]
        return
    logger.info(f"assembling {len(cut)} clips into {film_path}")
    run_info = {"loads": summary.loads, "workers": summary.workers}
    metadata = manifest_metadata(plan.film, records, profile=plan.profile, run_info=run_info)
    assembly = assemble(
        plan.film, cut, film_path, width=plan.width, height=plan.height, metadata=metadata, progress=logger.info
    )
    paths = write_report(plan.film, records, assembly, out_dir, profile=plan.profile, run_info=run_info)
    summary.film = str(assembly.path)
    summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
    write_text_atomic(stamp_path, json.dumps({"key": key, "film": summary.film, "report": summary.report}))


def write_takes(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path) -> dict[str, Path]:
    """Every take in the cache as out/takes/<shot>/take-<k>.mp4; run.json's takes point at them.

    Returns job name -> its file. Takes of shots a run did not select are written too when the
    cache holds them, so the folder always shows every take there is to choose from.
    """
    written: dict[str, Path] = {}
    for job in plan.takes:
        source = store.get_file("clips", job.keys.clip)
        if source is None:
            continue
        target = out_dir / "takes" / job.shot_id / f"take-{job.take}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(source, target)
        written[job.name] = target
        take = next(t for t in summary.outcome(job.shot_id).takes if t.take == job.take)
        take.clip = str(target)
    return written


def _compared(plan: RenderPlan, takes: dict[str, Path]) -> dict[str, list[str]]:
    """Shot id -> the clip keys of its takes the report compares (shots with more than one written)."""
    compared: dict[str, list[str]] = {}
    for job in plan.takes:
        if job.name in takes:
            compared.setdefault(job.shot_id, []).append(job.keys.clip)
    return {shot_id: keys for shot_id, keys in compared.items() if len(keys) > 1}


def _read_stamp(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _record(job: RenderJob, clip: Path, summary: RunSummary, takes: dict[str, Path]):
    from wanflow.report.storyboard import ShotRecord, TakeRecord

    outcome = summary.outcome(job.shot_id)
    take_records = tuple(
        TakeRecord(
            take=take.take,
            seed=take.seed,
            clip=takes[take_name(job.shot_id, take.take)],
            chosen=take.chosen,
            cached=take.status != "rendered",
            seconds=take.seconds,
        )
        for take in outcome.takes
        if take_name(job.shot_id, take.take) in takes
    )
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
        takes=take_records,
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
