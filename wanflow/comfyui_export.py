"""A shot as a ComfyUI workflow in API format, built from ComfyUI's official Wan2.2 templates.

The templates ship in the `comfyui-workflow-templates-json` package (the JSON part of
`comfyui-workflow-templates`) as UI-format graphs; the A14B ones wrap their work in a subgraph.
Three steps, each its own function:

1. `to_api` converts a UI graph the way ComfyUI's "Export (API)" does: subgraphs flattened
   (inner ids become "outer:inner"), notes and bypassed nodes left out (a bypassed node's
   consumers get its same-typed input), widget values named, links as [node id, output slot].
2. `fold_constants` resolves the template's control plumbing: Primitive nodes become literal
   inputs, and a ComfySwitchNode whose switch is a literal becomes the branch it selects. The
   A14B templates' "turbo" switch (the lightx2v 4-step LoRAs) is off by default, so the
   4-step branch, its LoRAs and the primitives are left with nothing that uses them.
3. `fill_shot` sets the shot: prompts, seed, size, frames, fps, steps, shift, guidance per
   expert, the split step, the start image and the shot's LoRAs on the expert they target;
   `prune` then drops what no output needs (the frame-count arithmetic the shot replaced).

The A14B experts are two KSamplerAdvanced: the high-noise one adds the noise and runs steps
[0, split), the low-noise one finishes [split, steps). `boundary_step` computes the split as the
official Wan2.2 code switches experts (see its docstring). The sampler is UniPC (`uni_pc`),
the official solver and the one wanflow renders with; the same seed does not give the same
pixels in ComfyUI (another noise generator, fp8 weights, a solver restarted at the split).
No torch and no Prefect here: plain dicts in, plain dicts out.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanflow.errors import UserError
from wanflow.film import Lora

ApiGraph = dict[str, dict[str, Any]]  # node id -> {"class_type", "inputs", "_meta"}

TEMPLATES = {
    "t2v-a14b": "video_wan2_2_14B_t2v",
    "i2v-a14b": "video_wan2_2_14B_i2v",
    "ti2v-5b": "video_wan2_2_5B_ti2v",
}

# Widget names of the template's node classes, in `widgets_values` order (ComfyUI's node
# definitions). None marks a frontend-only widget that API format leaves out (a seed's
# "control after generate", LoadImage's upload button).
WIDGETS: dict[str, tuple[str | None, ...]] = {
    "CLIPLoader": ("clip_name", "type", "device"),
    "CLIPTextEncode": ("text",),
    "ComfyMathExpression": ("expression",),
    "ComfySwitchNode": ("switch",),
    "CreateVideo": ("fps",),
    "EmptyHunyuanLatentVideo": ("width", "height", "length", "batch_size"),
    "KSampler": ("seed", None, "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": (
        "add_noise",
        "noise_seed",
        None,
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "start_at_step",
        "end_at_step",
        "return_with_leftover_noise",
    ),
    "LoadImage": ("image", None),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
    "ModelSamplingSD3": ("shift",),
    "PrimitiveBoolean": ("value",),
    "PrimitiveFloat": ("value",),
    "PrimitiveInt": ("value", None),
    "SaveVideo": ("filename_prefix", "format", "codec"),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "VAEDecode": (),
    "VAELoader": ("vae_name",),
    "Wan22ImageToVideoLatent": ("width", "height", "length", "batch_size"),
    "WanImageToVideo": ("width", "height", "length", "batch_size"),
}
NOTES = {"MarkdownNote", "Note"}  # frontend-only nodes
PRIMITIVES = {"PrimitiveInt", "PrimitiveFloat", "PrimitiveBoolean", "PrimitiveString"}
MODE_NEVER, MODE_BYPASS = 2, 4
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20  # the ids of a subgraph's input and output nodes
SAMPLER = "uni_pc"
SCHEDULER = "simple"
NUM_TRAIN_TIMESTEPS = 1000


@dataclass(frozen=True)
class ShotSettings:
    """What decides the shot's pixels, as wanflow's render plan fixed it."""

    shot_id: str
    backend: str
    prompt: str
    negative: str
    seed: int
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    shift: float
    guidance_high: float
    guidance_low: float
    boundary_ratio: float | None  # None: one model, one sampler
    start_image: str | None  # the file name LoadImage reads from ComfyUI's input folder
    loras: tuple[Lora, ...] = ()


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


def load_template(backend: str) -> dict[str, Any]:
    """The official UI-format template for a backend, from the installed templates package."""
    try:
        from comfyui_workflow_templates_core import get_asset_path
    except ModuleNotFoundError:
        raise UserError(
            "the ComfyUI templates are not installed: pip install comfyui-workflow-templates-core "
            "comfyui-workflow-templates-json"
        ) from None
    template_id = TEMPLATES[backend]
    try:
        path = Path(get_asset_path(template_id, f"{template_id}.json"))
    except (KeyError, FileNotFoundError) as error:
        raise UserError(f"ComfyUI template {template_id} not found: {error}") from None
    return json.loads(path.read_text(encoding="utf-8"))


# --- 1. UI format -> API format -------------------------------------------------------------


@dataclass
class _Scope:
    """One graph level: the top graph, or a subgraph instance with its bindings to the outside."""

    nodes: dict[int, dict[str, Any]]
    links: dict[int, tuple[int, int, int, int]]  # link id -> (origin, origin slot, target, target slot)
    prefix: str  # "" at the top, "128:" inside subgraph instance 128
    subgraphs: dict[str, dict[str, Any]]
    parent: _Scope | None = None
    instance: dict[str, Any] | None = None  # the subgraph node in the parent scope
    definition: dict[str, Any] | None = None


def _links(raw: list[Any]) -> dict[int, tuple[int, int, int, int]]:
    links = {}
    for link in raw:
        if isinstance(link, dict):
            links[link["id"]] = (link["origin_id"], link["origin_slot"], link["target_id"], link["target_slot"])
        else:
            links[link[0]] = (link[1], link[2], link[3], link[4])
    return links


Source = tuple[str, Any] | None  # ("link", [id, slot]) | ("value", literal) | None (nothing connected)


def _resolve(scope: _Scope, origin: int, slot: int) -> Source:
    """Where a link's value really comes from, through subgraph borders and bypassed nodes."""
    if origin == SUBGRAPH_INPUT:
        return _resolve_subgraph_input(scope, slot)
    node = scope.nodes[origin]
    if node["type"] in scope.subgraphs:
        inner = _inner_scope(scope, node)
        for inner_origin, inner_slot, target, target_slot in inner.links.values():
            if target == SUBGRAPH_OUTPUT and target_slot == slot:
                return _resolve(inner, inner_origin, inner_slot)
        return None
    if node.get("mode") == MODE_BYPASS:
        wanted = node["outputs"][slot]["type"]
        for entry in node.get("inputs", []):
            if entry.get("type") == wanted and entry.get("link") is not None:
                return _resolve(scope, *scope.links[entry["link"]][:2])
        return None
    return ("link", [f"{scope.prefix}{origin}", slot])


def _resolve_subgraph_input(scope: _Scope, slot: int) -> Source:
    """A subgraph input: the outer link if the instance's slot is connected, else its widget value.

    Older templates keep promoted widget values on the instance (one per unconnected input);
    newer ones (proxyWidgets) keep them on the inner nodes: then None lets the inner widget stand.
    """
    assert scope.parent is not None and scope.instance is not None and scope.definition is not None
    name = scope.definition["inputs"][slot]["name"]
    outer_input = next((i for i in scope.instance.get("inputs", []) if i["name"] == name), None)
    if outer_input is not None and outer_input.get("link") is not None:
        return _resolve(scope.parent, *scope.parent.links[outer_input["link"]][:2])
    values = scope.instance.get("widgets_values") or []
    linked = {i["name"] for i in scope.instance.get("inputs", []) if i.get("link") is not None}
    unconnected = [i["name"] for i in scope.definition["inputs"] if i["name"] not in linked]
    if len(values) == len(unconnected):
        return ("value", values[unconnected.index(name)])
    return None


def _inner_scope(scope: _Scope, instance: dict[str, Any]) -> _Scope:
    definition = scope.subgraphs[instance["type"]]
    return _Scope(
        nodes={node["id"]: node for node in definition["nodes"]},
        links=_links(definition["links"]),
        prefix=f"{scope.prefix}{instance['id']}:",
        subgraphs=scope.subgraphs,
        parent=scope,
        instance=instance,
        definition=definition,
    )


def _api_node(scope: _Scope, node: dict[str, Any]) -> dict[str, Any]:
    class_type = node["type"]
    if class_type not in WIDGETS:
        raise UserError(f"ComfyUI template node {node['id']} is a {class_type}, which wanflow cannot convert")
    values = node.get("widgets_values") or []
    inputs: dict[str, Any] = {
        name: value for name, value in zip(WIDGETS[class_type], values, strict=False) if name is not None
    }
    for entry in node.get("inputs", []):
        if entry.get("link") is None:
            continue
        source = _resolve(scope, *scope.links[entry["link"]][:2])
        if source is None:
            if "widget" not in entry:
                inputs.pop(entry["name"], None)
        else:
            inputs[entry["name"]] = source[1]
    return {"class_type": class_type, "inputs": inputs, "_meta": {"title": node.get("title") or class_type}}


def to_api(graph: dict[str, Any]) -> ApiGraph:
    """A UI-format workflow as ComfyUI's API format (what "Export (API)" writes)."""
    subgraphs = {definition["id"]: definition for definition in graph.get("definitions", {}).get("subgraphs", [])}
    top = _Scope(
        nodes={node["id"]: node for node in graph["nodes"]},
        links=_links(graph["links"]),
        prefix="",
        subgraphs=subgraphs,
    )
    api: ApiGraph = {}

    def visit(scope: _Scope) -> None:
        for node in scope.nodes.values():
            if node["type"] in NOTES or node.get("mode") in (MODE_NEVER, MODE_BYPASS):
                continue
            if node["type"] in subgraphs:
                visit(_inner_scope(scope, node))
                continue
            api[f"{scope.prefix}{node['id']}"] = _api_node(scope, node)

    visit(top)
    return api


# --- 2. constants folded, unused nodes dropped -------------------------------------------------


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def fold_constants(api: ApiGraph) -> ApiGraph:
    """Primitives become literals; a switch with a literal `switch` becomes the branch it selects."""
    result = copy.deepcopy(api)
    changed = True
    while changed:
        changed = False
        for node in result.values():
            for name, value in node["inputs"].items():
                if not _is_link(value):
                    continue
                source = result[value[0]]
                if source["class_type"] in PRIMITIVES:
                    node["inputs"][name] = source["inputs"]["value"]
                    changed = True
                elif source["class_type"] == "ComfySwitchNode" and isinstance(source["inputs"].get("switch"), bool):
                    branch = "on_true" if source["inputs"]["switch"] else "on_false"
                    node["inputs"][name] = source["inputs"][branch]
                    changed = True
    return result


OUTPUT_NODES = {"SaveVideo", "SaveImage", "SaveAnimatedWEBP", "PreviewImage"}


def prune(api: ApiGraph) -> ApiGraph:
    """Keep the nodes an output node needs, in the template's order."""
    needed: set[str] = set()
    pending = [node_id for node_id, node in api.items() if node["class_type"] in OUTPUT_NODES]
    while pending:
        node_id = pending.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        pending += [value[0] for value in api[node_id]["inputs"].values() if _is_link(value)]
    return {node_id: node for node_id, node in api.items() if node_id in needed}


# --- 3. the shot's values ----------------------------------------------------------------------


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
    """Set the shot's values on a folded, pruned template graph."""
    result = copy.deepcopy(api)
    samplers = _samplers(result)
    first = result[samplers[0]]["inputs"]
    result[_follow(result, samplers[0], "positive", "CLIPTextEncode")]["inputs"]["text"] = shot.prompt
    result[_follow(result, samplers[0], "negative", "CLIPTextEncode")]["inputs"]["text"] = shot.negative
    latent = result[first["latent_image"][0]]["inputs"]
    latent.update(width=shot.width, height=shot.height, length=shot.frames, batch_size=1)
    for node in result.values():
        if node["class_type"] == "CreateVideo":
            node["inputs"]["fps"] = shot.fps
        elif node["class_type"] == "SaveVideo":
            node["inputs"]["filename_prefix"] = f"wanflow/{shot.shot_id}"
        elif node["class_type"] == "LoadImage" and shot.start_image is not None:
            node["inputs"]["image"] = shot.start_image
    if shot.boundary_ratio is None:
        first.update(seed=shot.seed, steps=shot.steps, cfg=shot.guidance_high, sampler_name=SAMPLER)
        first.update(scheduler=SCHEDULER, denoise=1.0)
        sampling = _follow(result, samplers[0], "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.shift
        _add_loras(result, sampling, list(shot.loras), "high")
        return result
    split = boundary_step(shot.steps, shot.shift, shot.boundary_ratio)
    phases = (
        ("high", shot.guidance_high, 0, split, "enable", "enable"),
        ("low", shot.guidance_low, split, shot.steps, "disable", "disable"),
    )
    for node_id, (expert, cfg, start, end, add_noise, leftover) in zip(samplers, phases, strict=True):
        result[node_id]["inputs"].update(
            add_noise=add_noise,
            noise_seed=shot.seed,
            steps=shot.steps,
            cfg=cfg,
            sampler_name=SAMPLER,
            scheduler=SCHEDULER,
            start_at_step=start,
            end_at_step=end,
            return_with_leftover_noise=leftover,
        )
        sampling = _follow(result, node_id, "model", "ModelSamplingSD3")
        result[sampling]["inputs"]["shift"] = shot.shift
        _add_loras(result, sampling, [lora for lora in shot.loras if lora.expert in (expert, "both")], expert)
    return result


def shot_workflow(shot: ShotSettings) -> ApiGraph:
    """The backend's official template, in API format, set to the shot."""
    template = load_template(shot.backend)
    if shot.start_image is not None:  # the template's own start-image node, switched on
        for node in template["nodes"]:
            if node["type"] == "LoadImage":
                node["mode"] = 0
    return prune(fill_shot(fold_constants(to_api(template)), shot))


def expert_steps(shot: ShotSettings) -> str:
    """How the steps split between the experts, for people."""
    if shot.boundary_ratio is None:
        return f"{shot.steps} steps"
    split = boundary_step(shot.steps, shot.shift, shot.boundary_ratio)
    return (
        f"{shot.steps} steps: high-noise expert 0-{split} (cfg {shot.guidance_high:g}), "
        f"low-noise expert {split}-{shot.steps} (cfg {shot.guidance_low:g}); "
        f"split where the timestep falls below {math.floor(shot.boundary_ratio * NUM_TRAIN_TIMESTEPS)}"
    )
