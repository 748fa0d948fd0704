"""Memory plans and the turbo tier on tiny models on the CPU: how far each storage moves the
pictures, and how much less work the turbo tier does than the final one.

On the tiny T2V-A14B model whose experts quantize (`wanflow.backends.tiny_gguf`: 256 wide),
one 64x64, 9-frame, 8-step shot per plan through wanflow's Generator at bf16 compute, decoded
by the tiny VAE: PSNR of each plan's frames against the bf16 `resident` ones (`offload` and
`stream` only move weights, so theirs is identical). Then the same model at the final tier's
settings (40 steps, guidance 4 / 3: 80 transformer passes) and the turbo tier's (4 steps,
guidance 1, Euler: 4 passes): seconds each and their ratio, medians of 3. The pictures are
noise; the numbers say how much the storage perturbs a forward pass and how the work scales.
The GPU rows (real sizes, seconds per step and peak memory per plan against the estimate) are
`bench_backends.py --real-size --card GB`'s.

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy
import torch

from wanflow.atomic import write_text_atomic
from wanflow.backends.generate import Decoder, Generator, PromptEmbeds
from wanflow.backends.tiny_gguf import write_tiny_gguf_model
from wanflow.catalog import BACKENDS, LIGHTNING
from wanflow.take import RenderSettings, TakeSettings

START, END = "<!-- bench_memory:start -->", "<!-- bench_memory:end -->"
BACKEND = "t2v-a14b"
PLANS = ("resident", "offload", "stream", "fp8", "fp8-stream", "gguf-q8", "gguf-q4")


def take(**changes: object) -> TakeSettings:
    spec = BACKENDS[BACKEND]
    values: dict[str, object] = dict(
        backend=BACKEND,
        seed=3,
        width=64,
        height=64,
        frames=9,
        fps=spec.fps,
        steps=8,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        shift=spec.shift,
        boundary_ratio=spec.boundary_ratio,
    )
    values.update(changes)
    return TakeSettings(**values)  # type: ignore[arg-type]


def psnr(a: numpy.ndarray, b: numpy.ndarray) -> float:
    mse = numpy.mean((a.astype(numpy.float64) - b.astype(numpy.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * numpy.log10(255.0**2 / mse))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=Path(__file__).parent / "README.md")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    embeds = PromptEmbeds(torch.randn(512, 32, generator=torch.Generator().manual_seed(1)), torch.zeros(512, 32))
    settings = RenderSettings(device="cpu", dtype="bf16")
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_tiny_gguf_model(BACKEND, Path(scratch))
        decoder = Decoder.load(folder)
        frames = {}
        for plan in PLANS:
            generator = Generator.load(BACKEND, folder, settings, plan)
            frames[plan] = decoder.decode(generator.generate(take(memory=plan), embeds))
        for plan in PLANS[1:]:
            results[f"psnr {plan}"] = psnr(frames[plan], frames["resident"])
        generator = Generator.load(BACKEND, folder, settings)
        tiers = {
            "final": take(steps=BACKENDS[BACKEND].steps),
            "turbo": take(
                steps=LIGHTNING.steps,
                guidance_high=LIGHTNING.guidance,
                guidance_low=LIGHTNING.guidance,
                shift=LIGHTNING.shift,
                sampler=LIGHTNING.sampler,
            ),
        }
        for name, settings_of_tier in tiers.items():
            timings = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                generator.generate(settings_of_tier, embeds)
                timings.append(time.perf_counter() - start)
            results[f"seconds {name}"] = median(timings)
    results["turbo speed-up"] = results["seconds final"] / results["seconds turbo"]
    for name, value in results.items():
        print(f"{name:20} {value:8.2f}")
    write_section(args.readme, results)
    return results


def write_section(readme: Path, results: dict[str, float]) -> None:
    def shown(value: float) -> str:
        return "identical" if value == float("inf") else f"{value:.1f} dB"

    rows = "\n".join(f"| {plan} | {shown(results['psnr ' + plan])} |" for plan in PLANS[1:])
    section = f"""{START}
## bench_memory

Tiny T2V-A14B with 256-wide experts (`wanflow.backends.tiny_gguf`), 64x64, 9 frames, 8 steps,
bf16 compute, 1 CPU thread, through wanflow's Generator; frames decoded by the tiny VAE. Run:
`python benchmarks/bench_memory.py`.

| memory plan | PSNR of its frames against `resident` (bf16) |
|---|---|
{rows}

| tier | transformer passes | seconds (median of 3) |
|---|---|---|
| final (40 steps, guidance 4 / 3) | 80 | {results["seconds final"]:.2f} |
| turbo (4 steps, guidance 1, Euler) | 4 | {results["seconds turbo"]:.2f} |

Turbo against final: {results["turbo speed-up"]:.1f}x faster on the tiny model (the passes alone
give 20x; the rest is per-step work beside the transformer, UniPC's multistep updates among it,
and the noise of a shared 2-core machine).
The GPU rows (real-size plans against the estimate on a capped card) are not filled: no GPU
was available to the task that wrote them; `bench_backends.py --real-size` fills them.
{END}"""
    text = readme.read_text(encoding="utf-8")
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    write_text_atomic(readme, text)


if __name__ == "__main__":
    main()
