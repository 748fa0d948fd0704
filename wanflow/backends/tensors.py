"""Tensors in the cache: prompt embeddings and latents as safetensors files (the store knows no codec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from wanflow.cache import ArtifactStore

TENSORS_NAME = "tensors.safetensors"


def put_tensors(
    store: ArtifactStore, kind: str, key: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Named tensors (any dtype, moved to the CPU) as one file of a new entry; returns the entry dir."""

    def write(path: Path) -> None:
        save_file({name: tensor.to("cpu").contiguous() for name, tensor in tensors.items()}, path)

    return store.put_data(kind, key, TENSORS_NAME, write, meta)


def get_tensors(
    store: ArtifactStore, kind: str, key: str, device: str = "cpu"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The stored tensors and their meta, or None when missing or corrupt."""
    return store.get_data(kind, key, TENSORS_NAME, lambda path: load_file(path, device=device))
