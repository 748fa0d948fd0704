"""Memory plans applied to a pipeline: GGUF experts, fp8 storage, offload, streamed blocks.

`wanflow.memory` says what each plan is; this module turns one into diffusers calls, and
nothing else: `from_single_file` with `GGUFQuantizationConfig` for GGUF experts,
`enable_layerwise_casting` for fp8 storage, `enable_group_offload` (block level) for
streaming, `enable_model_cpu_offload` for offload (switched on by the generator, per active
pipeline). On the CPU there is nowhere to offload to: `offload` places nothing and `stream`
runs group offloading with the CPU as both devices (its hooks run, nothing moves), so the
tests exercise every code path and get the numbers the plan's storage gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import GGUFQuantizationConfig, WanTransformer3DModel
from diffusers.hooks import apply_layerwise_casting

from wanflow.backends.gguf_files import gguf_problems
from wanflow.backends.quantized import EXPERT_COMPONENTS, gguf_folder, gguf_path
from wanflow.backends.quiet import quiet_progress_bars
from wanflow.backends.store import models_root
from wanflow.catalog import BackendSpec
from wanflow.errors import Problem, UserError
from wanflow.memory import BLOCKS_PER_GROUP, DEFAULT_PLAN, MemoryPlan, memory_plan
from wanflow.take import RenderSettings

FP8 = torch.float8_e4m3fn


def effective_plan(memory: str, settings: RenderSettings) -> MemoryPlan:
    """The memory plan; `--offload` (RenderSettings.offload) turns the default `resident` into `offload`."""
    plan = memory_plan(memory)
    return memory_plan("offload") if settings.offload and plan.name == DEFAULT_PLAN else plan


def gguf_experts(
    spec: BackendSpec, model_dir: Path, plan: MemoryPlan, dtype: torch.dtype, root: Path | None = None
) -> dict[str, WanTransformer3DModel]:
    """The experts read from their GGUF files (checked first), to hand to `from_pretrained`; {} unless GGUF.

    They sit beside the model folder (`<root>/<id>-gguf/`); for a folder in the Hugging Face cache,
    under the models root.
    """
    if not plan.gguf:
        return {}
    if root is None:
        root = model_dir.parent if gguf_folder(model_dir.parent, spec.id).is_dir() else models_root()
    components = EXPERT_COMPONENTS[: spec.experts]
    paths = {component: gguf_path(root, spec.id, component, plan.weights) for component in components}
    problems = []
    for component, path in paths.items():
        if not path.is_file():
            problems.append(f"{path} is missing: run `wanflow models pull {spec.id} --quant {plan.weights}`")
        else:
            problems += gguf_problems(path, model_dir / component, plan.weights)
    if problems:
        raise UserError([Problem(str(root), None, None, f"memory {plan.name}", message) for message in problems])
    experts = {}
    with quiet_progress_bars(True):
        for component, path in paths.items():
            experts[component] = WanTransformer3DModel.from_single_file(
                str(path),
                quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
                config=str(model_dir),
                subfolder=component,
                torch_dtype=dtype,
            ).eval()
    return experts


def place(pipe: Any, plan: MemoryPlan, device: torch.device, dtype: torch.dtype) -> None:
    """Store and place the pipeline's transformers (and VAE) as the plan says."""
    experts = [t for t in (pipe.transformer, getattr(pipe, "transformer_2", None)) if t is not None]
    if plan.weights == "fp8":
        for expert in experts:
            expert.enable_layerwise_casting(storage_dtype=FP8, compute_dtype=dtype)
    if plan.placement == "stream":
        for expert in experts:
            expert.enable_group_offload(
                onload_device=device,
                offload_device=torch.device("cpu"),
                offload_type="block_level",
                num_blocks_per_group=BLOCKS_PER_GROUP,
                use_stream=device.type == "cuda",
            )
        experts = []  # the hooks place them
    elif plan.placement == "offload" and device.type == "cuda":
        return  # the generator switches on enable_model_cpu_offload for the pipeline it runs
    for module in (*experts, pipe.vae):
        if module is not None:
            module.to(device)  # (pipe.to would recast dtypes and warn about it)


def text_encoder_fp8(text_encoder: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """UMT5 with fp8 storage and `dtype` compute, layer by layer (as ComfyUI's fp8 encoder file holds it).

    The feed-forward output layer `wo` stays in `dtype`: transformers' T5 casts its input to
    `wo.weight.dtype`, which the hook only upcasts once the layer runs.
    """
    skip = ("norm", "embed", "shared", r"DenseReluDense\.wo$")
    apply_layerwise_casting(text_encoder, storage_dtype=FP8, compute_dtype=dtype, skip_modules_pattern=skip)
    return text_encoder
