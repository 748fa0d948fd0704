"""A shot's LoRAs against its model, from the .safetensors headers alone (no torch, before any work).

A LoRA made for another model (TI2V-5B's 3072-wide blocks on an A14B expert 5120 wide, an
A14B LoRA's blocks 30-39 on TI2V-5B's 30 blocks) otherwise fails deep inside diffusers, after
the text encoder and the experts have loaded. A .safetensors file opens with an 8-byte
little-endian length and a JSON header naming every tensor with its shape, so `plan` reads
the tensor names and shapes and compares them with the transformer config of the model the
shot renders with (the installed folder's, or the official one for a model not installed).

Key layouts read, as diffusers' Wan LoRA loader converts them: PEFT/diffusers
(`transformer.blocks.0.attn1.to_q.lora_A.weight`), ComfyUI/Kijai/lightx2v
(`diffusion_model.blocks.0.self_attn.q.lora_down.weight`, `.diff`, `.diff_b`), musubi
(`lora_unet_blocks_0_self_attn_q`) and DiffSynth-Studio (`blocks.0.self_attn.q.lora_A.default.weight`).
lora_A / lora_down is [rank, in_features], lora_B / lora_up is [out_features, rank].
Tensors on modules this table does not know are not judged (diffusers decides about them);
a file whose header cannot be read is left to the loader's own message.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from wanflow.backends.layout import OFFICIAL_ROOT
from wanflow.catalog import BackendSpec
from wanflow.errors import Problem
from wanflow.film import Lora

MAX_HEADER_BYTES = 64 * 1024 * 1024  # the safetensors format's own limit is 100 MB; LoRA headers are far smaller
_PREFIXES = ("diffusion_model.", "model.", "transformer.", "base_model.model.")
_KINDS = {
    ".lora_A.weight": "down",
    ".lora_A.default.weight": "down",
    ".lora_down.weight": "down",
    ".lora_B.weight": "up",
    ".lora_B.default.weight": "up",
    ".lora_up.weight": "up",
    ".diff": "diff",
    ".diff_b": "diff_b",
}
_MUSUBI = (
    (re.compile(r"^blocks_(\d+)_(self_attn|cross_attn)_(\w+)$"), r"blocks.\1.\2.\3"),
    (re.compile(r"^blocks_(\d+)_ffn_(\d+)$"), r"blocks.\1.ffn.\2"),
    (re.compile(r"^(text_embedding|time_embedding|time_projection)_(\d+)$"), r"\1.\2"),
    (re.compile(r"^head_head$"), "head.head"),
)
_CONFIG_KEYS = (
    "num_attention_heads",
    "attention_head_dim",
    "num_layers",
    "ffn_dim",
    "text_dim",
    "freq_dim",
    "out_channels",
)
_EXPERT_COMPONENTS = {"high": ("transformer",), "low": ("transformer_2",), "both": ("transformer", "transformer_2")}
_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
_ATTENTION = ("self_attn.", "cross_attn.", "attn1.", "attn2.")

Shape = tuple[int, ...]
Where = Callable[[str, str], Problem]


def lora_fit_problems(
    loras: tuple[Lora, ...], spec: BackendSpec, folder: Path | None, tiny: bool, where: Where, base: Path
) -> list[Problem]:
    """One problem per LoRA that cannot fit the expert(s) it targets; [] when the dims are unknown."""
    problems: list[Problem] = []
    for lora in loras:
        shapes = read_header_shapes(lora.path)
        if not shapes:
            continue
        components = ("transformer",) if spec.experts == 1 else _EXPERT_COMPONENTS[lora.expert]
        for component in components:
            config = _transformer_config(spec.id, component, folder, tiny)
            message = config and misfit(shapes, config, spec.id, spec.experts)
            if message:
                problems.append(where("lora", f"LoRA {_shown(lora.path, base)} {message}"))
                break
    return problems


def read_header_shapes(path: Path) -> dict[str, Shape] | None:
    """Tensor name -> shape from a .safetensors header; None when the file is not one (or not a regular file)."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        size = os.fstat(handle).st_size
        if not stat.S_ISREG(os.fstat(handle).st_mode) or size < 8:
            return None
        with os.fdopen(handle, "rb", closefd=False) as stream:
            length = int.from_bytes(stream.read(8), "little")
            if length > min(size - 8, MAX_HEADER_BYTES):
                return None
            header = json.loads(stream.read(length))
    except (OSError, ValueError, RecursionError):  # RecursionError: a header nested too deep for json
        return None
    finally:
        os.close(handle)
    if not isinstance(header, dict):
        return None
    return {
        name: tuple(entry["shape"])
        for name, entry in header.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("shape"), list)
        and all(type(n) is int for n in entry["shape"])
    }


def misfit(shapes: dict[str, Shape], config: dict, model: str, experts: int = 1) -> str | None:
    """Why these tensors cannot load into `model`'s WanTransformer3DModel of `config`, or None."""
    dim = config["num_attention_heads"] * config["attention_head_dim"]
    are = "'s experts are" if experts == 2 else " is"
    layers, (in_block, outside) = config["num_layers"], _features(config, dim)
    tensors = []  # (key, shape, block, module, kind, (in, out)) of the tensors on modules the table knows
    for key, shape in shapes.items():
        parsed = _parse(key)
        in_out = parsed and (outside if parsed[0] is None else in_block).get(parsed[1])
        if parsed and in_out and shape:
            tensors.append((key, shape, *parsed, in_out))
    widths = [  # the width the attention layers were made for: the first thing a LoRA for another model gets wrong
        shape[1] if kind == "down" else shape[0]
        for _, shape, block, module, kind, _ in tensors
        if block is not None and module.startswith(_ATTENTION) and kind in ("down", "up") and len(shape) > 1
    ]
    width = next((width for width in widths if width != dim), None)
    if width is not None:
        return f"is for a model of width {width}; {model}{are} {dim} wide"
    ranks: dict[str, dict[str, int]] = {}
    for key, shape, block, module, kind, in_out in tensors:
        name = module if block is None else f"blocks.{block}.{module}"
        if block is not None and block >= layers:
            return f"targets transformer block {block}; {model} has {layers} blocks (0-{layers - 1})"
        features_in, features_out = in_out
        if kind == "down":
            bad = len(shape) < 2 or shape[1] != features_in
        elif kind == "up":
            bad = shape[0] != features_out
        else:
            bad = shape != ((features_out, features_in) if kind == "diff" else (features_out,))
        if bad:
            return (
                f"does not fit {model}: {key[:200]} has shape {list(shape)}, but {name} of {model} takes "
                f"{features_in} features in and gives {features_out} out"
            )
        if kind in ("down", "up") and len(shape) > 1:
            ranks.setdefault(name, {})[kind] = shape[0] if kind == "down" else shape[1]
    for name, rank in ranks.items():
        if len(set(rank.values())) > 1:
            return f"is broken: {name} has rank {rank['down']} in lora_A/lora_down but {rank['up']} in lora_B/lora_up"
    if not tensors:
        first = next(iter(shapes))[:200]  # a name from the file, kept to a line
        return f"targets no module of a Wan2.2 transformer (its first tensor is {first}); is it a LoRA for another model than {model}?"
    return None


def _parse(key: str) -> tuple[int | None, str, str] | None:
    """(block index or None, module name within the block or model, kind) of a LoRA tensor name."""
    kind = next((kind for suffix, kind in _KINDS.items() if key.endswith(suffix)), None)
    if kind is None:
        return None
    name = key[: -len(next(suffix for suffix in _KINDS if key.endswith(suffix)))]
    if name.startswith("lora_unet_"):
        name = name.removeprefix("lora_unet_")
        for pattern, replacement in _MUSUBI:
            name = pattern.sub(replacement, name)
    stripped = True
    while stripped:
        stripped = False
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name, stripped = name.removeprefix(prefix), True
    match = _BLOCK.match(name)
    if match:
        return int(match.group(1)), match.group(2), kind
    return None, name, kind


def _features(config: dict, dim: int) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """(in_features, out_features) per module inside a block and outside, in the original Wan and the diffusers naming."""
    ffn, text, freq = config["ffn_dim"], config["text_dim"], config["freq_dim"]
    patch = config.get("patch_size")
    patch = patch if isinstance(patch, list) and len(patch) == 3 and all(type(n) is int for n in patch) else [1, 2, 2]
    head_out = config["out_channels"] * patch[0] * patch[1] * patch[2]
    in_block = {f"{attention}.{name}": (dim, dim) for attention in ("self_attn", "cross_attn") for name in "qkvo"}
    in_block |= {
        f"{attention}.{name}": (dim, dim)
        for attention in ("attn1", "attn2")
        for name in ("to_q", "to_k", "to_v", "to_out.0")
    }
    in_block |= {"ffn.0": (dim, ffn), "ffn.net.0.proj": (dim, ffn), "ffn.2": (ffn, dim), "ffn.net.2": (ffn, dim)}
    outside = {
        "text_embedding.0": (text, dim),
        "condition_embedder.text_embedder.linear_1": (text, dim),
        "text_embedding.2": (dim, dim),
        "condition_embedder.text_embedder.linear_2": (dim, dim),
        "time_embedding.0": (freq, dim),
        "condition_embedder.time_embedder.linear_1": (freq, dim),
        "time_embedding.2": (dim, dim),
        "condition_embedder.time_embedder.linear_2": (dim, dim),
        "time_projection.1": (dim, 6 * dim),
        "condition_embedder.time_proj": (dim, 6 * dim),
        "head.head": (dim, head_out),
        "proj_out": (dim, head_out),
    }
    return in_block, outside


def _transformer_config(backend_id: str, component: str, folder: Path | None, tiny: bool) -> dict | None:
    """The expert's config: the installed folder's, else the official one (unknown for a missing tiny model)."""
    if folder is None and tiny:
        return None
    path = (folder if folder is not None else OFFICIAL_ROOT / backend_id) / component / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # an unreadable config is the layout check's problem, not the LoRA's
    if not isinstance(config, dict) or not all(type(config.get(key)) is int for key in _CONFIG_KEYS):
        return None
    return config


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return path.name
