"""A shot as a ComfyUI workflow in API format, built from ComfyUI's official Wan2.2 templates.

The templates ship in the `comfyui-workflow-templates-json` package (the JSON part of
`comfyui-workflow-templates`) as UI-format graphs; the A14B ones wrap their work in a subgraph.
`shot_workflow` loads the backend's template, converts it to API format and folds its control
plumbing (`comfyui_graph`), sets the shot's values (`fill_shot`), and keeps what the output
needs. The A14B templates' Lightning switch (the lightx2v 4-step LoRAs) is off by default, so the
4-step branch, its LoRAs and the primitives fall away, as does the frame-count arithmetic the
shot's own frame count replaces. A take of the turbo tier (`catalog.LIGHTNING`: its sampler is
Euler) folds the switch on instead: the template's own LoRA loaders and 4-step values stay,
set to the shot; the LoRA files keep the names the template loads them by.

The A14B experts are two KSamplerAdvanced: the high-noise one adds the noise and runs steps
[0, split), the low-noise one finishes [split, steps), each with its own guidance. The split is
computed on the schedule ComfyUI itself builds for the sampler and scheduler written here
(`comfyui_schedule`), so the last high-noise step is the last whose timestep is >= the
boundary, as in the official code. The sampler is UniPC's bh2 variant (`uni_pc_bh2`), the
official solver's (turbo: Euler, the Lightning branch's); docs/comfyui.md lists what still differs. LoRA files are named with a short
hash of their bytes, so two files of one name never overwrite each other in ComfyUI's folder.
No torch and no Prefect here: plain data.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from wanflow.catalog import LIGHTNING
from wanflow.errors import Problem, UserError
from wanflow.film import Lora
from wanflow.hashing import file_sha256
from wanflow.report.comfyui_graph import MODE_ALWAYS, ApiGraph, UiGraph, fold_constants, is_link, prune, to_api
from wanflow.report.comfyui_schedule import NUM_TRAIN_TIMESTEPS, comfyui_boundary_step, official_boundary_step
from wanflow.take import TakeSettings

TEMPLATES = {
    "t2v-a14b": "video_wan2_2_14B_t2v",
    "i2v-a14b": "video_wan2_2_14B_i2v",
    "ti2v-5b": "video_wan2_2_5B_ti2v",
}
FLF2V_TEMPLATE = "video_wan2_2_14B_flf2v"  # I2V-A14B given a first and a last frame

SAMPLER = "uni_pc_bh2"  # the official FlowUniPCMultistepScheduler's solver_type (ComfyUI's `uni_pc` is bh1)
COMFY_SAMPLERS = {"unipc": SAMPLER, "euler": "euler"}  # TakeSettings.sampler -> ComfyUI's sampler_name
SCHEDULER = "simple"
LORA_HASH_CHARS = 8


@dataclass(frozen=True)
class ShotSettings:
    """What decides the shot's pixels, as wanflow's render plan fixed it."""

    shot_id: str
    prompt: str
    negative: str
    take: TakeSettings  # held as the plan made it (boundary_ratio None: one model, one sampler)
    start_image: str | None  # the file name LoadImage reads from ComfyUI's input folder
    end_image: str | None = None  # the last frame's file name, likewise (I2V-A14B: the flf2v template)


@dataclass(frozen=True)
class LoraCopy:
    """One LoRA file the workflow loads from ComfyUI/models/loras/, and where it is on this machine."""

    name: str  # the file name the workflow's LoraLoaderModelOnly reads
    expert: str | None  # "high" | "low" | "both" on an A14B model; None: one model
    scale: float
    source: Path | None  # the file here; None: not installed here (the turbo tier's, before `models pull`)


def is_lightning(shot: ShotSettings) -> bool:
    """The take is the turbo tier's: the template's Lightning branch, not its official one."""
    return shot.take.sampler == LIGHTNING.sampler


def comfy_sampler(shot: ShotSettings) -> str:
    return COMFY_SAMPLERS[shot.take.sampler]


def boundary_step(shot: ShotSettings) -> int:
    """How many steps the high-noise expert runs in ComfyUI, for the sampler and scheduler written."""
    assert shot.take.boundary_ratio is not None
    take = shot.take
    return comfyui_boundary_step(take.steps, take.shift, take.boundary_ratio, comfy_sampler(shot), SCHEDULER)


def lora_file_name(lora: Lora) -> str:
    """`style-1a2b3c4d.safetensors`: the file's name with a short hash of its bytes, unique in models/loras/."""
    try:
        digest = file_sha256(lora.path)
    except OSError as error:
        raise UserError(f"LoRA {lora.path}: cannot read it ({error.strerror or error})") from None
    return f"{lora.path.stem}-{digest[:LORA_HASH_CHARS]}{lora.path.suffix}"


def shot_template(shot: ShotSettings) -> str:
    """The official template the shot starts from: its backend's, or first-last-frame's."""
    if shot.end_image is not None:
        if shot.take.backend != "i2v-a14b":
            raise UserError(
                f"{shot.take.backend} cannot end on a frame; i2v-a14b can (ComfyUI template {FLF2V_TEMPLATE})"
            )
        return FLF2V_TEMPLATE
    return TEMPLATES[shot.take.backend]


def template_path(template_id: str) -> Path:
    """Where the installed templates package keeps an official template."""
    try:
        from comfyui_workflow_templates_core import get_asset_path
    except ModuleNotFoundError:
        raise UserError(
            "the ComfyUI templates are not installed: pip install comfyui-workflow-templates-core "
            "comfyui-workflow-templates-json"
        ) from None
    try:
        return Path(get_asset_path(template_id, f"{template_id}.json"))
    except (KeyError, FileNotFoundError) as error:
        raise UserError(f"ComfyUI template {template_id} not found: {error}") from None


def load_template(template_id: str) -> UiGraph:
    """An official UI-format template, checked where it enters."""
    path = template_path(template_id)
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


def lightning_loras(api: ApiGraph) -> dict[str, str]:
    """The Lightning branch's LoRA file per expert ("high", "low"), as a template folded on loads them."""
    samplers = _samplers(api)
    loaders = {
        expert: _follow(api, node_id, "model", "LoraLoaderModelOnly")
        for expert, node_id in zip(("high", "low"), samplers, strict=True)
    }
    return {expert: api[node_id]["inputs"]["lora_name"] for expert, node_id in loaders.items()}


def lora_copies(shot: ShotSettings) -> list[LoraCopy]:
    """Every LoRA the shot's workflow loads: the Lightning branch's first (by the template's names), then the shot's."""
    if not is_lightning(shot):
        experts = shot.take.boundary_ratio is not None  # TI2V-5B: one model, no experts
        return [
            LoraCopy(lora_file_name(lora), lora.expert if experts else None, lora.scale, lora.path)
            for lora in shot.take.loras
        ]
    names = lightning_loras(_folded_template(shot_template(shot), shot.start_image is not None, True))
    here = {lora.path.name: lora.path for lora in shot.take.loras}
    copies = [LoraCopy(name, expert, LIGHTNING.lora_strength, here.get(name)) for expert, name in names.items()]
    own = [lora for lora in shot.take.loras if lora.path.name not in names.values()]
    return copies + [LoraCopy(lora_file_name(lora), lora.expert, lora.scale, lora.path) for lora in own]


def _add_loras(api: ApiGraph, sampling_id: str, loras: list[Lora], expert: str | None) -> None:
    """Chain LoraLoaderModelOnly nodes between the model loader and its ModelSamplingSD3.

    `expert` is "high" or "low" for an A14B expert, None for a one-model backend (TI2V-5B).
    """
    link = api[sampling_id]["inputs"]["model"]
    for number, lora in enumerate(loras):
        name = lora_file_name(lora)
        node_id = f"wanflow:lora_{expert or 'model'}_{number}"
        api[node_id] = {
            "class_type": "LoraLoaderModelOnly",
            "inputs": {"model": link, "lora_name": name, "strength_model": lora.scale},
            "_meta": {"title": f"LoRA {name} ({expert}-noise expert)" if expert else f"LoRA {name}"},
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
        for name, file in (("start_image", shot.start_image), ("end_image", shot.end_image)):
            link = node["inputs"].get(name)  # WanImageToVideo, WanFirstLastFrameToVideo, Wan22ImageToVideoLatent
            if file is not None and is_link(link) and result[link[0]]["class_type"] == "LoadImage":
                result[link[0]]["inputs"]["image"] = file
    if shot.take.boundary_ratio is None:
        first.update(seed=shot.take.seed, steps=shot.take.steps, cfg=shot.take.guidance_high)
        first.update(sampler_name=comfy_sampler(shot))
        first.update(scheduler=SCHEDULER, denoise=1.0)
        sampling = _follow(result, samplers[0], "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.take.shift
        _add_loras(result, sampling, list(shot.take.loras), None)
        return result
    split = boundary_step(shot)
    lightning = lightning_loras(result) if is_lightning(shot) else {}
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
            sampler_name=comfy_sampler(shot),
            scheduler=SCHEDULER,
            start_at_step=start,
            end_at_step=end,
            return_with_leftover_noise=leftover,
        )
        sampling = _follow(result, node_id, "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.take.shift
        if lightning:  # the template's own loader carries the expert's 4-step LoRA
            result[_follow(result, node_id, "model", "LoraLoaderModelOnly")]["inputs"]["strength_model"] = (
                LIGHTNING.lora_strength
            )
        own = [lora for lora in shot.take.loras if lora.path.name not in lightning.values()]
        _add_loras(result, sampling, [lora for lora in own if lora.expert in (expert, "both")], expert)
    return result


def shot_workflow(shot: ShotSettings) -> ApiGraph:
    """The backend's official template, in API format, set to the shot."""
    template = _folded_template(shot_template(shot), shot.start_image is not None, is_lightning(shot))
    return prune(fill_shot(template, shot))


@lru_cache(maxsize=16)
def _folded_template(template_id: str, image_nodes_on: bool, lightning: bool = False) -> ApiGraph:
    """The template in API format, its switches folded (`lightning`: its Lightning switch on);
    shared, so never changed (`fill_shot` copies it)."""
    template = load_template(template_id)
    if image_nodes_on:  # the template's own start-image node, switched on
        for node in template.nodes:
            if node.type == "LoadImage":
                node.mode = MODE_ALWAYS
    api = to_api(template)
    if lightning:
        _switch_lightning_on(api, template_id)
    return fold_constants(api)


def _switch_lightning_on(api: ApiGraph, template_id: str) -> None:
    """Set the boolean that drives the template's switches (its "Enable Lightning LoRA") to on."""
    switches = {
        node["inputs"]["switch"][0]
        for node in api.values()
        if node["class_type"] == "ComfySwitchNode" and is_link(node["inputs"].get("switch"))
    }
    booleans = [node_id for node_id in switches if api[node_id]["class_type"] == "PrimitiveBoolean"]
    if not booleans:
        raise UserError(
            f"ComfyUI template {template_id} has no Lightning branch for the turbo tier; "
            "export this shot with --profile final"
        )
    for node_id in booleans:
        api[node_id]["inputs"]["value"] = True


def expert_steps(shot: ShotSettings) -> list[str]:
    """How the steps split between the experts in ComfyUI, for people (one line, two when a part has one step)."""
    sampler = comfy_sampler(shot)
    if shot.take.boundary_ratio is None:
        return [f"{shot.take.steps} steps ({sampler}, {SCHEDULER})"]
    split = boundary_step(shot)
    boundary = math.floor(shot.take.boundary_ratio * NUM_TRAIN_TIMESTEPS)
    lines = [
        f"{shot.take.steps} steps ({sampler}, {SCHEDULER}): high-noise expert 0-{split} (cfg {shot.take.guidance_high:g}), "
        f"low-noise expert {split}-{shot.take.steps} (cfg {shot.take.guidance_low:g}); "
        f"split where ComfyUI's timestep falls below {boundary}"
    ]
    if is_lightning(shot):  # the template's Lightning branch; wanflow's Euler runs ComfyUI's own schedule
        return [lines[0] + ", the template's Lightning branch"]
    official = official_boundary_step(shot.take.steps, shot.take.shift, shot.take.boundary_ratio)
    if official != split:
        lines[0] += f" (its schedule differs from wanflow's, which switches after step {official})"
    if 1 in (split, shot.take.steps - split):
        lines.append(
            "note: one expert gets a single step, which ComfyUI's UniPC evaluates but does not take; "
            "use more steps for a faithful render"
        )
    return lines
