"""The backends' side of a take's phases, over the cache: texts to embeddings, embeddings to latents, latents to frames.

The run (`wanflow.run.phases`) decides what the cache lacks and holds its locks; each function
here is the one call a phase makes into the backends: it takes the models from the pool, reads
its inputs from the store and writes its tensors there. torch loads with the first of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wanflow.backends.pool import ModelPool, device_lock
from wanflow.cache import ArtifactStore
from wanflow.memory import out_of_memory_advice
from wanflow.take import JobKeys, TakeSettings


def has_embeds(store: ArtifactStore, key: str) -> bool:
    """An intact embedding is in the cache (its tensors read and checked)."""
    from wanflow.backends.tensors import get_tensors

    return get_tensors(store, "embeds", key) is not None


def encode_texts(backend: str, model_dir: Path, texts: Mapping[str, str], store: ArtifactStore, pool: ModelPool) -> int:
    """Encode each text under its key unless another run did meanwhile; one text-encoder load. Returns how many."""
    from wanflow.backends.tensors import put_tensors

    encoder = pool.text_encoder(backend, model_dir)
    encoded = 0
    for key, text in texts.items():
        with store.lock("embeds", key):
            if has_embeds(store, key):
                continue
            put_tensors(store, "embeds", key, {"embeds": encoder.encode(text)}, {"text": text, "backend": backend})
            encoded += 1
    return encoded


def generate_latents(
    take: TakeSettings,
    model_dir: Path,
    keys: JobKeys,
    store: ArtifactStore,
    pool: ModelPool,
    *,
    image: Path | None,
    end_image: Path | None = None,
    meta: Mapping[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Denoise the take from its cached embeddings (and its start and end frames) into its latents entry."""
    from wanflow.backends.generate import PromptEmbeds
    from wanflow.backends.tensors import put_tensors

    embeds = PromptEmbeds(_embeds(store, keys.prompt), _embeds(store, keys.negative))
    start, end = _open_image(image), _open_image(end_image)
    generator = pool.generator(take.backend, model_dir, take.memory)
    started = time.perf_counter()
    try:
        with device_lock(str(generator.device)):
            latents = generator.generate(take, embeds, start, progress=progress, end_image=end)
    except RuntimeError as error:  # torch.cuda.OutOfMemoryError among them
        if "out of memory" not in str(error).lower():
            raise
        raise RuntimeError(out_of_memory_advice(take.memory)) from error
    seconds = time.perf_counter() - started
    put_tensors(store, "latents", keys.latents, {"latents": latents}, {**meta, "seconds": seconds})


def decode_latents(backend: str, model_dir: Path, latents_key: str, store: ArtifactStore, pool: ModelPool):
    """The take's frames, uint8 [frames, H, W, 3], from its cached latents."""
    from wanflow.backends.tensors import get_tensors

    loaded = get_tensors(store, "latents", latents_key)
    if loaded is None:
        raise RuntimeError("a take's latents vanished from the cache; run again to rebuild them")
    return pool.decoder(backend, model_dir).decode(loaded[0]["latents"])


def _open_image(path: Path | None):
    """As the official code does (`Image.open(path).convert("RGB")`: no EXIF rotation), its format only."""
    if path is None:
        return None
    from wanflow.storyboard.mediafiles import open_start_image

    with open_start_image(path) as image:
        return image.convert("RGB")


def _embeds(store: ArtifactStore, key: str):
    from wanflow.backends.tensors import get_tensors

    loaded = get_tensors(store, "embeds", key)
    if loaded is None:
        raise RuntimeError("a prompt embedding vanished from the cache; run again to rebuild it")
    return loaded[0]["embeds"]
