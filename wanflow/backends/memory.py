"""Giving memory back after a model is dropped: Python's garbage, then CUDA's cached blocks."""

from __future__ import annotations

import gc

import torch


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
