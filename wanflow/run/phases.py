"""The three GPU phases of a run as plain functions: encode prompts, generate latents, decode clips.

Each phase reads and fills the content-addressed cache, so a phase that finds its artifact
does no work and loads no model. Models are held by a `ModelPool` that loads each one at most
once per run and keeps one generator in memory at a time. Encoding and generation take the
pool's model stage, decoding its decode stage: two tasks sharing a pool overlap a decode with
the next generation (or, on the tiny models, with another decode), never two generations.
No Prefect here: `wanflow.run.tasks` wraps these in tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wanflow.backends.pool import ModelPool
from wanflow.cache import ArtifactStore
from wanflow.media.clips import cached_clip
from wanflow.plan import RenderJob

Log = Callable[[str], None]
_default_log = logging.getLogger("wanflow.run.phases").info


def needs_generation(job: RenderJob, store: ArtifactStore, *, force: bool = False) -> bool:
    """A shot needs the generator unless its clip or its latents are in the cache (and intact).

    Intact is the store's checksum: no tensor is read, so asking costs no torch import. An
    animatic take is drawn, never generated.
    """
    if job.settings.animatic:
        return False
    if force:
        return True
    return cached_clip(store, job.keys.clip) is None and store.get_file("latents", job.keys.latents) is None


@dataclass(frozen=True)
class EncodeResult:
    encoded: int
    cached: int


def encode_prompts(
    jobs: list[RenderJob], store: ArtifactStore, pool: ModelPool, log: Log = _default_log
) -> EncodeResult:
    """Encode every prompt these jobs need that the cache lacks, one text-encoder load per model."""
    wanted: dict[Path, tuple[str, dict[str, str]]] = {}
    for job in jobs:
        _, texts = wanted.setdefault(job.model_dir, (job.backend, {}))
        texts[job.keys.prompt] = job.compiled.prompt
        texts[job.keys.negative] = job.compiled.negative
    with pool.modelling():
        encoded, cached = _encode(wanted, store, pool, log)
        pool.done_encoding()
    return EncodeResult(encoded=encoded, cached=cached)


def _encode(
    wanted: dict[Path, tuple[str, dict[str, str]]], store: ArtifactStore, pool: ModelPool, log: Log
) -> tuple[int, int]:
    from wanflow.backends.render import encode_texts, has_embeds

    encoded = cached = 0
    for model_dir, (backend, texts) in wanted.items():
        missing = {key: text for key, text in texts.items() if not has_embeds(store, key)}
        cached += len(texts) - len(missing)
        if missing:
            log(f"encoding {len(missing)} prompt(s) with the {backend} text encoder")
            made = encode_texts(backend, model_dir, missing, store, pool)
            encoded, cached = encoded + made, cached + len(missing) - made  # another run may have made some
    return encoded, cached


def generate_latents(
    job: RenderJob,
    store: ArtifactStore,
    pool: ModelPool,
    *,
    condition_image: Path | None,
    end_image: Path | None = None,
    force: bool = False,
    log: Log = _default_log,
) -> bool:
    """Make the shot's latents unless cached. Returns True when it generated them."""
    from wanflow.backends.render import generate_latents as generate

    if not needs_generation(job, store, force=force):  # a hit takes no lock: a read-only cache serves it
        return False
    with pool.modelling(), store.lock("latents", job.keys.latents):
        if not needs_generation(job, store, force=force):  # another run may have made them meanwhile
            return False
        meta = {"shot": job.shot_id, "take": job.take, "backend": job.backend, "seed": job.settings.seed}
        generate(
            job.settings,
            job.model_dir,
            job.keys,
            store,
            pool,
            image=condition_image,
            end_image=end_image,
            meta=meta,
            progress=_step_logger(job, log),
        )
    return True


def decode_clip(
    job: RenderJob, store: ArtifactStore, pool: ModelPool, *, force: bool = False, run: str | None = None
) -> tuple[Path, bool]:
    """Decode the shot's latents to an mp4 clip in the cache, its meta naming the `run` that made it.
    Returns (clip path, decoded now)."""
    from wanflow.backends.render import decode_latents
    from wanflow.media.ffmpeg import write_clip

    existing = None if force else cached_clip(store, job.keys.clip)
    if existing is not None:  # a hit takes no lock: a read-only cache serves it
        return existing, False
    with pool.decoding(), store.lock("clips", job.keys.clip):
        existing = None if force else cached_clip(store, job.keys.clip)
        if existing is not None:
            return existing, False
        frames = decode_latents(job.backend, job.model_dir, job.keys.latents, store, pool)
        staging = store.scratch_dir() / f"{job.keys.clip}.mp4"
        write_clip(frames, job.settings.fps, staging)
        meta = {"shot": job.shot_id, "take": job.take, "frames": int(frames.shape[0]), "fps": job.settings.fps}
        if run is not None:
            meta["run"] = run
        return store.put_file("clips", job.keys.clip, staging, meta), True


@dataclass(frozen=True)
class ShotWork:
    generated: bool  # latents made now (False: they, or the clip, were in the cache)
    decoded: bool  # clip decoded now
    clip: Path  # in the cache
    seconds: float  # generation and decoding, as measured where they ran


def render_shot(
    job: RenderJob,
    store: ArtifactStore,
    pool: ModelPool,
    *,
    upstream_clip: Path | None,
    end_clip: Path | None = None,
    force: bool = False,
    log: Log = _default_log,
    run: str | None = None,
) -> ShotWork:
    """Latents then clip for one shot, each only if the cache lacks it; a continuation starts on
    the last frame of its upstream clip, a shot that ends on a rendered shot ends on its first frame.
    The clip's meta names the `run` (flow run id) that made it."""
    started = time.perf_counter()
    condition: Path | None = job.shot.image
    end: Path | None = job.settings.end_image
    if needs_generation(job, store, force=force):
        if condition is None and upstream_clip is not None:
            condition = last_frame_image(upstream_clip, store.scratch_dir() / f"{job.keys.latents}-start.png")
        if end is None and end_clip is not None:
            end = first_frame_image(end_clip, store.scratch_dir() / f"{job.keys.latents}-end.png")
    generated = generate_latents(job, store, pool, condition_image=condition, end_image=end, force=force, log=log)
    pool.turns.leave()  # the next take may use the model stage while this one decodes
    clip, decoded = decode_clip(job, store, pool, force=force, run=run)
    return ShotWork(generated, decoded, clip, time.perf_counter() - started)


def last_frame_image(clip: Path, into: Path) -> Path:
    """Write the clip's last frame as a PNG: the start image of a continuing shot."""
    from wanflow.media.ffmpeg import probe

    return _frame_image(clip, probe(clip).frames - 1, into)


def first_frame_image(clip: Path, into: Path) -> Path:
    """Write the clip's first frame as a PNG: the end image of a shot that ends on it (`end_at:`)."""
    return _frame_image(clip, 0, into)


def _frame_image(clip: Path, index: int, into: Path) -> Path:
    from PIL import Image

    from wanflow.media.ffmpeg import read_frames

    frame = read_frames(clip, [index])[0]
    into.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(into)
    return into


def _step_logger(job: RenderJob, log: Log) -> Callable[[int, int], None]:
    every = max(1, job.settings.steps // 4)

    def progress(step: int, total: int) -> None:
        if step == total or step % every == 0:
            log(f"shot {job.name}: step {step}/{total}")

    return progress
