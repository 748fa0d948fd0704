"""Real-size Wan2.2 models without a GPU: the official configs built on the meta device.

Every component of `official/<backend-id>/` (model_index.json + configs, no weights) is built
from its config with the class model_index.json declares, as the real loading does, but with
its parameters on the meta device: a 14B expert costs a fraction of a second and no memory.
So parameter counts come from the models themselves. The dtype of every parameter follows the
rule the real loaders apply (tests hold it against loading the tiny models for real):
diffusers keeps a model's `_keep_in_fp32_modules` in float32 at any dtype, transformers its
`_keep_in_fp32_modules` in fp16 and `_keep_in_fp32_modules_strict` in fp16 and bf16, and
wanflow loads every VAE in float32.

Memory per device follows wanflow's phases (`footprint.phases`). The numbers `wanflow plan`
needs are shipped in footprints.json (`python -m wanflow.backends.realsize` writes it anew),
so planning never imports torch. The peak adds an activation term to the generate phase:
ACTIVATION_BYTES_PER_TOKEN_CHANNEL bytes per transformer token per channel of the model width,
fitted to the official H100 rows of T2V-A14B (41.3 / 59.8 GiB at 480p / 720p, offload, bf16)
over the weights wanflow keeps on the GPU there. The official code needs more for activations
than diffusers is likely to (float64 RoPE, per-token float32 modulation), so the term is on
the safe side for wanflow; `benchmarks/bench_backends.py --real-size` measures the real peak.
VAE decoding is counted by its weights only: at 720p its activations can exceed the peak
without --vae-tiling.

The table also holds every expert's bytes as each memory plan stores it (`peaks.plan_peak`
adds them up): bf16 as loaded; fp8 by calling diffusers' own `enable_layerwise_casting` on the
meta model (so its skip rules decide, not a copy of them); a GGUF quant type by the files' rule
(`gguf_files`: linear weight matrices in whole blocks are quantized, at ggml's bytes per block;
Q4_K_S counted as Q4_K, its leading type). Each as the total, the part outside the transformer
blocks and the largest block (what streaming keeps on the GPU).
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import gguf
import torch
from accelerate import init_empty_weights
from accelerate.utils import set_module_tensor_to_device
from diffusers import ModelMixin

from wanflow.backends.footprint import (
    ACTIVATION_BYTES_PER_TOKEN_CHANNEL,
    GIB,
    TABLE,
    ExpertBytes,
    Footprint,
    phases,
)
from wanflow.backends.gguf_files import QUANT_TYPES, original_name
from wanflow.backends.layout import declared_module_class, official_folder, read_config
from wanflow.backends.memory_plans import FP8
from wanflow.catalog import BACKENDS, backend_spec

__all__ = ["ACTIVATION_BYTES_PER_TOKEN_CHANNEL", "GIB", "RealSize", "fresh_table", "meta_expert_bytes", "real_size"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_EXPERTS = ("transformer", "transformer_2")
EXPERT_WEIGHTS = ("bf16", "fp8", *QUANT_TYPES)  # every storage an expert can have under a memory plan


@dataclass(frozen=True)
class ComponentSize:
    """One component as loaded: every parameter's name, element count and dtype."""

    component: str
    class_name: str
    parameters: tuple[tuple[str, int, torch.dtype], ...]

    @property
    def count(self) -> int:
        return sum(numel for _name, numel, _dtype in self.parameters)

    @property
    def bytes(self) -> int:
        return sum(numel * dtype.itemsize for _name, numel, dtype in self.parameters)

    def dtype_counts(self) -> dict[torch.dtype, int]:
        """Parameters (elements) per dtype."""
        counts: Counter[torch.dtype] = Counter()
        for _name, numel, dtype in self.parameters:
            counts[dtype] += numel
        return dict(counts)


@dataclass(frozen=True)
class RealSize:
    """A backend's real-size model under one set of memory switches."""

    backend_id: str
    dtype: str  # bf16 | fp16 | fp32 ("auto" means bf16: the estimate is for a CUDA GPU)
    offload: bool
    text_encoder_cpu: bool
    components: dict[str, ComponentSize]
    phases: dict[str, dict[str, int]]  # phase -> {"cuda": bytes, "cpu": bytes} of weights resident in it
    model_dim: int  # transformer width (heads x head dim), which activations scale with
    tokens_per_latent: tuple[int, int, int]  # pixels per transformer token: (frames, height, width)

    @property
    def footprint(self) -> Footprint:
        """The torch-free numbers `wanflow plan` reads (shipped in footprints.json)."""
        return Footprint(
            self.backend_id,
            self.dtype,
            self.offload,
            self.text_encoder_cpu,
            self.phases,
            self.model_dim,
            self.tokens_per_latent,
        )

    def tokens(self, width: int, height: int, frames: int) -> int:
        """Transformer sequence length of one clip."""
        return self.footprint.tokens(width, height, frames)

    def activation_bytes(self, width: int, height: int, frames: int) -> int:
        return self.footprint.activation_bytes(width, height, frames)

    def peak_gpu_bytes(self, width: int, height: int, frames: int) -> int:
        """The most GPU memory any phase holds: weights, plus activations while generating."""
        return self.footprint.peak_gpu_bytes(width, height, frames)


def component_size(folder: Path, component: str, dtype: torch.dtype) -> ComponentSize:
    """A component built from the folder's config on the meta device, with the dtypes loading in `dtype` gives."""
    module = meta_component(folder, component)
    dtypes = loaded_dtypes(module, dtype)
    parameters = tuple((name, parameter.numel(), dtypes[name]) for name, parameter in module.named_parameters())
    return ComponentSize(component, type(module).__name__, parameters)


@functools.cache
def meta_component(folder: Path, component: str) -> torch.nn.Module:
    """The declared class built from its config with parameters on the meta device (cached: read only)."""
    return build_on_meta(folder, component)


def random_component(folder: Path, component: str, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
    """A real-size component with random weights on `device`, each parameter in its loaded dtype.

    For timing and peak memory (benchmarks/bench_backends.py): no download, no weights file.
    """
    module = build_on_meta(folder, component)
    for name, parameter_dtype in loaded_dtypes(module, dtype).items():
        shape = module.get_parameter(name).shape
        value = torch.randn(shape, dtype=parameter_dtype, device=device) * 0.02
        set_module_tensor_to_device(module, name, device, value=value, dtype=parameter_dtype)
    if hasattr(module, "tie_weights"):
        module.tie_weights()
    return module.to(device).eval()  # the buffers (RoPE tables) were built for real


def build_on_meta(folder: Path, component: str) -> torch.nn.Module:
    """The declared class built from its config with parameters on the meta device (buffers stay real)."""
    model_class = declared_module_class(folder, component)
    with init_empty_weights():
        if issubclass(model_class, ModelMixin):
            return model_class.from_config(model_class.load_config(folder / component)).eval()
        model = model_class(model_class.config_class.from_pretrained(folder / component))
    # Tied as from_pretrained ties them (UMT5's encoder embedding is its shared one), outside
    # init_empty_weights, which would register the tied weight as a second parameter.
    model.tie_weights()
    return model.eval()


def loaded_dtypes(module: torch.nn.Module, dtype: torch.dtype) -> dict[str, torch.dtype]:
    """The dtype `from_pretrained(dtype=dtype)` gives each parameter, by the loaders' keep-in-float32 rules."""
    if isinstance(module, ModelMixin):
        keep = set(module._keep_in_fp32_modules or [])  # diffusers: at any dtype
    else:
        keep = set(module._get_dtype_plan(dtype))  # transformers: its own plan for this dtype
    return {
        name: torch.float32 if keep.intersection(name.split(".")) else dtype for name, _ in module.named_parameters()
    }


@functools.cache
def real_size(
    backend_id: str, *, dtype: str = "bf16", offload: bool = False, text_encoder_cpu: bool = False
) -> RealSize:
    """The official real-size model of a backend under these switches (cached per process)."""
    spec = backend_spec(backend_id)
    dtype = "bf16" if dtype == "auto" else dtype
    folder = official_folder(backend_id)
    experts = _EXPERTS[: spec.experts]
    components = {name: component_size(folder, name, _DTYPES[dtype]) for name in ("text_encoder", *experts)}
    components["vae"] = component_size(folder, "vae", torch.float32)
    component_bytes = {name: component.bytes for name, component in components.items()}
    resident = phases(spec.id, component_bytes, offload=offload, text_encoder_cpu=text_encoder_cpu)
    transformer = read_config(folder, "transformer")
    vae = read_config(folder, "vae")
    _, patch_h, patch_w = transformer["patch_size"]
    spatial = vae["scale_factor_spatial"]
    return RealSize(
        backend_id=spec.id,
        dtype=dtype,
        offload=offload,
        text_encoder_cpu=text_encoder_cpu,
        components=components,
        phases=resident,
        model_dim=transformer["num_attention_heads"] * transformer["attention_head_dim"],
        tokens_per_latent=(vae["scale_factor_temporal"], spatial * patch_h, spatial * patch_w),
    )


@functools.cache
def _expert_layout(backend_id: str, component: str) -> tuple[tuple[str, tuple[int, ...], torch.dtype, bool], ...]:
    """Every parameter: name, shape, loaded bf16-run dtype, and whether fp8 layerwise casting stores it in fp8."""
    module = build_on_meta(official_folder(backend_id), component)
    dtypes = loaded_dtypes(module, torch.bfloat16)
    module.enable_layerwise_casting(storage_dtype=FP8, compute_dtype=torch.bfloat16)  # diffusers' own skip rules
    return tuple(
        (name, tuple(parameter.shape), dtypes[name], parameter.dtype == FP8)
        for name, parameter in module.named_parameters()
    )


def meta_expert_bytes(backend_id: str, component: str, weights: str) -> ExpertBytes:
    """An expert's weight bytes stored as `weights` (bf16 | fp8 | a GGUF quant type), from the meta model."""
    per_parameter = {}
    for name, shape, dtype, fp8 in _expert_layout(backend_id, component):
        numel = math.prod(shape)
        if weights == "bf16":
            per_parameter[name] = numel * dtype.itemsize
        elif weights == "fp8":
            per_parameter[name] = numel * (1 if fp8 else dtype.itemsize)
        else:
            per_parameter[name] = _gguf_bytes(name, shape, weights, dtype)
    blocks: dict[str, int] = {}
    for name, size in per_parameter.items():
        if name.startswith("blocks."):
            index = name.split(".")[1]
            blocks[index] = blocks.get(index, 0) + size
    total = sum(per_parameter.values())
    return ExpertBytes(total, total - sum(blocks.values()), max(blocks.values()))


def _gguf_bytes(name: str, shape: tuple[int, ...], quant: str, loaded: torch.dtype) -> int:
    qtype = QUANT_TYPES[quant]
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    numel = math.prod(shape)
    if original_name(name).endswith(".weight") and len(shape) == 2 and shape[-1] % block_size == 0:
        return numel // block_size * type_size
    return numel * loaded.itemsize  # kept unquantized, loaded in the model's dtype


def fresh_table() -> dict[str, dict]:
    """What footprints.json holds, computed from the official configs on the meta device."""
    table = {}
    for backend_id in BACKENDS:
        sizes = {dtype: real_size(backend_id, dtype=dtype) for dtype in _DTYPES}
        first = sizes["bf16"]
        table[backend_id] = {
            "model_dim": first.model_dim,
            "tokens_per_latent": list(first.tokens_per_latent),
            "component_bytes": {
                dtype: {name: component.bytes for name, component in size.components.items()}
                for dtype, size in sizes.items()
            },
            "expert_bytes": {
                component: {
                    weights: asdict(meta_expert_bytes(backend_id, component, weights)) for weights in EXPERT_WEIGHTS
                }
                for component in _EXPERTS[: backend_spec(backend_id).experts]
            },
        }
    return table


if __name__ == "__main__":  # python -m wanflow.backends.realsize: write footprints.json anew
    TABLE.write_text(json.dumps(fresh_table(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TABLE}")
