"""Tiny random-weight Wan2.2 models: the real classes and folder layout, small enough for CPU.

They keep the real loading and generation code under test and power the offline preview;
their pictures are noise. Weights are seeded, so the same bytes (and fingerprint) come out
every time. Folders carry a `wanflow_tiny.json` marker so validation knows the size rules
of a tiny model are looser (any multiple of the stride).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLWan,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import T5TokenizerFast, UMT5Config, UMT5EncoderModel

from wanflow.backends.quiet import quiet_progress_bars
from wanflow.backends.store import TINY_FORMAT, TINY_MARKER, models_root
from wanflow.catalog import BACKENDS, DEFAULT_NEGATIVE_PROMPT, MAX_FRAMES, BackendSpec
from wanflow.nofollow import refuse_links
from wanflow.storyboard.bounds import MAX_RENDER_SIDE

TEXT_DIM = 32  # UMT5 d_model == transformer text_dim, as 4096 is for the real models
PATCH = (1, 2, 2)  # the official (time, height, width) patch


def rope_positions() -> int:
    """Rotary positions per axis that place every clip `validate` accepts: the longest shot
    (MAX_FRAMES) and the largest side a profile may ask for (MAX_RENDER_SIDE), on every backend.
    The table is a few KB whatever its length; only the positions a clip uses cost compute."""
    latent_frames = max((MAX_FRAMES - 1) // spec.vae_stride[0] + 1 for spec in BACKENDS.values())
    latent_side = max(MAX_RENDER_SIDE // spec.vae_stride[1] // min(PATCH[1:]) for spec in BACKENDS.values())
    return max(latent_frames // PATCH[0], latent_side)


# Characters the tiny tokenizer knows, one token each: printable ASCII, the CJK Unified
# Ideographs block and CJK punctuation, so zh and en prompts both map to distinct ids.
_CJK_PUNCTUATION = "，。、：；！？“”‘’（）《》【】—…·"


def _vocab() -> list[tuple[str, float]]:
    pieces = ["<pad>", "</s>", "<unk>", "▁"]
    pieces += [chr(c) for c in range(33, 127)]
    pieces += [chr(c) for c in range(0x4E00, 0xA000)]
    pieces += list(_CJK_PUNCTUATION)
    return [(piece, 0.0 if i < 3 else -1.0) for i, piece in enumerate(pieces)]


def _tokenizer() -> T5TokenizerFast:
    return T5TokenizerFast(vocab=_vocab(), extra_ids=0, model_max_length=512)


def _text_encoder(vocab_size: int) -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=vocab_size,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
    )
    return UMT5EncoderModel(config).eval()


def _transformer(spec: BackendSpec) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=PATCH,
        num_attention_heads=1,  # CPU attention pays a softmax per head: one head of 24 is ~30% faster than 2 of 12
        attention_head_dim=24,
        in_channels=spec.transformer_in_channels(),
        out_channels=spec.z_dim,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=rope_positions(),
    ).eval()


def _vae(spec: BackendSpec, generator: torch.Generator) -> AutoencoderKLWan:
    # Non-trivial latent statistics so a wrong (de)normalisation shows up in tests.
    mean = (torch.rand(spec.z_dim, generator=generator) - 0.5).tolist()
    std = (torch.rand(spec.z_dim, generator=generator) + 0.5).tolist()
    common = dict(
        base_dim=2,
        z_dim=spec.z_dim,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=0,  # with base_dim 2: a 256x144 preview shot decodes in ~0.7 s, not ~10
        temperal_downsample=[False, True, True],
        latents_mean=[round(v, 4) for v in mean],
        latents_std=[round(v, 4) for v in std],
        scale_factor_temporal=spec.vae_stride[0],
        scale_factor_spatial=spec.vae_stride[1],
    )
    if spec.z_dim == 48:  # the Wan2.2 VAE: 2x2 pixel patches in front of a 4x8x8 encoder
        common.update(in_channels=12, out_channels=12, is_residual=True, patch_size=2)
    return AutoencoderKLWan(**common).eval()


def _scheduler(spec: BackendSpec) -> UniPCMultistepScheduler:
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=spec.shift,
    )


def build_tiny_pipeline(spec: BackendSpec, seed: int = 0) -> WanPipeline | WanImageToVideoPipeline:
    """A random-weight pipeline of the backend's real class and component layout."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    tokenizer = _tokenizer()
    components = dict(
        tokenizer=tokenizer,
        text_encoder=_text_encoder(len(tokenizer)),
        vae=_vae(spec, generator),
        scheduler=_scheduler(spec),
        transformer=_transformer(spec),
        transformer_2=_transformer(spec) if spec.experts == 2 else None,
        boundary_ratio=spec.boundary_ratio,
    )
    if spec.pipeline == "WanImageToVideoPipeline":
        return WanImageToVideoPipeline(image_encoder=None, image_processor=None, **components)
    return WanPipeline(expand_timesteps=spec.expand_timesteps, **components)


def write_tiny_model(backend_id: str, out_dir: Path) -> Path:
    """Write one tiny model to `out_dir` atomically (a temp folder renamed into place)."""
    spec = BACKENDS[backend_id]
    seed = list(BACKENDS).index(backend_id)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        with torch.no_grad(), quiet_progress_bars():
            build_tiny_pipeline(spec, seed).save_pretrained(staging, safe_serialization=True)
        marker = {
            "format": TINY_FORMAT,
            "backend": backend_id,
            "seed": seed,
            "negative_prompt": DEFAULT_NEGATIVE_PROMPT,
        }
        (staging / TINY_MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def write_tiny_models(out_dir: Path) -> dict[str, Path]:
    """All three tiny models under `out_dir/<backend-id>/`."""
    return {backend_id: write_tiny_model(backend_id, out_dir / backend_id) for backend_id in BACKENDS}


def make_tiny_models(out_dir: Path | None = None) -> dict[str, Path]:
    """Write the three tiny models into `out_dir` (default `<models root>/tiny/`), never through a link."""
    if out_dir is None:
        root = models_root()
        refuse_links(root, *(root / "tiny" / backend_id for backend_id in BACKENDS))
    return write_tiny_models(out_dir or models_root() / "tiny")
