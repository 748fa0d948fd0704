"""Peak GPU and host memory of a real-size backend under a memory plan, before any weights exist.

Torch-free: the weights come from the shipped table (`footprint`), which `realsize` computes
from the official configs built on the meta device, every expert stored as each plan stores
it (bf16, fp8, a GGUF quant type; realsize.py says the rules). Placement decides what sits on
the GPU while generating: `resident` every expert, `offload` the largest one, `stream` the
largest expert's parts outside its blocks plus two blocks (the running one and the
prefetched one). Image models also keep the VAE there (it encodes the start frame).

Activations are counted from diffusers' `WanTransformerBlock.forward` rather than fitted:
at its peak a block holds the residual stream and its normalised copy (bf16), q, k and v, and
float32 temporaries of the norms, RoPE and gated residual adds: about 20 bytes per token per
model channel at a 2-byte compute dtype; DIFFUSERS_ACTIVATION_BYTES adds a fifth for the
allocator. The official code needs more (float64 RoPE, a float32 residual stream):
`realsize.ACTIVATION_BYTES_PER_TOKEN_CHANNEL` is fitted to its table and kept for comparing
with it (docs/models.md). VAE work (decoding; for I2V-A14B also encoding the conditioning
video) is counted from the decoder's top stage: float32 feature maps of its channels per
output pixel, DECODER_FRAME_COPIES of them alive (the causal caches of its convolutions and
the working tensors of a 4-frame chunk), over the whole frame or one 256x256 tile with
`vae_tiling`, plus the decoded video in float32. All of it is an estimate with its reasons
written down; `benchmarks/bench_backends.py --real-size` measures the real peaks on a GPU.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from wanflow import settings
from wanflow.backends.footprint import GIB, component_bytes, expert_bytes, footprint
from wanflow.backends.layout import official_folder, read_config
from wanflow.catalog import backend_spec
from wanflow.memory import BLOCKS_PER_GROUP, MemoryPlan

DIFFUSERS_ACTIVATION_BYTES = 24  # per token per model channel at a 2-byte compute dtype (see above)
DECODER_FRAME_COPIES = 30  # float32 frame-sized feature maps of the decoder's top stage alive at once
VAE_TILE = 256  # diffusers' AutoencoderKLWan tile_sample_min_height / _width
_EXPERTS = ("transformer", "transformer_2")


@dataclass(frozen=True)
class Peak:
    """GPU bytes per phase and host bytes (weights held in CPU memory while generating)."""

    encode: int
    generate: int
    decode: int
    host: int

    @property
    def gpu(self) -> int:
        return max(self.encode, self.generate, self.decode)

    @property
    def gpu_gib(self) -> float:
        return self.gpu / GIB


def _vae_work(backend_id: str, width: int, height: int, frames: int, tiling: bool) -> int:
    """Bytes of VAE feature maps while decoding (or encoding) a clip, and the float32 video itself."""
    vae = read_config(official_folder(backend_id), "vae")
    patch = vae.get("patch_size") or 1
    channels_per_pixel = (vae.get("decoder_base_dim") or vae["base_dim"]) / (patch * patch)
    area = min(width, VAE_TILE) * min(height, VAE_TILE) if tiling else width * height
    work = DECODER_FRAME_COPIES * channels_per_pixel * 4 * area
    return math.ceil(work + frames * 3 * width * height * 4)


def plan_peak(
    backend_id: str,
    plan: MemoryPlan,
    width: int,
    height: int,
    frames: int,
    *,
    text_encoder_cpu: bool = False,
    vae_tiling: bool = False,
) -> Peak:
    """The estimated peaks of one clip of the real-size backend under `plan` (bf16 compute)."""
    spec = backend_spec(backend_id)
    size = footprint(backend_id)  # bf16: the activation geometry
    components = component_bytes(backend_id)  # bf16: the text encoder, the float32 VAE
    experts = [expert_bytes(backend_id, component, plan.weights) for component in _EXPERTS[: spec.experts]]
    vae_bytes = components["vae"]
    image_vae = vae_bytes if spec.accepts_image else 0
    if plan.placement == "resident":
        on_gpu = sum(e.total for e in experts) + image_vae
    elif plan.placement == "offload":
        on_gpu = max(max(e.total for e in experts), image_vae)
    else:  # stream: the expert's parts outside its blocks, the running block group and the next one
        on_gpu = max(e.outside_blocks + 2 * BLOCKS_PER_GROUP * e.largest_block for e in experts) + image_vae
    activations = DIFFUSERS_ACTIVATION_BYTES * size.tokens(width, height, frames) * size.model_dim
    if spec.pipeline == "WanImageToVideoPipeline":  # it VAE-encodes a whole conditioning clip first
        activations = max(activations, _vae_work(backend_id, width, height, frames, vae_tiling))
    text_encoder = components["text_encoder"]
    return Peak(
        encode=0 if text_encoder_cpu else text_encoder,
        generate=on_gpu + activations,
        decode=vae_bytes + _vae_work(backend_id, width, height, frames, vae_tiling),
        host=sum(e.total for e in experts) + image_vae - on_gpu + (text_encoder if text_encoder_cpu else 0),
    )


def official_peak_gib(backend_id: str, width: int, height: int, frames: int) -> float:
    """The official code's peak as `realsize` fits it (offload, bf16; TI2V-5B with --t5_cpu), for comparison."""
    five_b = backend_spec(backend_id).experts == 1
    return footprint(backend_id, offload=True, text_encoder_cpu=five_b).peak_gpu_bytes(width, height, frames) / GIB


NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")  # Linux: the NVIDIA kernel driver is loaded
WSL_GPU = Path("/dev/dxg")  # WSL2: the GPU reaches Linux through DirectX, without that driver file


def this_card_gib() -> float | None:
    """Free memory of this machine's CUDA card in GiB (the default --card), None without CUDA.

    torch is imported (seconds) only where a card can be there: not on a Linux machine without
    the NVIDIA driver, nor where CUDA_VISIBLE_DEVICES hides every card."""
    if not card_may_be_visible():
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free / GIB


def card_may_be_visible() -> bool:
    """False where CUDA surely sees no card: CUDA_VISIBLE_DEVICES hides them all, or Linux has no NVIDIA driver."""
    visible = settings.current().cuda_visible_devices
    if visible is not None and _hides_every_card(visible):
        return False
    return not sys.platform.startswith("linux") or NVIDIA_DRIVER.exists() or WSL_GPU.exists()


def _hides_every_card(visible: str) -> bool:
    """CUDA reads the list up to its first invalid entry: empty, or starting with a negative index, it names no card."""
    first = visible.split(",")[0].strip()
    return first == "" or first.startswith("-")
