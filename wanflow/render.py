"""The three GPU phases of a run as plain functions: encode prompts, generate latents, decode clips.

Each phase reads and fills the content-addressed cache, so a phase that finds its artifact
does no work and loads no model. Models are held by a `ModelPool` that loads each one at most
once per run and keeps one generator in memory at a time. No Prefect here: `pipeline.py`
wraps these in tasks.
"""

from __future__ import annotations

import gc
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import platformdirs

from wanflow.cache import ArtifactStore
from wanflow.plan import RenderJob
from wanflow.settings import RenderSettings

Log = Callable[[str], None]
_default_log = logging.getLogger("wanflow.render").info


@dataclass
class ModelPool:
    """Loads models lazily, once each; at most one generator (the big one) is resident.

    Nothing here imports torch until a model is needed, so a run that finds everything in
    the cache never pays for it.
    """

    settings: RenderSettings
    loads: list[str] = field(default_factory=list)  # "text_encoder:t2v-a14b", "generator:..." in load order
    _generator: tuple[str, object] | None = None
    _decoders: dict[Path, object] = field(default_factory=dict)

    def text_encoder(self, job: RenderJob):
        from wanflow.backends.generate import TextEncoder

        self.loads.append(f"text_encoder:{job.backend}")
        return TextEncoder.load(job.model_dir, self.settings.memory_options())

    def generator(self, job: RenderJob):
        from wanflow.backends.generate import Generator

        if self._generator is not None and self._generator[0] == job.backend:
            return self._generator[1]
        self.release_generator()
        self.loads.append(f"generator:{job.backend}")
        generator = Generator.load(job.backend, job.model_dir, self.settings.memory_options())
        self._generator = (job.backend, generator)
        return generator

    def decoder(self, job: RenderJob):
        from wanflow.backends.generate import Decoder

        if job.model_dir not in self._decoders:
            self.loads.append(f"decoder:{job.backend}")
            self._decoders[job.model_dir] = Decoder.load(job.model_dir, self.settings.memory_options())
        return self._decoders[job.model_dir]

    def release_generator(self) -> None:
        if self._generator is not None:
            self._generator = None
            _free_memory()

    def release_all(self) -> None:
        self._decoders.clear()
        self.release_generator()


def needs_generation(job: RenderJob, store: ArtifactStore, *, force: bool = False) -> bool:
    """A shot needs the generator unless its clip or its latents are in the cache (and intact)."""
    if force:
        return True
    return store.get_file("clips", job.keys.clip) is None and store.get_tensors("latents", job.keys.latents) is None


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
        missing = {key: value for key, value in texts.items() if store.get_tensors("embeds", key) is None}
        cached += len(texts) - len(missing)
        if not missing:
            continue
        first_job = next(iter(missing.values()))[0]
        log(f"encoding {len(missing)} prompt(s) with the {first_job.backend} text encoder")
        encoder = pool.text_encoder(first_job)
        for key, (job, text) in missing.items():
            with store.lock("embeds", key):
                if store.get_tensors("embeds", key) is not None:  # another run encoded it meanwhile
                    cached += 1
                    continue
                embeds = encoder.encode(text)
                store.put_tensors("embeds", key, {"embeds": embeds}, {"text": text, "backend": job.backend})
                encoded += 1
        del encoder
        _free_memory()
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
    from wanflow.backends.generate import GenerationRequest

    with store.lock("latents", job.keys.latents):
        if not needs_generation(job, store, force=force):  # another run may have made them meanwhile
            return False
        request = GenerationRequest(
            prompt_embeds=_load_embeds(store, job.keys.prompt),
            negative_embeds=_load_embeds(store, job.keys.negative),
            seed=job.seed,
            width=job.width,
            height=job.height,
            frames=job.frames,
            steps=job.steps,
            guidance_high=job.guidance_high,
            guidance_low=job.guidance_low,
            shift=job.shift,
            image=_open_image(condition_image) if condition_image else None,
            loras=job.shot.loras,
        )
        generator = pool.generator(job)
        started = time.perf_counter()
        with device_lock(str(generator.device)):
            latents = generator.generate(request, progress=_step_logger(job, log))
        meta = {"shot": job.shot_id, "backend": job.backend, "seed": job.seed, "seconds": time.perf_counter() - started}
        store.put_tensors("latents", job.keys.latents, {"latents": latents}, meta)
    return True


def decode_clip(job: RenderJob, store: ArtifactStore, pool: ModelPool, *, force: bool = False) -> tuple[Path, bool]:
    """Decode the shot's latents to an mp4 clip in the cache. Returns (clip path, decoded now)."""
    from wanflow.media import write_clip

    with store.lock("clips", job.keys.clip):
        existing = None if force else store.get_file("clips", job.keys.clip)
        if existing is not None:
            return existing, False
        loaded = store.get_tensors("latents", job.keys.latents)
        if loaded is None:
            raise RuntimeError(f"latents of shot {job.shot_id!r} vanished from the cache; run again to rebuild them")
        frames = pool.decoder(job).decode(loaded[0]["latents"])
        staging = store.scratch_dir() / f"{job.keys.clip}.mp4"
        write_clip(frames, job.fps, staging)
        meta = {"shot": job.shot_id, "frames": int(frames.shape[0]), "fps": job.fps}
        return store.put_file("clips", job.keys.clip, staging, meta), True


def last_frame_image(clip: Path, into: Path) -> Path:
    """Write the clip's last frame as a PNG: the start image of a continuing shot."""
    from PIL import Image

    from wanflow.media import probe, read_frames

    info = probe(clip)
    frame = read_frames(clip, [info.frames - 1])[0]
    into.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(into)
    return into


def device_lock(device: str) -> filelock.FileLock:
    """One generation per device at a time, across every wanflow process on this machine."""
    name = re.sub(r"[^a-z0-9]+", "-", device.lower())
    locks = Path(platformdirs.user_cache_dir("wanflow")) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(locks / f"device-{name}.lock")


def _load_embeds(store: ArtifactStore, key: str):
    loaded = store.get_tensors("embeds", key)
    if loaded is None:
        raise RuntimeError("a prompt embedding vanished from the cache; run again to rebuild it")
    return loaded[0]["embeds"]


def _open_image(path: Path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def _step_logger(job: RenderJob, log: Log) -> Callable[[int, int], None]:
    every = max(1, job.steps // 4)

    def progress(step: int, total: int) -> None:
        if step == total or step % every == 0:
            log(f"shot {job.shot_id}: step {step}/{total}")

    return progress


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
