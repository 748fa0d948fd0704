"""Time one generation per backend at official settings, with random weights (no downloads).

GPU: builds the real-size TI2V-5B and A14B transformers from their official configs on the
meta device, materialises them on the GPU in bf16 with random weights, and times one
denoising run (output_type="latent") plus peak memory, next to the official README numbers.
`--tiny`: the same code path on the tiny models on CPU (kept working by the test suite).

    python benchmarks/bench_backends.py              # GPU, all backends, 480p for A14B
    python benchmarks/bench_backends.py --tiny       # CPU smoke run
"""

from __future__ import annotations

import argparse
import time

import torch
from diffusers import (
    AutoencoderKLWan,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from PIL import Image

from wanflow.catalog import BACKENDS, BackendSpec

TEXT_DIM = 4096
# Official transformer shapes (Wan2.2 configs): dim = heads * head_dim.
REAL_SHAPES = {
    "ti2v-5b": dict(num_attention_heads=24, attention_head_dim=128, ffn_dim=14336, num_layers=30),
    "t2v-a14b": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40),
    "i2v-a14b": dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40),
}


def random_transformer(spec: BackendSpec, device: torch.device) -> WanTransformer3DModel:
    config = dict(
        patch_size=(1, 2, 2),
        in_channels=spec.transformer_in_channels(),
        out_channels=spec.z_dim,
        text_dim=TEXT_DIM,
        freq_dim=256,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
        **REAL_SHAPES[spec.id],
    )
    with torch.device("meta"):
        model = WanTransformer3DModel(**config)
    model = model.to_empty(device=device)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.02)
        for _name, buffer in model.named_buffers():
            if buffer.is_floating_point():
                buffer.zero_()
        model.rope = type(model.rope)(model.rope.attention_head_dim, model.rope.patch_size, model.rope.max_seq_len).to(
            device
        )
    return model.to(torch.bfloat16).eval()


def real_vae(spec: BackendSpec, device: torch.device) -> AutoencoderKLWan:
    if spec.z_dim == 48:
        vae = AutoencoderKLWan(
            base_dim=160,
            decoder_base_dim=256,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            scale_factor_spatial=16,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
        )
    else:
        vae = AutoencoderKLWan()
    return vae.to(device).eval()


def build_real(spec: BackendSpec, device: torch.device) -> WanPipeline | WanImageToVideoPipeline:
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=spec.shift)
    parts = dict(
        tokenizer=None,
        text_encoder=None,
        vae=real_vae(spec, device),
        scheduler=scheduler,
        transformer=random_transformer(spec, device),
        transformer_2=random_transformer(spec, device) if spec.experts == 2 else None,
        boundary_ratio=spec.boundary_ratio,
    )
    if spec.pipeline == "WanImageToVideoPipeline":
        return WanImageToVideoPipeline(image_encoder=None, image_processor=None, **parts)
    return WanPipeline(expand_timesteps=spec.expand_timesteps, **parts)


def run_once(
    pipe: WanPipeline | WanImageToVideoPipeline,
    spec: BackendSpec,
    width: int,
    height: int,
    frames: int,
    steps: int,
    device: torch.device,
    text_dim: int,
) -> float:
    dtype = pipe.transformer.dtype
    embeds = torch.randn(1, 512, text_dim, device=device, dtype=dtype)
    call = dict(
        prompt_embeds=embeds,
        negative_prompt_embeds=embeds,
        width=width,
        height=height,
        num_frames=frames,
        num_inference_steps=steps,
        guidance_scale=spec.guidance_high,
        output_type="latent",
        generator=torch.Generator("cpu").manual_seed(0),
    )
    if spec.experts == 2:
        call["guidance_scale_2"] = spec.guidance_low
    if spec.needs_image:
        call["image"] = Image.new("RGB", (width, height), "gray")
    pipe.set_progress_bar_config(disable=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.inference_mode():
        pipe(**call)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on CPU (smoke run)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--steps", type=int, default=None, help="override the official step count")
    parser.add_argument("--resolution", choices=["480p", "720p"], default="480p", help="A14B size")
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    for backend_id in args.backends.split(","):
        spec = BACKENDS[backend_id]
        if args.tiny:
            from wanflow.backends.tiny import build_tiny_pipeline

            device, pipe, text_dim = torch.device("cpu"), build_tiny_pipeline(spec), 32
            width, height, frames, steps = 64, 64, 9, args.steps or 2
            label = "tiny"
        else:
            device = torch.device("cuda")
            torch.cuda.reset_peak_memory_stats()
            pipe, text_dim = build_real(spec, device), TEXT_DIM
            label = "720p" if spec.id == "ti2v-5b" else args.resolution
            width, height = spec.default_size if label == "720p" else (832, 480)
            frames, steps = spec.frames, args.steps or spec.steps
        seconds = run_once(pipe, spec, width, height, frames, steps, device, text_dim)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
        rows.append(
            dict(
                backend=backend_id,
                size=f"{width}x{height}",
                frames=frames,
                steps=steps,
                seconds=seconds,
                peak_gb=peak,
                official_seconds=spec.official_seconds.get(label),
                official_peak_gb=spec.official_peak_gb.get(label),
                official_gpu=spec.official_gpu,
            )
        )
        del pipe
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(
        f"{'backend':10} {'size':>10} {'frames':>6} {'steps':>5} {'seconds':>9} {'peak GB':>8} | official s / GB (GPU)"
    )
    for row in rows:
        official = (
            f"{row['official_seconds']} / {row['official_peak_gb']} ({row['official_gpu']})" if not args.tiny else "-"
        )
        print(
            f"{row['backend']:10} {row['size']:>10} {row['frames']:>6} {row['steps']:>5} {row['seconds']:>9.2f} {row['peak_gb']:>8.1f} | {official}"
        )
    return rows


if __name__ == "__main__":
    main()
