"""`wanflow models verify`: is every component present, and do the components fit together?

Reads configs only (plus the tokenizer), so it is quick even for the real 14B folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wanflow.backends.store import is_tiny, missing_parts
from wanflow.catalog import backend_spec


def _config(folder: Path, name: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{name} is missing")
    except (OSError, json.JSONDecodeError) as error:
        problems.append(f"{name} does not parse: {error}")
    return None


def verify_model(backend_id: str, folder: Path) -> list[str]:
    """Problems found in a model folder; an empty list means it is complete and consistent."""
    spec = backend_spec(backend_id)
    problems = [f"missing {part}" for part in missing_parts(folder)]
    index = _config(folder, "model_index.json", problems)
    if index is None:
        return problems
    if index.get("_class_name") != spec.pipeline:
        problems.append(f"model_index.json names {index.get('_class_name')}, expected {spec.pipeline}")
    if index.get("boundary_ratio") != spec.boundary_ratio:
        problems.append(f"boundary_ratio is {index.get('boundary_ratio')}, expected {spec.boundary_ratio}")
    if spec.expand_timesteps and not index.get("expand_timesteps"):
        problems.append("expand_timesteps must be true for ti2v-5b")

    vae = _config(folder, "vae/config.json", problems)
    text_encoder = _config(folder, "text_encoder/config.json", problems)
    experts = ["transformer", "transformer_2"] if spec.experts == 2 else ["transformer"]
    if spec.experts == 2 and (index.get("transformer_2") or [None])[0] is None:
        problems.append("transformer_2 (the low-noise expert) is not in model_index.json")
    for expert in experts:
        config = _config(folder, f"{expert}/config.json", problems)
        if config is None or vae is None:
            continue
        z_dim = vae.get("z_dim")
        if z_dim != spec.z_dim:
            problems.append(f"vae z_dim is {z_dim}, expected {spec.z_dim}")
        expected_in = 2 * z_dim + 4 if spec.needs_image else z_dim
        if config.get("in_channels") != expected_in:
            what = f"{z_dim} noise + 4 mask + {z_dim} image" if spec.needs_image else f"vae z_dim {z_dim}"
            problems.append(f"{expert} in_channels is {config.get('in_channels')}, expected {expected_in} ({what})")
        if config.get("out_channels") != z_dim:
            problems.append(f"{expert} out_channels is {config.get('out_channels')}, expected vae z_dim {z_dim}")
        if text_encoder is not None and config.get("text_dim") != text_encoder.get("d_model"):
            problems.append(
                f"{expert} text_dim {config.get('text_dim')} != text encoder d_model {text_encoder.get('d_model')}"
            )
    if vae is not None and vae.get("scale_factor_spatial", 8) != spec.vae_stride[1]:
        problems.append(f"vae spatial stride is {vae.get('scale_factor_spatial', 8)}, expected {spec.vae_stride[1]}")
    if (folder / "tokenizer").is_dir():
        problems += _tokenizer_problems(folder / "tokenizer", tiny=is_tiny(folder))
    return list(dict.fromkeys(problems))


def _tokenizer_problems(folder: Path, *, tiny: bool) -> list[str]:
    from transformers import (
        AutoTokenizer,  # only here: importing transformers takes seconds
    )

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        ids = tokenizer("一只猫 a cat").input_ids
    except (OSError, ValueError, TypeError) as error:
        return [f"tokenizer does not load: {error}"]
    if len(set(ids)) < 3:
        return ["tokenizer maps a test prompt to fewer than 3 distinct ids"]
    return []
