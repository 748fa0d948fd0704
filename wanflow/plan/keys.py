"""Cache keys: what exactly decides each artifact's bytes.

A key is the hash of everything that changes an output (see docs/cache.md), so a spec edit
re-renders exactly the shots whose keys it changes, and the shots continuing from them
(whose keys include their upstream clip's key).
"""

from __future__ import annotations

from dataclasses import dataclass

from wanflow import __version__
from wanflow.cache.store import ArtifactStore
from wanflow.catalog import BackendSpec
from wanflow.film import Film, Shot
from wanflow.grammar.compile import CompiledShot
from wanflow.hashing import file_sha256
from wanflow.settings import RenderSettings

MAX_SEQUENCE_LENGTH = 512  # tokens per prompt embedding, as the pipeline uses at call time


@dataclass(frozen=True)
class JobKeys:
    prompt: str  # embeds of the positive prompt
    negative: str  # embeds of the negative prompt
    latents: str
    clip: str

    def all(self) -> dict[str, str]:
        return {"prompt": self.prompt, "negative": self.negative, "latents": self.latents, "clip": self.clip}


def job_keys(
    *,
    shot: Shot,
    compiled: CompiledShot,
    spec: BackendSpec,
    weights: str,
    size: tuple[int, int],
    frames: int,
    steps: int,
    seed: int,
    upstream_clip: str | None,
    settings: RenderSettings,
) -> JobKeys:
    encoder = {"weights": weights, "max_sequence_length": MAX_SEQUENCE_LENGTH, "dtype": settings.dtype}
    prompt = ArtifactStore.key("embeds", {**encoder, "text": compiled.prompt})
    negative = ArtifactStore.key("embeds", {**encoder, "text": compiled.negative})
    if shot.image is not None:
        condition: dict[str, object] = {"image_sha256": file_sha256(shot.image), "fit": shot.fit}
    elif upstream_clip is not None:
        condition = {"upstream_clip": upstream_clip, "fit": shot.fit}
    else:
        condition = {}
    latents = ArtifactStore.key(
        "latents",
        {
            "backend": spec.id,
            "weights": weights,
            "prompt": prompt,
            "negative": negative,
            "seed": seed,
            "width": size[0],
            "height": size[1],
            "frames": frames,
            "steps": steps,
            "guidance": [spec.guidance_high, spec.guidance_low],
            "shift": spec.shift,
            "boundary_ratio": spec.boundary_ratio,
            **settings.numerics(),
            "loras": [
                {"sha256": file_sha256(lora.path), "scale": lora.scale, "expert": lora.expert} for lora in shot.loras
            ],
            **condition,
        },
    )
    clip = ArtifactStore.key(
        "clips", {"latents": latents, "decoder": weights, "fps": spec.fps, "vae_tiling": settings.vae_tiling}
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
