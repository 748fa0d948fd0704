"""Tiny models whose experts quantize: the tiny layout with GGUF-friendly widths, and their GGUF files.

GGUF quantizes rows of whole blocks (32 values for Q8_0, 256 for the K-quants); the preview's
tiny transformers are 24 wide, so nearly nothing in them would be quantized. These keep every
tiny component but give the experts a width of 256, then write each expert as GGUF files
with `write_gguf`, laid out as the real ones are (`quantized.gguf_path`). Tests and the
CPU benchmark row load them through diffusers' own GGUF path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel

from wanflow.backends.gguf_files import write_gguf
from wanflow.backends.quantized import EXPERT_COMPONENTS, gguf_path
from wanflow.backends.quiet import quiet_progress_bars
from wanflow.backends.tiny import TEXT_DIM, write_tiny_model
from wanflow.catalog import BACKENDS

WIDTH = 256  # heads x head dim and the feed-forward width: whole Q8_0 and K-quant blocks


def _wide_transformer(backend_id: str, seed: int) -> WanTransformer3DModel:
    spec = BACKENDS[backend_id]
    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=WIDTH // 2,
        in_channels=spec.transformer_in_channels(),
        out_channels=spec.z_dim,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=WIDTH,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()


def write_tiny_gguf_model(backend_id: str, root: Path, quants: tuple[str, ...] = ("q8_0", "q4_k_s")) -> Path:
    """`<root>/<id>/` (the tiny model with wide experts) and its GGUF experts beside it; returns the folder."""
    folder = write_tiny_model(backend_id, root / backend_id)
    with torch.no_grad(), quiet_progress_bars():
        for index, component in enumerate(EXPERT_COMPONENTS[: BACKENDS[backend_id].experts]):
            expert = _wide_transformer(backend_id, seed=100 + index)
            shutil.rmtree(folder / component)
            expert.save_pretrained(folder / component, safe_serialization=True)
            for quant in quants:
                write_gguf(expert, gguf_path(root, backend_id, component, quant), quant)
    return folder
