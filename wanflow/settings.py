"""How the models run on this machine: device, precision and the memory and speed switches.

These are the switches a user of the official generate.py knows (--offload_model, --t5_cpu,
--convert_model_dtype). Those that change the numbers (precision, step caching, VAE tiling)
are part of the cache keys; the others only move work between memory and time.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanflow.catalog import STEP_CACHES
from wanflow.errors import Problem, UserError

DTYPES = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class RenderSettings:
    device: str | None = None  # None: CUDA when present, else CPU
    dtype: str = "auto"  # auto = bf16 on CUDA, fp32 on CPU
    offload: bool = False  # model CPU offload: one expert on the GPU at a time
    text_encoder_cpu: bool = False  # keep UMT5-XXL on the CPU (official --t5_cpu)
    vae_tiling: bool = False  # decode in tiles: less VAE memory at 720p
    step_cache: str | None = None  # first-block | taylorseer: faster, slightly different pictures
    allow_nonstandard: bool = False  # render model folders whose layout is not the official Wan2.2 one

    def __post_init__(self) -> None:
        problems = []
        if self.dtype not in DTYPES:
            problems.append(f"--dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.step_cache is not None and self.step_cache not in STEP_CACHES:
            problems.append(f"--step-cache must be one of {', '.join(STEP_CACHES)}, not {self.step_cache!r}")
        if problems:
            raise UserError([Problem("wanflow", None, None, "", message) for message in problems])

    def numerics(self) -> dict[str, object]:
        """What changes a generated tensor's numbers: part of the embeds and latents keys."""
        return {"dtype": self.dtype, "step_cache": self.step_cache}
