"""ComfyUI workflow graphs: the UI format the templates ship in, and the API format ComfyUI runs.

- `UiGraph` (pydantic) checks a UI-format workflow where it enters: nodes, links, subgraph
  definitions, only the fields the conversion reads.
- `to_api` converts it the way ComfyUI's "Export (API)" does: subgraphs flattened (inner ids
  become "outer:inner"), notes and bypassed nodes left out (a bypassed node's consumers get its
  same-typed input), widget values named, links as [node id, output slot].
- `fold_constants` resolves control plumbing: Primitive nodes become literal inputs, and a
  ComfySwitchNode whose switch is a literal becomes the branch it selects.
- `prune` keeps what an output node needs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wanflow.errors import UserError

ApiGraph = dict[str, dict[str, Any]]  # node id -> {"class_type", "inputs", "_meta"}

# Widget names of the templates' node classes, in `widgets_values` order (ComfyUI's node
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
    "WanFirstLastFrameToVideo": ("width", "height", "length", "batch_size"),
    "WanImageToVideo": ("width", "height", "length", "batch_size"),
}
NOTES = {"MarkdownNote", "Note"}  # frontend-only nodes
PRIMITIVES = {"PrimitiveInt", "PrimitiveFloat", "PrimitiveBoolean", "PrimitiveString"}
OUTPUT_NODES = {"SaveVideo", "SaveImage", "SaveAnimatedWEBP", "PreviewImage"}
MODE_ALWAYS, MODE_NEVER, MODE_BYPASS = 0, 2, 4
SUBGRAPH_INPUT, SUBGRAPH_OUTPUT = -10, -20  # the ids of a subgraph's input and output nodes


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")  # positions, sizes, colours: the layout is not read


class UiInput(_Model):
    name: str
    type: str | None = None
    link: int | None = None
    widget: dict[str, Any] | None = None  # set when the input is a widget (maybe converted to a socket)


class UiOutput(_Model):
    type: str


class UiNode(_Model):
    id: int
    type: str  # a node class, or a subgraph definition's id
    mode: int = MODE_ALWAYS
    title: str | None = None
    inputs: list[UiInput] = []
    outputs: list[UiOutput] = []
    widgets_values: list[Any] = []


class UiLink(_Model):
    """A link; the top graph writes it as [id, origin, origin slot, target, target slot, type]."""

    id: int
    origin_id: int
    origin_slot: int
    target_id: int
    target_slot: int

    @model_validator(mode="before")
    @classmethod
    def _from_array(cls, value: Any) -> Any:
        if isinstance(value, list):
            return dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot"), value, strict=False))
        return value


class SubgraphSlot(_Model):
    name: str


class Subgraph(_Model):
    id: str
    inputs: list[SubgraphSlot] = []
    outputs: list[SubgraphSlot] = []
    nodes: list[UiNode]
    links: list[UiLink] = []


class Definitions(_Model):
    subgraphs: list[Subgraph] = []


class UiGraph(_Model):
    nodes: list[UiNode]
    links: list[UiLink] = []
    definitions: Definitions = Field(default_factory=Definitions)


@dataclass
class _Scope:
    """One graph level: the top graph, or a subgraph instance with its bindings to the outside."""

    nodes: dict[int, UiNode]
    links: dict[int, UiLink]
    prefix: str  # "" at the top, "128:" inside subgraph instance 128
    subgraphs: dict[str, Subgraph]
    parent: _Scope | None = None
    instance: UiNode | None = None  # the subgraph node in the parent scope
    definition: Subgraph | None = None

    def inner(self, instance: UiNode) -> _Scope:
        definition = self.subgraphs[instance.type]
        return _Scope(
            nodes={node.id: node for node in definition.nodes},
            links={link.id: link for link in definition.links},
            prefix=f"{self.prefix}{instance.id}:",
            subgraphs=self.subgraphs,
            parent=self,
            instance=instance,
            definition=definition,
        )


Source = tuple[str, Any] | None  # ("link", [id, slot]) | ("value", literal) | None: nothing connected


def _resolve(scope: _Scope, origin: int, slot: int) -> Source:
    """Where a link's value really comes from, through subgraph borders and bypassed nodes."""
    if origin == SUBGRAPH_INPUT:
        return _resolve_subgraph_input(scope, slot)
    node = scope.nodes[origin]
    if node.type in scope.subgraphs:
        inner = scope.inner(node)
        for link in inner.links.values():
            if link.target_id == SUBGRAPH_OUTPUT and link.target_slot == slot:
                return _resolve(inner, link.origin_id, link.origin_slot)
        return None
    if node.mode == MODE_BYPASS:
        wanted = node.outputs[slot].type
        for entry in node.inputs:
            if entry.type == wanted and entry.link is not None:
                link = scope.links[entry.link]
                return _resolve(scope, link.origin_id, link.origin_slot)
        return None
    return ("link", [f"{scope.prefix}{origin}", slot])


def _resolve_subgraph_input(scope: _Scope, slot: int) -> Source:
    """A subgraph input: the outer link if the instance's slot is connected, else its widget value.

    Older templates keep promoted widget values on the instance (one per unconnected input);
    newer ones (proxyWidgets) keep them on the inner nodes: then None lets the inner widget stand.
    """
    assert scope.parent is not None and scope.instance is not None and scope.definition is not None
    name = scope.definition.inputs[slot].name
    linked = {entry.name: entry.link for entry in scope.instance.inputs if entry.link is not None}
    if name in linked:
        link = scope.parent.links[linked[name]]
        return _resolve(scope.parent, link.origin_id, link.origin_slot)
    unconnected = [entry.name for entry in scope.definition.inputs if entry.name not in linked]
    values = scope.instance.widgets_values
    if len(values) == len(unconnected):
        return ("value", values[unconnected.index(name)])
    return None


def _api_node(scope: _Scope, node: UiNode) -> dict[str, Any]:
    if node.type not in WIDGETS:
        raise UserError(f"ComfyUI template node {node.id} is a {node.type}, which wanflow cannot convert")
    inputs: dict[str, Any] = {
        name: value for name, value in zip(WIDGETS[node.type], node.widgets_values, strict=False) if name is not None
    }
    for entry in node.inputs:
        if entry.link is None:
            continue
        link = scope.links[entry.link]
        source = _resolve(scope, link.origin_id, link.origin_slot)
        if source is not None:
            inputs[entry.name] = source[1]
        elif entry.widget is None:  # a socket fed by nothing: left out, as the frontend does
            inputs.pop(entry.name, None)
    return {"class_type": node.type, "inputs": inputs, "_meta": {"title": node.title or node.type}}


def to_api(graph: UiGraph) -> ApiGraph:
    """A UI-format workflow as ComfyUI's API format (what "Export (API)" writes)."""
    subgraphs = {definition.id: definition for definition in graph.definitions.subgraphs}
    api: ApiGraph = {}

    def visit(scope: _Scope) -> None:
        for node in scope.nodes.values():
            if node.type in NOTES or node.mode in (MODE_NEVER, MODE_BYPASS):
                continue
            if node.type in subgraphs:
                visit(scope.inner(node))
            else:
                api[f"{scope.prefix}{node.id}"] = _api_node(scope, node)

    visit(
        _Scope(
            nodes={node.id: node for node in graph.nodes},
            links={link.id: link for link in graph.links},
            prefix="",
            subgraphs=subgraphs,
        )
    )
    return api


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def fold_constants(api: ApiGraph) -> ApiGraph:
    """Primitives become literals; a switch with a literal `switch` becomes the branch it selects."""
    result = copy.deepcopy(api)
    changed = True
    while changed:
        changed = False
        for node in result.values():
            for name, value in node["inputs"].items():
                if not is_link(value):
                    continue
                source = result[value[0]]
                if source["class_type"] in PRIMITIVES:
                    node["inputs"][name] = source["inputs"]["value"]
                    changed = True
                elif source["class_type"] == "ComfySwitchNode" and isinstance(source["inputs"].get("switch"), bool):
                    node["inputs"][name] = source["inputs"]["on_true" if source["inputs"]["switch"] else "on_false"]
                    changed = True
    return result


def prune(api: ApiGraph) -> ApiGraph:
    """Keep the nodes an output node needs, in the graph's order."""
    needed: set[str] = set()
    pending = [node_id for node_id, node in api.items() if node["class_type"] in OUTPUT_NODES]
    while pending:
        node_id = pending.pop()
        if node_id not in needed:
            needed.add(node_id)
            pending += [value[0] for value in api[node_id]["inputs"].values() if is_link(value)]
    return {node_id: node for node_id, node in api.items() if node_id in needed}
