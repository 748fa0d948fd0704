"""The three GPU phases of a run as plain functions: encode prompts, generate latents, decode clips.

Each phase reads and fills the content-addressed cache, so a phase that finds its artifact
does no work and loads no model. Models are held by a `ModelPool` that loads each one at most
once per run and keeps one generator in memory at a time. No Prefect here: `wanflow.run.tasks`
wraps these in tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wanflow.cache import ArtifactStore
from wanflow.plan import RenderJob
from wanflow.run.pool import ModelPool, device_lock

Log = Callable[[str], None]
_default_log = logging.getLogger("wanflow.run.phases").info


def needs_generation(job: RenderJob, store: ArtifactStore, *, force: bool = False) -> bool:
    """A shot needs the generator unless its clip or its latents are in the cache (and intact).

    Intact is the store's checksum: no tensor is read, so asking costs no torch import.
    """
    if force:
        return True
    return store.get_file("clips", job.keys.clip) is None and store.get_file("latents", job.keys.latents) is None


@dataclass(frozen=True)
class EncodeResult:
    encoded: int
    cached: int


def encode_prompts(
    jobs: list[RenderJob], store: ArtifactStore, pool: ModelPool, log: Log = _default_log
) -> EncodeResult:
    """Encode every prompt these jobs need that the cache lacks, one text-encoder load per model."""
    wanted: dict[Path, dict[str, tuple[RenderJob, str]]] = {}
    for job in jobs:
        texts = wanted.setdefault(job.model_dir, {})
        texts[job.keys.prompt] = (job, job.compiled.prompt)
        texts[job.keys.negative] = (job, job.compiled.negative)
    encoded = cached = 0
    for texts in wanted.values():
        missing = {key: value for key, value in texts.items() if _get_tensors(store, "embeds", key) is None}
        cached += len(texts) - len(missing)
        if not missing:
            continue
        first_job = next(iter(missing.values()))[0]
        log(f"encoding {len(missing)} prompt(s) with the {first_job.backend} text encoder")
        encoder = pool.text_encoder(first_job)
        for key, (job, text) in missing.items():
            with store.lock("embeds", key):
                if _get_tensors(store, "embeds", key) is not None:  # another run encoded it meanwhile
                    cached += 1
                    continue
                embeds = encoder.encode(text)
                _put_tensors(store, "embeds", key, {"embeds": embeds}, {"text": text, "backend": job.backend})
                encoded += 1
    pool.done_encoding()
    return EncodeResult(encoded=encoded, cached=cached)


def generate_latents(
    job: RenderJob,
    store: ArtifactStore,
    pool: ModelPool,
    *,
    condition_image: Path | None,
    force: bool = False,
    log: Log = _default_log,
) -> bool:
    """Make the shot's latents unless cached. Returns True when it generated them."""
    from wanflow.backends.generate import PromptEmbeds

    if not needs_generation(job, store, force=force):  # a hit takes no lock: a read-only cache serves it
        return False
    with store.lock("latents", job.keys.latents):
        if not needs_generation(job, store, force=force):  # another run may have made them meanwhile
            return False
        embeds = PromptEmbeds(_load_embeds(store, job.keys.prompt), _load_embeds(store, job.keys.negative))
        image = _open_image(condition_image) if condition_image else None
        generator = pool.generator(job)
        started = time.perf_counter()
        with device_lock(str(generator.device)):
            latents = generator.generate(job.settings, embeds, image, progress=_step_logger(job, log))
        meta = {
            "shot": job.shot_id,
            "take": job.take,
            "backend": job.backend,
            "seed": job.settings.seed,
            "seconds": time.perf_counter() - started,
        }
        _put_tensors(store, "latents", job.keys.latents, {"latents": latents}, meta)
    return True


def decode_clip(job: RenderJob, store: ArtifactStore, pool: ModelPool, *, force: bool = False) -> tuple[Path, bool]:
    """Decode the shot's latents to an mp4 clip in the cache. Returns (clip path, decoded now)."""
    from wanflow.media.ffmpeg import write_clip

    existing = None if force else store.get_file("clips", job.keys.clip)
    if existing is not None:  # a hit takes no lock: a read-only cache serves it
        return existing, False
    with store.lock("clips", job.keys.clip):
        existing = None if force else store.get_file("clips", job.keys.clip)
        if existing is not None:
            return existing, False
        loaded = _get_tensors(store, "latents", job.keys.latents)
        if loaded is None:
            raise RuntimeError(f"latents of shot {job.name!r} vanished from the cache; run again to rebuild them")
        frames = pool.decoder(job).decode(loaded[0]["latents"])
        staging = store.scratch_dir() / f"{job.keys.clip}.mp4"
        write_clip(frames, job.settings.fps, staging)
        meta = {"shot": job.shot_id, "take": job.take, "frames": int(frames.shape[0]), "fps": job.settings.fps}
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
    force: bool = False,
    log: Log = _default_log,
) -> ShotWork:
    """Latents then clip for one shot, each only if the cache lacks it; a continuation starts on
    the last frame of its upstream clip."""
    started = time.perf_counter()
    condition: Path | None = job.shot.image
    if condition is None and upstream_clip is not None and needs_generation(job, store, force=force):
        condition = last_frame_image(upstream_clip, store.scratch_dir() / f"{job.keys.latents}-start.png")
    generated = generate_latents(job, store, pool, condition_image=condition, force=force, log=log)
    clip, decoded = decode_clip(job, store, pool, force=force)
    return ShotWork(generated, decoded, clip, time.perf_counter() - started)


def last_frame_image(clip: Path, into: Path) -> Path:
    """Write the clip's last frame as a PNG: the start image of a continuing shot."""
    from PIL import Image

    from wanflow.media.ffmpeg import probe, read_frames

    info = probe(clip)
    frame = read_frames(clip, [info.frames - 1])[0]
    into.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(into)
    return into


def _load_embeds(store: ArtifactStore, key: str):
    loaded = _get_tensors(store, "embeds", key)
    if loaded is None:
        raise RuntimeError("a prompt embedding vanished from the cache; run again to rebuild it")
    return loaded[0]["embeds"]


def _open_image(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def _step_logger(job: RenderJob, log: Log) -> Callable[[int, int], None]:
    every = max(1, job.settings.steps // 4)

    def progress(step: int, total: int) -> None:
        if step == total or step % every == 0:
            log(f"shot {job.name}: step {step}/{total}")

    return progress


def _get_tensors(store: ArtifactStore, kind: str, key: str):
    from wanflow.backends.tensors import get_tensors  # torch only when a tensor is really read

    return get_tensors(store, kind, key)


def _put_tensors(store: ArtifactStore, kind: str, key: str, tensors: dict, meta: dict) -> None:
    from wanflow.backends.tensors import put_tensors

    put_tensors(store, kind, key, tensors, meta)
