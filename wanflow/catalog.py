"""The one table of official Wan2.2 facts and defaults; every other module reads it from here.

Values come from the official Wan2.2 repository (generate.py, wan/configs/*) and its README;
see docs/models.md. Sizes are (width, height).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wanflow.errors import UserError
from wanflow.film import ProfileSpec

# The official Chinese negative prompt (wan/configs/shared_config.py).
DEFAULT_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


ImageSizing = Literal["best_output_size", "max_area"]

# Opt-in step caches that work on both Wan2.2 experts (MagCache's step accounting does not).
STEP_CACHES = ("first-block", "taylorseer")

# What one generation may ask of any backend; past these a storyboard is refused by `validate`
# and `plan` instead of failing on the GPU (or allocating for hours).
MAX_FRAMES = 241  # twice the longest official clip (121): 10 s at 24 fps, 15 s at 16 fps
MAX_STEPS = 1000  # the schedulers' 1000 training timesteps: more steps cannot be distinct


@dataclass(frozen=True)
class BackendSpec:
    id: str  # "ti2v-5b" | "t2v-a14b" | "i2v-a14b"
    repo_id: str  # Diffusers-format repository on the Hugging Face Hub
    pipeline: str  # diffusers pipeline class name in model_index.json
    sizes: tuple[tuple[int, int], ...]  # officially supported (width, height)
    default_size: tuple[int, int]
    size_multiple: int  # width and height must be multiples of this (VAE stride x patch)
    frames: int
    fps: int
    steps: int
    shift: float  # UniPC flow_shift
    guidance_high: float  # high-noise expert (`transformer`)
    guidance_low: float  # low-noise expert (`transformer_2`); equal for single-expert models
    boundary_ratio: float | None  # MoE switch: t >= ratio * 1000 runs the high-noise expert
    vae_stride: tuple[int, int, int]  # (time, height, width)
    z_dim: int
    accepts_text: bool
    accepts_image: bool
    needs_image: bool
    memory_class_gb: int  # the GPU class it needs with the official memory switches
    official_seconds: dict[str, float]  # one generation, 1 GPU, official README ("720p"/"480p")
    official_peak_gb: dict[str, float]
    official_gpu: str  # the GPU the official timings were taken on
    # How the official code frames a start image (see plan/framing.py): "best_output_size"
    # (wan/textimage2video.py: the stride-multiple size nearest the image's aspect, the image
    # scaled to cover it and centre-cropped) or "max_area" (wan/image2video.py and diffusers'
    # Wan I2V example: each side of the image's aspect rounded down to the stride, the image
    # resized to it).
    image_sizing: ImageSizing

    @property
    def card_resource(self) -> str:
        """The Dask worker resource a worker must declare to render this model (see `card_resources`)."""
        return f"GPU{self.memory_class_gb}"

    @property
    def experts(self) -> int:
        return 1 if self.boundary_ratio is None else 2

    @property
    def accepts_last_frame(self) -> bool:
        """First-last-frame: diffusers' WanImageToVideoPipeline takes `last_image` for I2V-A14B (ComfyUI's
        flf2v template runs the same weights); TI2V-5B's image mode ignores it, T2V takes no image."""
        return self.pipeline == "WanImageToVideoPipeline" and not self.expand_timesteps

    @property
    def expand_timesteps(self) -> bool:
        """TI2V-5B: per-token timesteps, so an image can pin latent frame 0."""
        return self.id == "ti2v-5b"

    def transformer_in_channels(self) -> int:
        """I2V-A14B concatenates 4 mask channels and the image latent to the noise."""
        return 2 * self.z_dim + 4 if self.needs_image else self.z_dim


_A14B_SIZES = ((1280, 720), (720, 1280), (832, 480), (480, 832))

BACKENDS: dict[str, BackendSpec] = {
    spec.id: spec
    for spec in (
        BackendSpec(
            id="ti2v-5b",
            repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            pipeline="WanPipeline",
            sizes=((1280, 704), (704, 1280)),
            default_size=(1280, 704),
            size_multiple=32,
            frames=121,
            fps=24,
            steps=50,
            shift=5.0,
            guidance_high=5.0,
            guidance_low=5.0,
            boundary_ratio=None,
            vae_stride=(4, 16, 16),
            z_dim=48,
            accepts_text=True,
            accepts_image=True,
            needs_image=False,
            memory_class_gb=24,
            official_seconds={"720p": 534.7},
            official_peak_gb={"720p": 22.9},
            official_gpu="RTX 4090",
            image_sizing="best_output_size",
        ),
        BackendSpec(
            id="t2v-a14b",
            repo_id="Wan-AI/Wan2.2-T2V-A14B-Diffusers",
            pipeline="WanPipeline",
            sizes=_A14B_SIZES,
            default_size=(1280, 720),
            size_multiple=16,
            frames=81,
            fps=16,
            steps=40,
            shift=12.0,
            guidance_high=4.0,
            guidance_low=3.0,
            boundary_ratio=0.875,
            vae_stride=(4, 8, 8),
            z_dim=16,
            accepts_text=True,
            accepts_image=False,
            needs_image=False,
            memory_class_gb=80,
            official_seconds={"480p": 326.9, "720p": 1041.5},
            official_peak_gb={"480p": 41.3, "720p": 59.8},
            official_gpu="H100",
            image_sizing="max_area",
        ),
        BackendSpec(
            id="i2v-a14b",
            repo_id="Wan-AI/Wan2.2-I2V-A14B-Diffusers",
            pipeline="WanImageToVideoPipeline",
            sizes=_A14B_SIZES,
            default_size=(1280, 720),
            size_multiple=16,
            frames=81,
            fps=16,
            steps=40,
            shift=5.0,
            guidance_high=3.5,
            guidance_low=3.5,
            boundary_ratio=0.9,
            vae_stride=(4, 8, 8),
            z_dim=16,
            accepts_text=True,
            accepts_image=True,
            needs_image=True,
            memory_class_gb=80,
            official_seconds={"480p": 327.8, "720p": 1055.9},
            official_peak_gb={"480p": 41.0, "720p": 59.7},
            official_gpu="H100",
            image_sizing="max_area",
        ),
    )
}


def backend_spec(backend_id: str) -> BackendSpec:
    """The spec for an id, or a UserError that lists the known ids."""
    try:
        return BACKENDS[backend_id]
    except KeyError:
        raise UserError(f"unknown model {backend_id!r}; known models: {', '.join(BACKENDS)}") from None


CARD_CLASSES_GB = (24, 80)  # the GPU classes the official memory table speaks of


def card_resources(card_gb: int) -> dict[str, int]:
    """Dask worker resources of a GPU with `card_gb` of memory: every class it can stand in for.

    An 80 GB card also runs what a 24 GB card runs, so it declares GPU24 and GPU80; a task asks
    for its model's class only. With `--nthreads 1` a worker still runs one task at a time.
    """
    return {f"GPU{gb}": 1 for gb in CARD_CLASSES_GB if gb <= card_gb}


# --- the built-in tiers --------------------------------------------------------------------
# `preview` is a wiring check on tiny random-weight models (its pictures are noise), `draft`
# renders every shot on TI2V-5B (a 24 GB card), `final` uses the two-expert A14B models
# (80 GB cards). A spec may declare its own profiles beside these.

PREVIEW_SIZE = (256, 144)  # 16:9, a multiple of 16: fine for every tiny model
PREVIEW_STEPS = 4

BUILTIN_PROFILES: dict[str, ProfileSpec] = {
    "preview": ProfileSpec(
        name="preview",
        text_backend="t2v-a14b",
        image_backend="i2v-a14b",
        width=PREVIEW_SIZE[0],
        height=PREVIEW_SIZE[1],
        steps=PREVIEW_STEPS,
        tiny=True,
    ),
    "draft": ProfileSpec(name="draft", text_backend="ti2v-5b", image_backend="ti2v-5b"),
    "final": ProfileSpec(name="final", text_backend="t2v-a14b", image_backend="i2v-a14b"),
}
