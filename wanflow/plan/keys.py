"""Cache keys: what exactly decides each artifact's bytes.

A key is the hash of everything that changes an output (see docs/cache.md), so a spec edit
re-renders exactly the shots whose keys it changes, and the shots continuing from them
(whose keys include their upstream clip's key).
"""

from __future__ import annotations

from wanflow import __version__
from wanflow.cache.store import ArtifactStore
from wanflow.film import Film
from wanflow.grammar.compile import CompiledShot
from wanflow.hashing import file_sha256
from wanflow.take import JobKeys, RenderSettings, TakeSettings

MAX_SEQUENCE_LENGTH = 512  # tokens per prompt embedding, as the pipeline uses at call time


def job_keys(
    *,
    compiled: CompiledShot,
    take: TakeSettings,
    weights: str,
    upstream_clip: str | None,
    render: RenderSettings,
    end_clip: str | None = None,
) -> JobKeys:
    """The take's four keys: its settings whole, the model's weights, the machine switches that
    change numbers, and the keys of the clips it starts from (a continuation) or ends on (`end_at:`
    a shot rendered from text or continuing another)."""
    encoder = {"weights": weights, "max_sequence_length": MAX_SEQUENCE_LENGTH, "dtype": render.dtype}
    prompt = ArtifactStore.key("embeds", {**encoder, "text": compiled.prompt})
    negative = ArtifactStore.key("embeds", {**encoder, "text": compiled.negative})
    latents = ArtifactStore.key(
        "latents",
        {
            **take.latents_payload(upstream_clip, end_clip),
            "weights": weights,
            "prompt": prompt,
            "negative": negative,
            **render.numerics(),
        },
    )
    clip = ArtifactStore.key(
        "clips", {"latents": latents, "decoder": weights, "fps": take.fps, "vae_tiling": render.vae_tiling}
    )
    return JobKeys(prompt=prompt, negative=negative, latents=latents, clip=clip)


def cut_key(
    film: Film,
    clip_keys: list[str],
    size: tuple[int, int],
    profile: str,
    compared_takes: dict[str, list[str]] | None = None,
) -> str:
    """Everything the finished film and its report are made of: the clips, the spec (edit, titles,
    captions), the sound, and the clips of the takes the report compares (shot id -> clip keys)."""
    payload: dict[str, object] = {
        "clips": clip_keys,
        "spec_sha256": film.source_sha256,
        "soundtrack": [file_sha256(track.path) for track in film.soundtrack],
        "size": list(size),
        "profile": profile,
        "wanflow": __version__,
    }
    if compared_takes:  # absent for a film of single takes: its key is the one it always had
        payload["takes"] = compared_takes
    return ArtifactStore.key("cut", payload)
