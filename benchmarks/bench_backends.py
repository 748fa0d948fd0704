"""Time one generation per backend at official settings, with random weights (no downloads).

`--real-size` (a CUDA GPU): builds the real-size models from the official configs in
wanflow/backends/official/ with random weights (each parameter in the dtype real loading gives
it), runs them through wanflow's own Generator at the official settings (bf16, model offload,
official size, frames and steps) and records seconds per step, total seconds and peak GPU
memory beside the official single-GPU table and wanflow's real-size estimate, then the
speed-up of each step cache. The results replace the bench_backends section of
benchmarks/README.md.
`--tiny`: the same code on the tiny models' configs on the CPU (kept working by the tests).

    python benchmarks/bench_backends.py --real-size                    # all backends, A14B at 480p
    python benchmarks/bench_backends.py --real-size --resolution 720p --backends t2v-a14b
    python benchmarks/bench_backends.py --tiny                         # CPU smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import torch
from diffusers import WanImageToVideoPipeline, WanPipeline
from PIL import Image

from wanflow.atomic import write_text_atomic
from wanflow.backends.generate import Generator, PromptEmbeds
from wanflow.backends.layout import declared_module_class, official_folder, read_config
from wanflow.backends.realsize import GIB, random_component, real_size
from wanflow.backends.tiny import write_tiny_model
from wanflow.catalog import BACKENDS, STEP_CACHES, BackendSpec
from wanflow.take import RenderSettings, TakeSettings

GenerateCall = tuple[TakeSettings, PromptEmbeds, Image.Image | None]  # one Generator.generate call

START, END = "<!-- bench_backends:start -->", "<!-- bench_backends:end -->"
TINY_SIZE, TINY_FRAMES = (64, 64), 9


@dataclass(frozen=True)
class Measurement:
    backend: str
    step_cache: str | None
    size: str
    frames: int
    steps: int
    seconds: float  # one whole generation
    seconds_per_step: float  # median over the steps
    peak_gib: float  # torch.cuda.max_memory_allocated; nan on the CPU


def random_pipeline(
    spec: BackendSpec, folder: Path, dtype: torch.dtype, device: torch.device
) -> WanPipeline | WanImageToVideoPipeline:
    """The generator's pipeline (no text encoder; the VAE only for image models) with random weights."""
    index = read_config(folder, "pipeline")
    experts = [
        random_component(folder, name, dtype, device) for name in ("transformer", "transformer_2")[: spec.experts]
    ]
    parts = dict(
        tokenizer=None,
        text_encoder=None,
        vae=random_component(folder, "vae", torch.float32, device) if spec.accepts_image else None,
        scheduler=declared_module_class(folder, "scheduler").from_pretrained(folder / "scheduler"),
        transformer=experts[0],
        transformer_2=experts[1] if len(experts) == 2 else None,
        boundary_ratio=index.get("boundary_ratio"),
        expand_timesteps=index.get("expand_timesteps", False),
    )
    if spec.pipeline == "WanImageToVideoPipeline":
        return WanImageToVideoPipeline(image_encoder=None, image_processor=None, **parts)
    return WanPipeline(**parts)


def measure(generator: Generator, call: GenerateCall, label: str, step_cache: str | None) -> Measurement:
    """One generation through wanflow's Generator, timed per step."""
    device = generator.device
    ticks: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    take, embeds, image = call
    generator.generate(take, embeds, image, progress=lambda _step, _total: ticks.append(time.perf_counter()))
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    steps = [b - a for a, b in zip([start, *ticks], ticks)]
    peak = torch.cuda.max_memory_allocated() / GIB if device.type == "cuda" else float("nan")
    return Measurement(generator.spec.id, step_cache, label, take.frames, take.steps, seconds, median(steps), peak)


def bench_backend(
    spec: BackendSpec, folder: Path, device: torch.device, size: tuple[int, int], frames: int, steps: int, step_caches
) -> list[Measurement]:
    """The uncached run, then one per step cache, on one random-weight pipeline."""
    offload = device.type == "cuda"  # the official single-GPU settings: --offload_model --convert_model_dtype
    pipe = random_pipeline(spec, folder, torch.bfloat16 if offload else torch.float32, device)
    text_dim = read_config(folder, "transformer")["text_dim"]
    embeds = torch.randn(512, text_dim, generator=torch.Generator().manual_seed(0))
    width, height = size
    take = TakeSettings(
        backend=spec.id,
        seed=0,
        width=width,
        height=height,
        frames=frames,
        fps=spec.fps,
        steps=steps,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        shift=spec.shift,
        boundary_ratio=spec.boundary_ratio,
        fit="cover",
    )
    call = (take, PromptEmbeds(embeds, embeds), Image.new("RGB", size, "gray") if spec.needs_image else None)
    rows = []
    for step_cache in (None, *step_caches):
        options = RenderSettings(
            device=str(device), dtype="bf16" if offload else "fp32", offload=offload, step_cache=step_cache
        )
        generator = Generator.from_pipeline(spec.id, folder, pipe, options)
        rows.append(measure(generator, call, f"{width}x{height}", step_cache))
        if step_cache is not None:
            for transformer in generator.transformers():
                transformer.disable_cache()  # the next run starts uncached
    return rows


def official_columns(row: Measurement, resolution: str) -> tuple[str, str]:
    """(official seconds / GiB on its GPU, wanflow's real-size estimate in GiB)."""
    spec = BACKENDS[row.backend]
    label = "720p" if row.backend == "ti2v-5b" else resolution
    official = f"{spec.official_seconds[label]} s / {spec.official_peak_gb[label]} GiB ({spec.official_gpu})"
    width, height = (int(v) for v in row.size.split("x"))
    size = real_size(row.backend, dtype="bf16", offload=True, text_encoder_cpu=row.backend == "ti2v-5b")
    return official, f"{size.peak_gpu_bytes(width, height, row.frames) / GIB:.1f}"


def table(rows: list[Measurement], resolution: str, device_name: str) -> str:
    lines = [
        START,
        "## bench_backends",
        "",
        f"Real-size random-weight models on {device_name}, bf16, model CPU offload, through wanflow's Generator. "
        f"Run: `python benchmarks/bench_backends.py --real-size --resolution {resolution}`.",
        "",
        "| backend | step cache | size | frames | steps | s/step | total s | peak GiB | official s / GiB | estimate GiB | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    uncached = {row.backend: row.seconds for row in rows if row.step_cache is None}
    for row in rows:
        official, estimate = official_columns(row, resolution)
        lines.append(
            f"| {row.backend} | {row.step_cache or '-'} | {row.size} | {row.frames} | {row.steps} | "
            f"{row.seconds_per_step:.2f} | {row.seconds:.1f} | {row.peak_gib:.1f} | {official} | {estimate} | "
            f"{uncached[row.backend] / row.seconds:.2f} |"
        )
    lines += [
        "",
        "Random weights: the step caches' skip decisions (and so their speed-ups) differ on real weights.",
        END,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8")
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_text_atomic(readme, text)


def main(argv: list[str] | None = None) -> list[Measurement]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--real-size", action="store_true", help="real-size models on a CUDA GPU")
    mode.add_argument("--tiny", action="store_true", help="tiny models on the CPU (smoke run)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--steps", type=int, default=None, help="override the official step count")
    parser.add_argument("--resolution", choices=["480p", "720p"], default="480p", help="A14B size")
    parser.add_argument("--step-caches", default=",".join(STEP_CACHES), help="comma-separated; '' for none")
    parser.add_argument("--readme", type=Path, default=Path(__file__).parent / "README.md")
    args = parser.parse_args(argv)
    if args.real_size and not torch.cuda.is_available():
        print(
            "bench_backends --real-size needs a CUDA GPU (about 80 GB for the A14B models at 720p, 24 GB for "
            "TI2V-5B); none is visible here. `--tiny` runs the same code on the CPU.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    step_caches = [kind for kind in args.step_caches.split(",") if kind]
    rows: list[Measurement] = []
    with tempfile.TemporaryDirectory() as scratch:
        for backend_id in args.backends.split(","):
            spec = BACKENDS[backend_id]
            if args.tiny:
                folder = write_tiny_model(backend_id, Path(scratch) / backend_id)
                device, size, frames, steps = torch.device("cpu"), TINY_SIZE, TINY_FRAMES, args.steps or 2
            else:
                folder, device = official_folder(backend_id), torch.device("cuda")
                size = spec.default_size if spec.id == "ti2v-5b" or args.resolution == "720p" else (832, 480)
                frames, steps = spec.frames, args.steps or spec.steps
            rows += bench_backend(spec, folder, device, size, frames, steps, step_caches)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    for row in rows:
        print(
            f"{row.backend:10} {row.step_cache or '-':12} {row.size:>10} {row.frames:>4}f {row.steps:>3} steps "
            f"{row.seconds_per_step:7.2f} s/step {row.seconds:8.1f} s  peak {row.peak_gib:5.1f} GiB"
        )
    if args.real_size:
        update_readme(args.readme, table(rows, args.resolution, torch.cuda.get_device_name()))
    return rows


if __name__ == "__main__":
    main()
