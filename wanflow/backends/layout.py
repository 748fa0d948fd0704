"""The official Wan2.2 layout, and where a model folder departs from it (configs only, no torch).

A Diffusers folder declares its own classes in `model_index.json` and diffusers loads it as
declared, so a folder is only as official as its configs: a text encoder declared
`T5EncoderModel` reads UMT5 weights with the wrong relative attention, a flow-match Euler
scheduler samples differently from UniPC, a boundary of 0.875 on I2V-A14B hands over to the
low-noise expert at the wrong step. `check_layout` compares a folder's configs with the
official ones shipped in `official/<backend-id>/` (the configuration of the Wan-AI Diffusers
repos, without weights) and names each difference. It reads a few JSON files, so `plan` and
`run` afford it on every model before anything loads.

Sizes (layers, widths, vocabulary) are not compared: the tiny test models have the official
layout at a toy size. What is compared decides how a model is wired and sampled.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanflow.catalog import backend_spec
from wanflow.errors import UserError, file_error

OFFICIAL_ROOT = Path(__file__).parent / "official"

# Why each checked key matters, per component; the keys of model_index.json are "pipeline".
_CHECKED_KEYS: dict[str, dict[str, str]] = {
    "pipeline": {
        "_class_name": "the pipeline that samples it",
        "boundary_ratio": "the timestep fraction where the high-noise expert hands over to the low-noise one",
        "expand_timesteps": "per-token timesteps, which pin TI2V-5B's start image to latent frame 0",
    },
    "scheduler": {
        "prediction_type": "what the transformer predicts",
        "use_flow_sigmas": "the flow-matching noise schedule",
        "num_train_timesteps": "the boundary is a fraction of these",
    },
    "transformer": {
        "in_channels": "latent channels in (I2V: 16 noise + 4 mask + 16 image)",
        "out_channels": "latent channels out, the VAE's z_dim",
        "patch_size": "with the VAE stride, the size multiple",
        "image_dim": "image embedding size: Wan2.2 has no CLIP image embedding",
        "added_kv_proj_dim": "image key/value projection: Wan2.2 has none",
    },
    "vae": {
        "z_dim": "latent channels",
        "scale_factor_temporal": "frames per latent frame",
        "scale_factor_spatial": "pixels per latent pixel",
        "patch_size": "the Wan2.2 VAE's 2x2 pixel patches",
    },
}
_CHECKED_KEYS["transformer_2"] = _CHECKED_KEYS["transformer"]

_CLASS_WHY = {
    "text_encoder": "diffusers loads the declared class; another one reads the UMT5 weights wrongly",
    "tokenizer": "the UMT5 vocabulary",
    "scheduler": "the sampler the official steps and shift are tuned for",
    "transformer": "the high-noise expert (the only one for TI2V-5B)",
    "transformer_2": "the low-noise expert of the A14B models",
    "vae": "the Wan VAE",
    "image_encoder": "Wan2.2 conditions on the image latent, not on a CLIP embedding",
    "image_processor": "Wan2.2 conditions on the image latent, not on a CLIP embedding",
}

# Class names that are one class in the transformers this project runs (5.x).
_SAME_CLASS = {"T5TokenizerFast": "T5Tokenizer"}

# __init__ defaults of the official classes (diffusers 0.42), for configs saved without a key;
# tests/test_backends_layout.py holds them against the classes' signatures.
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "WanPipeline": {"boundary_ratio": None, "expand_timesteps": False},
    "WanImageToVideoPipeline": {"boundary_ratio": None, "expand_timesteps": False},
    "UniPCMultistepScheduler": {"prediction_type": "epsilon", "use_flow_sigmas": False, "num_train_timesteps": 1000},
    "WanTransformer3DModel": {
        "in_channels": 16,
        "out_channels": 16,
        "patch_size": [1, 2, 2],
        "image_dim": None,
        "added_kv_proj_dim": None,
    },
    "AutoencoderKLWan": {"z_dim": 16, "scale_factor_temporal": 4, "scale_factor_spatial": 8, "patch_size": None},
}

_CONFIG_FILES = {"scheduler": "scheduler/scheduler_config.json"}
_MISSING = "missing"


@dataclass(frozen=True)
class LayoutDifference:
    """One way a folder differs from the official layout of its backend."""

    component: str  # "pipeline" (model_index.json), "text_encoder", "scheduler", "transformer_2", ...
    key: str  # "class", a config key, or "config" for an unreadable file
    found: Any
    expected: Any
    why: str

    def __str__(self) -> str:
        if self.key == "config":
            return f"{config_file(self.component)} is {self.found} ({self.why})"
        return f"{self.component} {self.key} is {_show(self.found)}, expected {_show(self.expected)} ({self.why})"


def official_folder(backend_id: str) -> Path:
    """The config-only Diffusers folder of a backend's official real-size model."""
    return OFFICIAL_ROOT / backend_spec(backend_id).id


def config_file(component: str) -> str:
    if component == "pipeline":
        return "model_index.json"
    return _CONFIG_FILES.get(component, f"{component}/config.json")


def declared_class(folder: Path, component: str) -> tuple[str, str] | None:
    """(library, class name) that model_index.json declares for a component; None when absent."""
    entry = read_config(folder, "pipeline").get(component)
    if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
        return None
    return entry[0], entry[1]


def declared_module_class(folder: Path, component: str) -> type:
    """The class a folder declares for a component, imported as diffusers imports it: a folder
    loads as it declares itself (a `T5EncoderModel` text encoder is not read as UMT5)."""
    declared = declared_class(folder, component)
    if declared is None:
        raise UserError(f"{folder / 'model_index.json'} declares no {component}; run `wanflow models verify`")
    library, name = declared
    module = importlib.import_module(library) if library in ("diffusers", "transformers") else None
    if module is None or not hasattr(module, name):
        raise UserError(f"{folder / 'model_index.json'} declares {component} as {library}.{name}, which is not known")
    return getattr(module, name)


def check_layout(backend_id: str, folder: Path) -> list[LayoutDifference]:
    """Every difference between a folder's configs and the official layout; [] when it matches."""
    official = official_folder(backend_id)
    index = _read_or_none(folder, "pipeline")
    if index is None:
        return [LayoutDifference("pipeline", "config", _state(folder, "pipeline"), "readable", "it declares the parts")]
    expected_index = read_config(official, "pipeline")
    differences = _class_differences(index, expected_index)
    differences += _value_differences("pipeline", index, expected_index)
    for component in ("scheduler", "transformer", "transformer_2", "vae"):
        expected_class = _class_of(expected_index, component)
        if expected_class is None or _class_of(index, component) != expected_class:
            continue  # the class difference is named already; its keys would only repeat it
        config = _read_or_none(folder, component)
        if config is None:
            state = _state(folder, component)
            differences.append(LayoutDifference(component, "config", state, "readable", "its keys decide the wiring"))
            continue
        differences += _value_differences(component, config, read_config(official, component))
    return differences


def describe_layout(folder: Path) -> dict[str, Any]:
    """The folder's own value of every checked key ("component.key"), e.g. for a run's manifest."""
    index = read_config(folder, "pipeline")
    described: dict[str, Any] = {f"{name}.class": _class_of(index, name) for name in _CLASS_WHY}
    for component, keys in _CHECKED_KEYS.items():
        config = index if component == "pipeline" else _read_or_none(folder, component)
        if config is None:
            continue
        defaults = CLASS_DEFAULTS.get(str(config.get("_class_name")), {})
        described |= {f"{component}.{key}": config.get(key, defaults.get(key, _MISSING)) for key in keys}
    return described


def read_config(folder: Path, component: str) -> dict[str, Any]:
    """A component's config (model_index.json for "pipeline"); a UserError naming the file otherwise."""
    path = folder / config_file(component)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise file_error(path, f"cannot read the config: {error}") from None


def _read_or_none(folder: Path, component: str) -> dict[str, Any] | None:
    try:
        return json.loads((folder / config_file(component)).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _state(folder: Path, component: str) -> str:
    return "unreadable" if (folder / config_file(component)).exists() else _MISSING


def _class_of(index: dict[str, Any], component: str) -> str | None:
    entry = index.get(component)
    if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
        return None
    return _SAME_CLASS.get(entry[1], entry[1])


def _class_differences(index: dict[str, Any], expected_index: dict[str, Any]) -> list[LayoutDifference]:
    names = [name for name, value in {**expected_index, **index}.items() if isinstance(value, list)]
    differences = []
    for name in dict.fromkeys(names):
        found, expected = _class_of(index, name), _class_of(expected_index, name)
        if found != expected:
            why = _CLASS_WHY.get(name, "not part of the official layout")
            differences.append(LayoutDifference(name, "class", found, expected, why))
    return differences


def _value_differences(
    component: str, config: dict[str, Any], expected_config: dict[str, Any]
) -> list[LayoutDifference]:
    """Checked keys of one config against the official one of the same class (defaults fill gaps)."""
    defaults = CLASS_DEFAULTS[expected_config["_class_name"]]
    differences = []
    for key, why in _CHECKED_KEYS[component].items():
        found = config.get(key, defaults.get(key, _MISSING))
        expected = expected_config.get(key, defaults.get(key))
        if found != expected:
            differences.append(LayoutDifference(component, key, found, expected, why))
    return differences


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
