"""`wanflow models verify`: is every component present, official in layout, and do they fit together?

Reads configs only (plus the tokenizer), so it is quick even for the real 14B folders.
"""

from __future__ import annotations

from pathlib import Path

from wanflow.backends.layout import check_layout, read_config
from wanflow.backends.store import missing_parts
from wanflow.errors import UserError


def verify_model(backend_id: str, folder: Path) -> list[str]:
    """Problems found in a model folder; an empty list means it is complete, official and consistent."""
    problems = [f"missing {part}" for part in missing_parts(folder)]
    if not (folder / "model_index.json").is_file():
        return problems
    problems += [str(difference) for difference in check_layout(backend_id, folder)]
    problems += _text_dim_problems(folder)
    if (folder / "tokenizer").is_dir():
        problems += _tokenizer_problems(folder / "tokenizer")
    return list(dict.fromkeys(problems))


def _text_dim_problems(folder: Path) -> list[str]:
    """The transformers read the text encoder's output: their text_dim must be its d_model."""
    d_model = _config(folder, "text_encoder").get("d_model")
    problems = []
    for expert in ("transformer", "transformer_2"):
        text_dim = _config(folder, expert).get("text_dim")
        if d_model is not None and text_dim is not None and text_dim != d_model:
            problems.append(f"{expert} text_dim {text_dim} != text encoder d_model {d_model}")
    return problems


def _config(folder: Path, component: str) -> dict:
    """The config, or {} where it is missing or broken (named by the other checks already)."""
    try:
        return read_config(folder, component)
    except UserError:
        return {}


def _tokenizer_problems(folder: Path) -> list[str]:
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
