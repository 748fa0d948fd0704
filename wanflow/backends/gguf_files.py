"""GGUF experts: write them (tiny ones, for tests), read their facts, check them against a model.

The community's Wan2.2 GGUF files (QuantStack's, made with city96's ComfyUI-GGUF tools) hold
one expert each in the original Wan key layout (`blocks.0.self_attn.q.weight`...), 2-D weights
quantized, the rest in float32; diffusers reads them with `GGUFQuantizationConfig` and
`WanTransformer3DModel.from_single_file`, renaming keys with its own
`convert_wan_transformer_to_diffusers`. `write_gguf` writes a diffusers transformer the same
way, with the `gguf` package, so the tests load what the real files would give diffusers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy
import torch
from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

from wanflow.errors import UserError

ARCHITECTURE = "wan"  # general.architecture of city96's / QuantStack's Wan files
QUANT_TYPES = {
    "q8_0": gguf.GGMLQuantizationType.Q8_0,
    "q4_k_s": gguf.GGMLQuantizationType.Q4_K,  # Q4_K_S is a mix led by Q4_K blocks
    "f32": gguf.GGMLQuantizationType.F32,
}

# diffusers name -> original Wan name: the inverse of convert_wan_transformer_to_diffusers' renames.
_TO_ORIGINAL = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn2", "cross_attn"),
    ("attn1", "self_attn"),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("norm2", "norm__swap"),
    ("norm3", "norm2"),
    ("norm__swap", "norm3"),
)


def original_name(name: str) -> str:
    """The original Wan checkpoint's name of a diffusers WanTransformer3DModel parameter."""
    if name == "scale_shift_table":
        return "head.modulation"
    if name.startswith("proj_out."):
        return "head.head." + name.removeprefix("proj_out.")
    for diffusers_part, original_part in _TO_ORIGINAL:
        name = name.replace(diffusers_part, original_part)
    return name.replace("scale_shift_table", "modulation")


def _quant_for(name: str, array: numpy.ndarray, quant: gguf.GGMLQuantizationType) -> gguf.GGMLQuantizationType:
    """The files' rule: the linear layers' weight matrices whose rows fill whole blocks are quantized,
    the rest (biases, norms, modulation tables, the patch embedding) stays float32."""
    block_size, _ = gguf.GGML_QUANT_SIZES[quant]
    if name.endswith(".weight") and array.ndim == 2 and array.shape[-1] % block_size == 0:
        return quant
    return gguf.GGMLQuantizationType.F32


def write_gguf(transformer: torch.nn.Module, path: Path, quant: str) -> Path:
    """Write a diffusers Wan transformer as an original-layout GGUF file of `quant` (`q8_0`, `q4_k_s`)."""
    state = {name: tensor.detach().float().cpu() for name, tensor in transformer.state_dict().items()}
    originals = {original_name(name): name for name in state}
    renamed_back = convert_wan_transformer_to_diffusers({key: key for key in originals})
    if set(renamed_back) != set(state):  # the inverse must be exact, or diffusers would load other weights
        raise ValueError(
            f"GGUF key layout does not invert diffusers' converter: {sorted(set(renamed_back) ^ set(state))}"
        )
    qtype = QUANT_TYPES[quant]
    writer = gguf.GGUFWriter(str(path), ARCHITECTURE)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_file_type(_FILE_TYPES[quant])
    for original, name in sorted(originals.items()):
        array = state[name].numpy()
        tensor_type = _quant_for(original, array, qtype)
        data = _quantize(array, tensor_type)
        writer.add_tensor(original, data, raw_shape=data.shape, raw_dtype=tensor_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _quantize(array: numpy.ndarray, quant: gguf.GGMLQuantizationType) -> numpy.ndarray:
    """`gguf.quants.quantize`, which has no K-quant encoder: Q4_K is encoded here."""
    if quant == gguf.GGMLQuantizationType.Q4_K:
        return quantize_q4_k(array)
    return gguf.quants.quantize(array, quant)


def quantize_q4_k(array: numpy.ndarray) -> numpy.ndarray:
    """Q4_K blocks (ggml's block_q4_K: fp16 d and dmin, 12 bytes of 6-bit scales and mins, 128 bytes of
    4-bit values) of a float array whose rows are whole 256-value blocks; plain min/max scaling, decoded
    exactly by ggml's and gguf's dequantizers (the tests hold it against `gguf.quants.dequantize`)."""
    rows = array.reshape(-1, 256).astype(numpy.float32)
    sub = rows.reshape(-1, 8, 32)
    low = numpy.minimum(sub.min(axis=-1), 0.0)
    scale = (sub.max(axis=-1) - low) / 15.0  # per 32-value sub-block: x ~ scale * q - mn
    mn = -low
    d = (scale.max(axis=-1) / 63.0).astype(numpy.float16)
    dmin = (mn.max(axis=-1) / 63.0).astype(numpy.float16)
    d32, dmin32 = d.astype(numpy.float32)[:, None], dmin.astype(numpy.float32)[:, None]
    sc = numpy.clip(numpy.rint(numpy.divide(scale, d32, out=numpy.zeros_like(scale), where=d32 > 0)), 0, 63)
    m = numpy.clip(numpy.rint(numpy.divide(mn, dmin32, out=numpy.zeros_like(mn), where=dmin32 > 0)), 0, 63)
    step = (d32 * sc)[..., None]
    q = numpy.divide(sub + (dmin32 * m)[..., None], step, out=numpy.zeros_like(sub), where=step > 0)
    q = numpy.clip(numpy.rint(q), 0, 15).astype(numpy.uint8)
    sc, m = sc.astype(numpy.uint8), m.astype(numpy.uint8)
    scales = numpy.concatenate(
        [
            (sc[:, :4] & 0x3F) | ((sc[:, 4:] >> 4) << 6),
            (m[:, :4] & 0x3F) | ((m[:, 4:] >> 4) << 6),
            (sc[:, 4:] & 0x0F) | ((m[:, 4:] & 0x0F) << 4),
        ],
        axis=-1,
    )
    qs = (q[:, 0::2, :] | (q[:, 1::2, :] << 4)).reshape(-1, 128)
    blocks = numpy.concatenate(
        [d.reshape(-1, 1).view(numpy.uint8), dmin.reshape(-1, 1).view(numpy.uint8), scales, qs], axis=-1
    )
    return blocks.reshape(*array.shape[:-1], array.shape[-1] // 256 * 144)


_FILE_TYPES = {
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    "q4_k_s": gguf.LlamaFileType.MOSTLY_Q4_K_S,
    "f32": gguf.LlamaFileType.ALL_F32,
}


@dataclass(frozen=True)
class GgufFacts:
    """What a GGUF file says of itself: architecture, the quant type of most of its weights, shapes."""

    architecture: str | None
    quant: str  # the most common non-float type's name, e.g. Q8_0, Q4_K (F32 when nothing is quantized)
    shapes: dict[str, tuple[int, ...]]  # diffusers parameter name -> shape (as torch sees it)


def read_gguf_facts(path: Path) -> GgufFacts:
    """A GGUF file's architecture, quant type and tensor shapes, without reading the weights."""
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError, IndexError) as error:
        raise UserError(f"{path} is not a readable GGUF file: {error}") from None
    field = reader.fields.get("general.architecture")
    architecture = None
    if field is not None and field.data:
        architecture = bytes(field.parts[field.data[0]]).decode("utf-8", "replace")
    counts: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if tensor.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            counts[kind] = counts.get(kind, 0) + int(tensor.n_elements)
        shapes[tensor.name] = tuple(int(n) for n in reversed(tensor.shape))  # GGUF stores dims innermost first
    renamed = convert_wan_transformer_to_diffusers(dict(shapes))
    quant = max(counts, key=counts.__getitem__) if counts else "F32"
    return GgufFacts(architecture, quant, renamed)


def gguf_problems(path: Path, config_dir: Path, quant: str) -> list[str]:
    """Why a GGUF file cannot stand in for the transformer whose config is in `config_dir` (empty: it can)."""
    facts = read_gguf_facts(path)
    problems = []
    if facts.architecture != ARCHITECTURE:
        problems.append(f"{path.name}: architecture {facts.architecture!r}, not a Wan transformer ({ARCHITECTURE!r})")
        return problems
    expected_quant = QUANT_TYPES[quant].name
    if facts.quant != expected_quant:
        problems.append(f"{path.name}: its weights are {facts.quant}, not {expected_quant} ({quant})")
    expected = expected_shapes(config_dir)
    missing = sorted(set(expected) - set(facts.shapes))
    extra = sorted(set(facts.shapes) - set(expected))
    wrong = sorted(name for name in set(expected) & set(facts.shapes) if facts.shapes[name] != expected[name])
    if missing or extra or wrong:
        first = (wrong or missing or extra)[0]
        detail = (
            f"{first} is {facts.shapes[first]}, the model's config wants {expected[first]}"
            if wrong
            else f"{'missing' if missing else 'unexpected'} tensor {first}"
        )
        count = len(missing) + len(extra) + len(wrong)
        problems.append(f"{path.name}: does not fit the model's config ({count} tensors differ; {detail})")
    return problems


def expected_shapes(config_dir: Path) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape of the transformer `config_dir/config.json` describes (built on the meta device)."""
    from accelerate import init_empty_weights
    from diffusers import WanTransformer3DModel

    config = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
    with init_empty_weights():
        model = WanTransformer3DModel.from_config(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def verify_installed(root: Path) -> list[tuple[str, Path, list[str]]]:
    """Every GGUF expert under `root` (and `root/tiny`): (backend id, path, problems).

    Shapes are held against the Diffusers folder beside it when installed, else the official
    config; the file's SHA-256 against the one its pull wrote (`<file>.sha256`).
    """
    from wanflow.backends.layout import official_folder
    from wanflow.backends.quantized import installed_ggufs
    from wanflow.hashing import sha256_of_file

    checked = []
    for base in (root, root / "tiny"):
        for backend_id, component, quant, path in installed_ggufs(base):
            beside = base / backend_id / component
            config_dir = beside if (beside / "config.json").is_file() else official_folder(backend_id) / component
            problems = gguf_problems(path, config_dir, quant)
            recorded = path.with_name(path.name + ".sha256")
            if recorded.is_file() and recorded.read_text(encoding="utf-8").strip() != sha256_of_file(path):
                problems.append(f"{path.name}: its SHA-256 is not the one recorded when it was pulled; pull it again")
            checked.append((backend_id, path, problems))
    return checked
