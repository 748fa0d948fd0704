"""What a run leaves in `--out`: the takes, the clips, the cut, the report, and the stamp that spares a re-cut."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from wanflow.atomic import partial_path, write_text_atomic
from wanflow.cache import ArtifactStore
from wanflow.media.clips import cached_clip
from wanflow.media.sound import SoundMix, cached_sound
from wanflow.nofollow import check_no_links, make_folders
from wanflow.plan import RenderJob, RenderPlan, cut_key, take_name
from wanflow.report.words import warning_line
from wanflow.run.outdir import claim, fresh_cut, stamp_cut
from wanflow.run.outdir import film_path as film_path_of
from wanflow.run.prepare import PreparedRun
from wanflow.run.summary import RunSummary, planned_outcomes


def assemble_and_report(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path, logger) -> None:
    """Write every take there is, copy every clip there is beside the film for editors; cut the film
    once every shot has one, else report the shots that have clips (a run `--only` some shots
    still leaves something to see)."""
    from wanflow.media.children import Scope
    from wanflow.media.cut import CutClip, make_cut, plan_cut
    from wanflow.report.storyboard import make_report, manifest_metadata

    takes = write_takes(plan, store, summary, out_dir)
    clip_paths = {job.shot_id: cached_clip(store, job.keys.clip) for job in plan.jobs}
    missing = [shot_id for shot_id, path in clip_paths.items() if path is None]
    clips_dir = make_folders(out_dir, out_dir / "clips")
    cut, records = [], []
    for job in plan.jobs:
        source = clip_paths[job.shot_id]
        if source is None:
            continue
        local = clips_dir / f"{job.shot_id}.mp4"
        _link_or_copy(source, local, out_dir)
        cut.append(CutClip(shot=job.shot, path=local))
        records.append(_record(job, local, summary, takes))
    run_info = {"loads": summary.loads, "workers": summary.workers, "retried": summary.retried()}
    if missing:  # `--only`, or a failed shot: what there is, to look at, without a cut
        summary.note = f"film not assembled: no clip yet for {', '.join(missing)}"
        logger.warning(summary.note)
        if records:
            _stamp_path(plan, out_dir).unlink(missing_ok=True)  # this report replaces the cut's
            paths = make_report(
                plan.film, records, None, out_dir, profile=plan.profile, run_info=run_info, not_cut=summary.note
            ).write()
            summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
        return
    film_path = film_path_of(out_dir, plan.film.path)
    stamp = current_cut(plan, store, out_dir)
    if stamp is not None:
        logger.info(f"{film_path} is up to date (same clips, same spec, its files as cut): not cut again")
        summary.film, summary.report = stamp["film"], stamp["report"]
        return
    logger.info(f"assembling {len(cut)} clips into {film_path}")
    metadata = manifest_metadata(plan.film, records, profile=plan.profile, run_info=run_info)
    planned = plan_cut(
        plan.film, cut, film_path, width=plan.width, height=plan.height, quick=plan.for_checking, progress=logger.info
    )
    reporting = Scope()  # a cut that fails stops the report's ffmpeg (its cards can take minutes)
    with ThreadPoolExecutor(max_workers=1) as beside:  # the report is made while ffmpeg cuts the film
        report = beside.submit(
            reporting.call,
            make_report,
            plan.film,
            records,
            planned.expected,
            out_dir,
            profile=plan.profile,
            run_info=run_info,
            probes=dict(zip((clip.path for clip in planned.clips), planned.infos, strict=True)),
        )
        try:
            assembly = make_cut(
                planned, metadata=metadata, progress=logger.info, mixed_sound=lambda mix: _mixed_sound(store, mix)
            )
        except BaseException:
            reporting.kill()
            raise
        paths = report.result().write()  # once the film is there: a failed cut leaves the last report as it was
    summary.film = str(assembly.path)
    summary.report = {name: str(path) for name, path in vars(paths).items() if path is not None}
    stamp_cut(_stamp_path(plan, out_dir), _cut_key(plan, store), summary.film, summary.report, assembly.subtitles)


def _mixed_sound(store: ArtifactStore, mix: SoundMix) -> Path | None:
    """The soundtrack's mix from the cache (mixed there first if need be); None when the cache
    cannot take it (read-only: a committed cache), and the cut mixes it in its own folder."""
    try:
        return cached_sound(store, mix)
    except OSError:
        return None


def current_cut(plan: RenderPlan, store: ArtifactStore, out_dir: Path) -> dict | None:
    """The stamp of the film in `out_dir` if it was cut from exactly these clips and this spec
    (and its report shows these takes) and its files are all as the cut wrote them (size and sha256); None when
    it must be cut (again)."""
    return fresh_cut(_stamp_path(plan, out_dir), _cut_key(plan, store), film_path_of(out_dir, plan.film.path))


def unchanged_run(prepared: PreparedRun) -> RunSummary | None:
    """The summary of a run with nothing to do (every clip cached, the cut current), or None.

    Such a run needs no model, no Prefect and no ffmpeg: it is answered from the cache and the
    stamp in about a second instead of starting Prefect's server for nothing.
    """
    if prepared.renders_takes():
        return None
    plan, store = prepared.plan, ArtifactStore(prepared.cache_dir)
    if any(not store.has("clips", job.keys.clip) for job in plan.jobs):
        return None
    stamp = current_cut(plan, store, prepared.out_dir)
    in_cache = [job for job in plan.takes if store.has("clips", job.keys.clip)]
    if stamp is None or not all(take_path(prepared.out_dir, job).is_file() for job in in_cache):
        return None
    summary = _cached_summary(prepared)
    for job in in_cache:
        summary.outcome(job.shot_id).take_outcome(job.take).clip = str(take_path(prepared.out_dir, job))
    summary.film, summary.report = stamp["film"], stamp["report"]
    summary.note = "nothing changed: every clip was in the cache and the film is up to date"
    return summary


def cut_from_cache(prepared: PreparedRun, log: Callable[[str], None]) -> RunSummary | None:
    """The run of an edit that renders nothing (a caption, a title, a transition, another take
    chosen): the film cut again from the cache, in this process, with no model and no Prefect.
    None when some selected take must render (its clip missing, or found corrupt and discarded)."""
    store = ArtifactStore(prepared.cache_dir)
    if prepared.forced or any(cached_clip(store, job.keys.clip) is None for job in prepared.takes):
        return None
    started = time.perf_counter()
    summary = _cached_summary(prepared)
    summary.phases = {"plan": prepared.seconds}
    assemble_and_report(prepared.plan, store, summary, prepared.out_dir, _Log(log))
    summary.phases["assemble"] = time.perf_counter() - started
    return summary


def _cached_summary(prepared: PreparedRun) -> RunSummary:
    """Every selected take cached; the others not selected."""
    plan = prepared.plan
    outcomes = planned_outcomes(plan)
    for job in prepared.takes:
        outcomes[job.shot_id].take_outcome(job.take).status = "cached"
    for outcome in outcomes.values():
        outcome.settle()
    return RunSummary(str(plan.film.path), plan.profile, list(outcomes.values()))


class _Log:
    """The logger `assemble_and_report` speaks to, for a cut made outside Prefect's flow."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.info = self.warning = log


def write_run_json(out_dir: Path, summary: RunSummary) -> None:
    """`run.json`, and the record of whose outputs the folder holds (a same-named spec is refused)."""
    write_text_atomic(
        check_no_links(out_dir, out_dir / "run.json"), json.dumps(asdict(summary), indent=2, ensure_ascii=False)
    )
    claim(out_dir, Path(summary.spec))


def write_takes(plan: RenderPlan, store: ArtifactStore, summary: RunSummary, out_dir: Path) -> dict[str, Path]:
    """Every take in the cache as out/takes/<shot>/take-<k>.mp4; run.json's takes point at them.

    Returns job name -> its file. Takes of shots a run did not select are written too when the
    cache holds them, so the folder always shows every take there is to choose from.
    """
    written: dict[str, Path] = {}
    for job in plan.takes:
        source = cached_clip(store, job.keys.clip)
        if source is None:
            continue
        target = take_path(out_dir, job)
        make_folders(out_dir, target.parent)
        _link_or_copy(source, target, out_dir)
        written[job.name] = target
        summary.outcome(job.shot_id).take_outcome(job.take).clip = str(target)
    return written


def take_path(out_dir: Path, job: RenderJob) -> Path:
    return out_dir / "takes" / job.shot_id / f"take-{job.take}.mp4"


def _cut_key(plan: RenderPlan, store: ArtifactStore) -> str:
    clips = [job.keys.clip for job in plan.jobs]
    return cut_key(plan.film, clips, (plan.width, plan.height), plan.profile, _compared(plan, store))


def _compared(plan: RenderPlan, store: ArtifactStore) -> dict[str, list[str]]:
    """Shot id -> the clip keys of its takes the report compares: those in the cache, where a shot has several."""
    compared: dict[str, list[str]] = {}
    for job in plan.takes:
        if store.has("clips", job.keys.clip):
            compared.setdefault(job.shot_id, []).append(job.keys.clip)
    return {shot_id: keys for shot_id, keys in compared.items() if len(keys) > 1}


def _stamp_path(plan: RenderPlan, out_dir: Path) -> Path:
    return out_dir / f".{Path(plan.film.path).stem}.cut.json"


def _record(job: RenderJob, clip: Path, summary: RunSummary, takes: dict[str, Path]):
    from wanflow.report.storyboard import ShotRecord, TakeRecord

    outcome = summary.outcome(job.shot_id)
    take_records = tuple(
        TakeRecord(
            take=take.take,
            seed=take.seed,
            clip=takes[name],
            chosen=take.chosen,
            cached=take.status != "rendered",
            seconds=take.seconds,
        )
        for take in outcome.takes
        if (name := take_name(job.shot_id, take.take)) in takes
    )
    return ShotRecord(
        shot=job.shot,
        clip=clip,
        prompt=job.compiled.prompt,
        negative=job.compiled.negative,
        mode=job.compiled.mode,
        warnings=tuple(warning_line(w) for w in job.compiled.warnings),
        settings=job.settings,
        weights_fingerprint=job.weights,
        cache_keys=job.keys.all(),
        cached=outcome.status != "rendered",
        seconds=outcome.seconds,  # the number run.json and the console show
        tiny=job.tiny,
        model_layout=job.model_layout,
        takes=take_records,
    )


def _link_or_copy(source: Path, target: Path, out_dir: Path) -> None:
    """Hard-link when the cache shares the filesystem (instant, no space), else copy; atomic.
    Never through a link below `out_dir` (the rename replaces a link at `target` itself)."""
    staging = check_no_links(out_dir, partial_path(target))
    try:
        os.link(source, staging)
    except OSError:
        shutil.copyfile(source, staging)
    os.replace(staging, target)
