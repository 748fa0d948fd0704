"""Wan2.2 through diffusers: the only package that imports torch, diffusers and transformers.

The store and validation names import quickly; the generation phases and the tiny models
(which pull in torch and diffusers, seconds of start-up) load on first use, so
`wanflow models list` and the planner stay fast.
"""

from __future__ import annotations

from typing import Any

from wanflow.backends.quiet import silence_torchvision_fallback
from wanflow.backends.store import (
    InstalledModel,
    find_model,
    is_tiny,
    list_models,
    model_dir,
    models_root,
    weights_fingerprint,
)
from wanflow.backends.validate import check_request, check_size, frames_for_duration
from wanflow.catalog import BACKENDS, DEFAULT_NEGATIVE_PROMPT, BackendSpec, backend_spec

silence_torchvision_fallback()  # before anything here imports diffusers

_LAZY = {
    "Decoder": "generate",
    "PromptEmbeds": "generate",
    "Generator": "generate",
    "TextEncoder": "generate",
    "fit_image": "generate",
    "make_tiny_models": "tiny",
}

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
    "model_dir",
    "models_root",
    "weights_fingerprint",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"wanflow.backends.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'wanflow.backends' has no attribute {name!r}")
