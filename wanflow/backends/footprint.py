"""What a backend's real-size model holds on the GPU, from shipped numbers: no torch, no diffusers.

The numbers are the parameter bytes of every component of the official models as loading gives
them (`wanflow.backends.realsize` builds them on the meta device, which needs torch and diffusers:
seconds of imports). They change only with the official configs or the loaders' dtype rules,
so they are computed once and shipped in `footprints.json`; a test holds the file against a
fresh computation (regenerate: `python -m wanflow.backends.realsize`). `wanflow plan` reads
them in a millisecond.

Memory per device follows wanflow's phases (generate.py): the text encoder alone (`encode`,
on the CPU with --t5-cpu), then the transformer(s) plus, for image models, the VAE
(`generate`; with --offload only the largest of them is on the GPU at a time), then the VAE
(`decode`). The peak adds an activation term to the generate phase (see realsize.py for the fit).
The table also holds each expert's bytes under every storage a memory plan can give it (bf16,
fp8, the GGUF quant types; realsize.py says the rules) that `peaks.plan_peak` adds up.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

from wanflow.catalog import backend_spec

ACTIVATION_BYTES_PER_TOKEN_CHANNEL = 92  # at a 2-byte compute dtype; twice that in float32
GIB = 1 << 30
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
TABLE = Path(__file__).with_name("footprints.json")


@dataclass(frozen=True)
class Footprint:
    """A backend's real-size model under one set of memory switches: bytes per phase and device."""

    backend_id: str
    dtype: str  # bf16 | fp16 | fp32 ("auto" means bf16: the estimate is for a CUDA GPU)
    offload: bool
    text_encoder_cpu: bool
    phases: dict[str, dict[str, int]]  # phase -> {"cuda": bytes, "cpu": bytes} of weights resident in it
    model_dim: int  # transformer width (heads x head dim), which activations scale with
    tokens_per_latent: tuple[int, int, int]  # pixels per transformer token: (frames, height, width)

    def tokens(self, width: int, height: int, frames: int) -> int:
        """Transformer sequence length of one clip."""
        per_frame, per_row, per_column = self.tokens_per_latent
        return ((frames - 1) // per_frame + 1) * (height // per_row) * (width // per_column)

    def activation_bytes(self, width: int, height: int, frames: int) -> int:
        scale = DTYPE_BYTES[self.dtype] / 2
        return math.ceil(
            ACTIVATION_BYTES_PER_TOKEN_CHANNEL * scale * self.tokens(width, height, frames) * self.model_dim
        )

    def peak_gpu_bytes(self, width: int, height: int, frames: int) -> int:
        """The most GPU memory any phase holds: weights, plus activations while generating."""
        generate = self.phases["generate"]["cuda"] + self.activation_bytes(width, height, frames)
        return max(self.phases["encode"]["cuda"], generate, self.phases["decode"]["cuda"])


@dataclass(frozen=True)
class ExpertBytes:
    """One expert's weight bytes under one storage: all of them, those outside its blocks, its largest block."""

    total: int
    outside_blocks: int
    largest_block: int


def phases(
    backend_id: str, component_bytes: dict[str, int], *, offload: bool, text_encoder_cpu: bool
) -> dict[str, dict[str, int]]:
    """Bytes each phase keeps on each device, from the components' bytes (text_encoder, transformer[_2], vae)."""
    spec = backend_spec(backend_id)
    experts = ("transformer", "transformer_2")[: spec.experts]
    generating = [component_bytes[name] for name in experts] + ([component_bytes["vae"]] if spec.accepts_image else [])
    on_gpu = max(generating) if offload else sum(generating)
    text_encoder = component_bytes["text_encoder"]
    return {
        "encode": {"cuda": 0, "cpu": text_encoder} if text_encoder_cpu else {"cuda": text_encoder, "cpu": 0},
        "generate": {"cuda": on_gpu, "cpu": sum(generating) - on_gpu},
        "decode": {"cuda": component_bytes["vae"], "cpu": 0},
    }


@functools.cache
def _table() -> dict[str, dict]:
    return json.loads(TABLE.read_text(encoding="utf-8"))


@functools.cache
def footprint(
    backend_id: str, *, dtype: str = "bf16", offload: bool = False, text_encoder_cpu: bool = False
) -> Footprint:
    """The shipped footprint of a backend's official model under these switches."""
    spec = backend_spec(backend_id)
    dtype = "bf16" if dtype == "auto" else dtype
    entry = _table()[spec.id]
    return Footprint(
        backend_id=spec.id,
        dtype=dtype,
        offload=offload,
        text_encoder_cpu=text_encoder_cpu,
        phases=phases(spec.id, entry["component_bytes"][dtype], offload=offload, text_encoder_cpu=text_encoder_cpu),
        model_dim=entry["model_dim"],
        tokens_per_latent=tuple(entry["tokens_per_latent"]),
    )


def component_bytes(backend_id: str, dtype: str = "bf16") -> dict[str, int]:
    """The shipped bytes of every component (text_encoder, transformer[_2], vae) loaded in `dtype`."""
    return dict(_table()[backend_spec(backend_id).id]["component_bytes"][dtype])


@functools.cache
def expert_bytes(backend_id: str, component: str, weights: str) -> ExpertBytes:
    """The shipped bytes of an expert stored as `weights` (bf16 | fp8 | a GGUF quant type)."""
    return ExpertBytes(**_table()[backend_spec(backend_id).id]["expert_bytes"][component][weights])
