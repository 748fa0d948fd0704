"""A shot as a ComfyUI workflow in API format, built from ComfyUI's official Wan2.2 templates.

The templates ship in the `comfyui-workflow-templates-json` package (the JSON part of
`comfyui-workflow-templates`) as UI-format graphs; the A14B ones wrap their work in a subgraph.
`shot_workflow` loads the backend's template, converts it to API format and folds its control
plumbing (`comfyui_graph`), sets the shot's values (`fill_shot`), and keeps what the output
needs. The A14B templates' "turbo" switch (the lightx2v 4-step LoRAs) is off by default, so the
4-step branch, its LoRAs and the primitives fall away, as does the frame-count arithmetic the
shot's own frame count replaces.

The A14B experts are two KSamplerAdvanced: the high-noise one adds the noise and runs steps
[0, split), the low-noise one finishes [split, steps), each with its own guidance.
`boundary_step` computes the split as the official Wan2.2 code switches experts (see its
docstring). The sampler is UniPC (`uni_pc`), the official solver and the one wanflow renders
with; the same seed does not give the same pixels in ComfyUI (another noise generator, fp8
weights, a solver restarted at the split). No torch and no Prefect here: plain data.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from wanflow.errors import Problem, UserError
from wanflow.film import Lora
from wanflow.report.comfyui_graph import MODE_ALWAYS, ApiGraph, UiGraph, fold_constants, prune, to_api
from wanflow.take import TakeSettings

TEMPLATES = {
    "t2v-a14b": "video_wan2_2_14B_t2v",
    "i2v-a14b": "video_wan2_2_14B_i2v",
    "ti2v-5b": "video_wan2_2_5B_ti2v",
}

SAMPLER = "uni_pc"
SCHEDULER = "simple"
NUM_TRAIN_TIMESTEPS = 1000


@dataclass(frozen=True)
class ShotSettings:
    """What decides the shot's pixels, as wanflow's render plan fixed it."""

    shot_id: str
    prompt: str
    negative: str
    take: TakeSettings  # held as the plan made it (boundary_ratio None: one model, one sampler)
    start_image: str | None  # the file name LoadImage reads from ComfyUI's input folder


def boundary_step(steps: int, shift: float, boundary_ratio: float) -> int:
    """How many of `steps` the high-noise expert runs, exactly as the official code decides.

    Wan2.2's text2video.py / image2video.py sample with FlowUniPCMultistepScheduler: sigmas
    evenly spaced from 1 - 1/1000 down to 0 (steps + 1 points, the last dropped), shifted by
    shift * s / (1 + (shift - 1) * s), timesteps = sigmas * 1000; a step runs the high-noise
    expert while its timestep >= boundary * 1000. diffusers' UniPCMultistepScheduler with flow
    sigmas gives the same timesteps (the tests check it). T2V 40 steps, shift 12, boundary
    0.875 -> 26 high-noise steps; I2V 40, shift 5, 0.9 -> 15.
    """
    sigma_max = 1 - 1 / NUM_TRAIN_TIMESTEPS
    high = 0
    for index in range(steps):
        sigma = sigma_max - index * sigma_max / steps
        shifted = shift * sigma / (1 + (shift - 1) * sigma)
        if shifted * NUM_TRAIN_TIMESTEPS >= boundary_ratio * NUM_TRAIN_TIMESTEPS:
            high += 1
    return high


def template_path(backend: str) -> Path:
    """Where the installed templates package keeps the backend's official template."""
    try:
        from comfyui_workflow_templates_core import get_asset_path
    except ModuleNotFoundError:
        raise UserError(
            "the ComfyUI templates are not installed: pip install comfyui-workflow-templates-core "
            "comfyui-workflow-templates-json"
        ) from None
    template_id = TEMPLATES[backend]
    try:
        return Path(get_asset_path(template_id, f"{template_id}.json"))
    except (KeyError, FileNotFoundError) as error:
        raise UserError(f"ComfyUI template {template_id} not found: {error}") from None


def load_template(backend: str) -> UiGraph:
    """The backend's official UI-format template, checked where it enters."""
    path = template_path(backend)
    try:
        return UiGraph.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise UserError(
            [
                Problem(str(path), None, None, ".".join(str(part) for part in item["loc"]), item["msg"])
                for item in error.errors()
            ]
        ) from None


def _follow(api: ApiGraph, node_id: str, name: str, class_type: str) -> str:
    """The first node of `class_type` up the chain of `name` inputs (through e.g. WanImageToVideo)."""
    current = node_id
    while True:
        link = api[current]["inputs"][name]
        current = link[0]
        if api[current]["class_type"] == class_type:
            return current
        if name not in api[current]["inputs"]:
            raise UserError(f"the ComfyUI template's {name} chain has no {class_type}")


def _samplers(api: ApiGraph) -> list[str]:
    """The sampler node ids, high-noise expert first (it adds the noise)."""
    advanced = [node_id for node_id, node in api.items() if node["class_type"] == "KSamplerAdvanced"]
    if advanced:
        return sorted(advanced, key=lambda node_id: api[node_id]["inputs"]["add_noise"] != "enable")
    return [node_id for node_id, node in api.items() if node["class_type"] == "KSampler"]


def _add_loras(api: ApiGraph, sampling_id: str, loras: list[Lora], expert: str) -> None:
    """Chain LoraLoaderModelOnly nodes between the expert's model loader and its ModelSamplingSD3."""
    link = api[sampling_id]["inputs"]["model"]
    for number, lora in enumerate(loras):
        node_id = f"wanflow:lora_{expert}_{number}"
        api[node_id] = {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"model": link, "lora_name": lora.path.name, "strength_model": lora.scale},
            "_meta": {"title": f"LoRA {lora.path.name} ({expert}-noise expert)"},
        }
        link = [node_id, 0]
    api[sampling_id]["inputs"]["model"] = link


def fill_shot(api: ApiGraph, shot: ShotSettings) -> ApiGraph:
    """Set the shot's values on a folded template graph (`prune` then drops what they replaced)."""
    result = copy.deepcopy(api)
    samplers = _samplers(result)
    first = result[samplers[0]]["inputs"]
    result[_follow(result, samplers[0], "positive", "CLIPTextEncode")]["inputs"]["text"] = shot.prompt
    result[_follow(result, samplers[0], "negative", "CLIPTextEncode")]["inputs"]["text"] = shot.negative
    latent = result[first["latent_image"][0]]["inputs"]
    latent.update(width=shot.take.width, height=shot.take.height, length=shot.take.frames, batch_size=1)
    for node in result.values():
        if node["class_type"] == "CreateVideo":
            node["inputs"]["fps"] = shot.take.fps
        elif node["class_type"] == "SaveVideo":
            node["inputs"]["filename_prefix"] = f"wanflow/{shot.shot_id}"
        elif node["class_type"] == "LoadImage" and shot.start_image is not None:
            node["inputs"]["image"] = shot.start_image
    if shot.take.boundary_ratio is None:
        first.update(seed=shot.take.seed, steps=shot.take.steps, cfg=shot.take.guidance_high, sampler_name=SAMPLER)
        first.update(scheduler=SCHEDULER, denoise=1.0)
        sampling = _follow(result, samplers[0], "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.take.shift
        _add_loras(result, sampling, list(shot.take.loras), "high")
        return result
    split = boundary_step(shot.take.steps, shot.take.shift, shot.take.boundary_ratio)
    phases = (
        ("high", shot.take.guidance_high, 0, split, "enable", "enable"),
        ("low", shot.take.guidance_low, split, shot.take.steps, "disable", "disable"),
    )
    for node_id, (expert, cfg, start, end, add_noise, leftover) in zip(samplers, phases, strict=True):
        result[node_id]["inputs"].update(
            add_noise=add_noise,
            noise_seed=shot.take.seed,
            steps=shot.take.steps,
            cfg=cfg,
            sampler_name=SAMPLER,
            scheduler=SCHEDULER,
            start_at_step=start,
            end_at_step=end,
            return_with_leftover_noise=leftover,
        )
        sampling = _follow(result, node_id, "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.take.shift
        _add_loras(result, sampling, [lora for lora in shot.take.loras if lora.expert in (expert, "both")], expert)
    return result


def shot_workflow(shot: ShotSettings) -> ApiGraph:
    """The backend's official template, in API format, set to the shot."""
    template = load_template(shot.take.backend)
    if shot.start_image is not None:  # the template's own start-image node, switched on
        for node in template.nodes:
            if node.type == "LoadImage":
                node.mode = MODE_ALWAYS
    return prune(fill_shot(fold_constants(to_api(template)), shot))


def expert_steps(shot: ShotSettings) -> str:
    """How the steps split between the experts, for people."""
    if shot.take.boundary_ratio is None:
        return f"{shot.take.steps} steps"
    split = boundary_step(shot.take.steps, shot.take.shift, shot.take.boundary_ratio)
    return (
        f"{shot.take.steps} steps: high-noise expert 0-{split} (cfg {shot.take.guidance_high:g}), "
        f"low-noise expert {split}-{shot.take.steps} (cfg {shot.take.guidance_low:g}); "
        f"split where the timestep falls below {math.floor(shot.take.boundary_ratio * NUM_TRAIN_TIMESTEPS)}"
    )
