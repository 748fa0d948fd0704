"""One home for what decides a take's pixels, and for the run's machine switches.

`TakeSettings` is built once per take by the plan (the only place defaults are decided),
hashed whole by the cache keys, handed whole to the generator, and held, not copied, by the
report and the exports. A new per-take setting is one field here plus the code that uses it.

`RenderSettings` are the switches of the machine a run renders on (the official generate.py's
--offload_model, --t5_cpu, --convert_model_dtype): the same for every take of a run. Those that
change the numbers (precision, step caching, VAE tiling) are part of the cache keys; the others
only move work between memory and time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from wanflow.catalog import STEP_CACHES
from wanflow.errors import Problem, UserError
from wanflow.film import ImageFit, Lora
from wanflow.hashing import file_sha256
from wanflow.memory import DEFAULT_PLAN, memory_plan

DTYPES = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class TakeSettings:
    """Everything that decides one take's generated frames, as the plan fixed it."""

    backend: str  # catalog.BACKENDS id
    seed: int
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    guidance_high: float  # the high-noise expert's (pipeline `guidance_scale`)
    guidance_low: float  # the low-noise expert's (`guidance_scale_2`); equal for one-expert models
    shift: float  # the flow-matching scheduler's shift
    boundary_ratio: float | None  # MoE switch: t >= ratio * 1000 runs the high-noise expert
    fit: ImageFit = "official"  # how the start image (or the upstream's last frame) fills the frame
    loras: tuple[Lora, ...] = ()
    image: Path | None = None  # the start image file; None: text only, or the upstream's last frame
    memory: str = DEFAULT_PLAN  # the memory plan (wanflow.memory) the plan fitted to the card
    sampler: str = "unipc"  # unipc (official) | euler (the turbo tier: flow-matching Euler, ComfyUI's schedule)
    end_image: Path | None = (
        None  # the last frame's file (first-last-frame); None: none, or a rendered shot's first frame
    )
    # The animatic profile draws the take instead of generating it (docs/animatic.md): `backend`
    # then only says whose framing and frame rate it follows.
    animatic: bool = False
    camera: tuple[str, ...] = ()  # animatic: the camera terms that move it
    start_view: tuple[float, float, float] = (1.0, 0.0, 0.0)  # animatic: its first frame's zoom, x, y

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def latents_payload(self, upstream_clip: str | None, end_clip: str | None = None) -> dict[str, object]:
        """The part of the latents key this record decides (`upstream_clip`: the key of the clip a
        continuation starts from; `end_clip`: of the clip whose first frame ends the take). Every
        field is in it, or named in `_NOT_IN_LATENTS` with why. A take without an end frame keeps
        the key it had before end frames existed."""
        payload: dict[str, object] = {
            "backend": self.backend,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "steps": self.steps,
            "guidance": [self.guidance_high, self.guidance_low],
            "shift": self.shift,
            "boundary_ratio": self.boundary_ratio,
            "loras": [
                {"sha256": file_sha256(lora.path), "scale": lora.scale, "expert": lora.expert} for lora in self.loras
            ],
        }
        payload.update(memory_plan(self.memory).numerics())  # fp8 / GGUF storage; nothing for bf16
        if self.sampler != "unipc":
            payload["sampler"] = self.sampler
        return {**payload, **self._ends_payload(upstream_clip, end_clip)}

    def _ends_payload(self, upstream_clip: str | None, end_clip: str | None) -> dict[str, object]:
        """What fixes the take's first and last frames: files by content, other shots by clip key."""
        payload: dict[str, object] = {}
        if self.image is not None:
            payload.update(image_sha256=file_sha256(self.image), fit=self.fit)
        elif upstream_clip is not None:
            payload.update(upstream_clip=upstream_clip, fit=self.fit)
        if self.end_image is not None:
            payload.update(end_image_sha256=file_sha256(self.end_image))
        elif end_clip is not None:
            payload.update(end_clip=end_clip)
        return payload

    def animatic_payload(self, upstream_clip: str | None, end_clip: str | None = None) -> dict[str, object]:
        """The part of an animatic clip's key this record decides: what draws it, no model."""
        payload: dict[str, object] = {
            "framing": self.backend,
            "seed": self.seed,  # the handheld shake's
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "fps": self.fps,
            "camera": list(self.camera),
            "start_view": list(self.start_view),
        }
        return {**payload, **self._ends_payload(upstream_clip, end_clip)}


@dataclass(frozen=True)
class JobKeys:
    """A take's cache keys, one per artifact."""

    prompt: str  # embeds of the positive prompt
    negative: str  # embeds of the negative prompt
    latents: str
    clip: str

    def all(self) -> dict[str, str]:
        return {"prompt": self.prompt, "negative": self.negative, "latents": self.latents, "clip": self.clip}


# Fields the latents key does not take from the record, and why (a test holds every other field
# to being in the payload, so a new setting cannot be forgotten by the cache).
_NOT_IN_LATENTS = {
    "fps": "a playback rate: the clip key has it, the latents do not depend on it",
    "animatic": "an animatic take has no latents: its clip key is animatic_payload's",
    "camera": "a generated take's camera is in its prompt; an animatic's clip key has it",
    "start_view": "drawing only: an animatic's clip key has it",
}


def latents_fields() -> set[str]:
    """The TakeSettings fields that must reach the latents key."""
    return {f.name for f in fields(TakeSettings)} - set(_NOT_IN_LATENTS)


@dataclass(frozen=True)
class RenderSettings:
    """How the models run on this machine: the same for every take of a run."""

    device: str | None = None  # None: CUDA when present, else CPU
    dtype: str = "auto"  # auto = bf16 on CUDA, fp32 on CPU
    offload: bool = False  # model CPU offload: one expert on the GPU at a time
    text_encoder_cpu: bool = False  # keep UMT5-XXL on the CPU (official --t5_cpu)
    vae_tiling: bool = False  # decode in tiles: less VAE memory at 720p
    step_cache: str | None = None  # first-block | taylorseer: faster, slightly different pictures
    allow_nonstandard: bool = False  # render model folders whose layout is not the official Wan2.2 one
    cpu_threads: int = field(default=1, compare=False)  # torch intra-op threads on the CPU (WANFLOW_CPU_THREADS)

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
