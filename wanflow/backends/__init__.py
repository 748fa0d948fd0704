"""Wan2.2 through diffusers: the only package that imports torch/diffusers.

The registry, store and validation names import quickly; the generation phases (which pull
in torch and diffusers, seconds of start-up) load on first use, so `wanflow models list`
and the planner stay fast.
"""

from __future__ import annotations

from typing import Any

from wanflow.backends.quiet import silence_torchvision_fallback
from wanflow.backends.registry import (
    BACKENDS,
    DEFAULT_NEGATIVE_PROMPT,
    BackendSpec,
    backend_spec,
)
from wanflow.backends.store import (
    InstalledModel,
    find_model,
    is_tiny,
    list_models,
    make_tiny_models,
    model_dir,
    models_root,
    weights_fingerprint,
)
from wanflow.backends.validate import check_request, check_size, frames_for_duration

silence_torchvision_fallback()  # before anything here imports diffusers

_GENERATE_NAMES = ("Decoder", "GenerationRequest", "Generator", "MemoryOptions", "TextEncoder", "fit_image")

__all__ = [
    "BACKENDS",
    "DEFAULT_NEGATIVE_PROMPT",
    "BackendSpec",
    "InstalledModel",
    "backend_spec",
    "check_request",
    "check_size",
    "find_model",
    "frames_for_duration",
    "is_tiny",
    "list_models",
    "make_tiny_models",
    "model_dir",
    "models_root",
    "weights_fingerprint",
    *_GENERATE_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _GENERATE_NAMES:
        from wanflow.backends import generate

        return getattr(generate, name)
    raise AttributeError(f"module 'wanflow.backends' has no attribute {name!r}")
