"""How much does wanflow's orchestration cost, and how much does its cache save?

Three ratios, each measured within one run of this script on the same machine, with a real
`prefect server start` on 127.0.0.1 so every Prefect run pays the same server costs:

1. an 8-shot film through `wanflow run` vs a bare diffusers loop rendering the same shots
   (same tiny models, sizes, frames, steps, seeds): the orchestration's overhead;
2. a no-change re-run vs Prefect's own floor (a trivial flow against the same server);
3. a one-shot edit re-run vs the full run.

On a CPU this uses the tiny random-weight models, so model work is small and the ratios
show the orchestration at its most visible. Results go to benchmarks/README.md.

    python benchmarks/bench_run.py            # full measurement, updates benchmarks/README.md
    python benchmarks/bench_run.py --quick    # 3 shots, no README update (CI keeps it working)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from harness import bench_env, ratio_table, start_prefect_server, timed, update_readme, wanflow, workspace

ROOT = Path(__file__).resolve().parent.parent

TRIVIAL_FLOW = """
from prefect import flow
@flow
def trivial() -> int:
    return 1
trivial()
"""

BARE_LOOP = """
import json, sys
import numpy as np
import torch
from diffusers import WanImageToVideoPipeline, WanPipeline
from diffusers.utils import export_to_video
from PIL import Image

jobs = json.loads(sys.argv[1])
pipes, last_frames = {}, {}
for job in jobs:
    cls = WanImageToVideoPipeline if job["upstream"] else WanPipeline
    key = (cls.__name__, job["model_dir"])
    if key not in pipes:
        pipes[key] = cls.from_pretrained(job["model_dir"])
    kwargs = dict(prompt=job["prompt"], negative_prompt=job["negative"], width=job["width"], height=job["height"],
                  num_frames=job["frames"], num_inference_steps=job["steps"], guidance_scale=job["guidance_high"],
                  generator=torch.Generator().manual_seed(job["seed"]), output_type="np")
    if job["two_experts"]:
        kwargs["guidance_scale_2"] = job["guidance_low"]
    if job["upstream"]:
        kwargs["image"] = Image.fromarray(last_frames[job["upstream"]])
    frames = pipes[key](**kwargs).frames[0]
    last_frames[job["id"]] = (np.clip(frames[-1], 0, 1) * 255).astype(np.uint8)
    export_to_video(frames, job["out"], fps=job["fps"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 shots, one run of each, no README update")
    args = parser.parse_args()
    shots, repeats = (3, 1) if args.quick else (8, 3)
    with workspace("wanflow-bench-run-") as work:
        env = bench_env(work)
        server = None
        try:
            wanflow(["models", "make-tiny"], env, work)
            server, env["PREFECT_API_URL"] = start_prefect_server(env, work)
            spec = _write_spec(work, shots)

            def run(index: int) -> None:
                wanflow(
                    ["run", str(spec), "--cache", str(work / f"cache{index}"), "--out", str(work / f"out{index}")],
                    env,
                    work,
                )

            results: dict[str, list[float]] = {
                name: [] for name in ("full_run", "bare_loop", "rerun", "prefect_floor", "edit_rerun")
            }
            for index in range(repeats):  # interleaved, so a drift of the machine weighs on both sides alike
                results["full_run"].append(timed(lambda: run(index)))
                results["bare_loop"].append(timed(lambda: _bare_loop(spec, env, work)))
            for _ in range(repeats):
                results["rerun"].append(timed(lambda: run(0)))
                results["prefect_floor"].append(timed(lambda: _python(TRIVIAL_FLOW, env, work)))
            for index in range(repeats):
                _edit_one_shot(spec, index)
                results["edit_rerun"].append(timed(lambda: run(0)))
            print("all runs (s):", {name: [round(t, 2) for t in times] for name, times in results.items()})
            report = _report({name: statistics.median(times) for name, times in results.items()}, shots, repeats)
            print(report)
            if not args.quick:
                update_readme("bench_run", report)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)


def _write_spec(work: Path, shots: int) -> Path:
    lines = ["wanflow: 1", "title: Benchmark", "lang: zh", "scenes:", "  - id: bench", "    shots:"]
    for index in range(shots):
        lines += [
            f"      - id: s{index}",
            f"        subject: 第{index}位宇航员",
            "        action: 在浅水中缓慢前行",
            "        scene: 广阔的浅水域",
            "        duration: 1",
            "        look: { shot_size: 全景, lighting: [边缘光] }",
        ]
        if index % 4 == 3:
            lines.append(f"        continue_from: s{index - 1}")
    spec = work / "specs" / "bench.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def _edit_one_shot(spec: Path, index: int) -> None:
    """Shot s0's subject, changed: one shot to render again (a new text for each repeat)."""
    text = spec.read_text(encoding="utf-8")
    before = "第0位宇航员" if index == 0 else f"第0位潜水员{index - 1}"
    spec.write_text(text.replace(f"subject: {before}", f"subject: 第0位潜水员{index}", 1), encoding="utf-8")


def _bare_loop(spec: Path, env: dict[str, str], work: Path) -> None:
    """Render the same shots the plan would, with nothing but diffusers calls in one loop."""
    os.environ["WANFLOW_MODELS"] = env["WANFLOW_MODELS"]
    from wanflow.plan.jobs import make_plan
    from wanflow.storyboard.load import load_film

    plan = make_plan(load_film(spec), "preview")
    out = work / "bare"
    out.mkdir(exist_ok=True)
    jobs = [
        {
            "id": job.shot_id,
            "model_dir": str(job.model_dir),
            "prompt": job.compiled.prompt,
            "negative": job.compiled.negative,
            "width": job.settings.width,
            "height": job.settings.height,
            "frames": job.settings.frames,
            "steps": job.settings.steps,
            "guidance_high": job.settings.guidance_high,
            "guidance_low": job.settings.guidance_low,
            "two_experts": job.backend != "ti2v-5b",
            "seed": job.settings.seed,
            "fps": job.settings.fps,
            "upstream": job.upstream,
            "out": str(out / f"{job.shot_id}.mp4"),
        }
        for job in plan.jobs
    ]
    _python(BARE_LOOP, env, work, json.dumps(jobs))


def _python(code: str, env: dict[str, str], cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd, check=True, capture_output=True)


def _report(results: dict[str, float], shots: int, repeats: int) -> str:
    rows = [
        (
            f"{shots}-shot film: `wanflow run` vs a bare diffusers loop",
            results["full_run"],
            results["bare_loop"],
            "<= 1.15",
        ),
        ("no-change re-run vs Prefect's floor (trivial flow)", results["rerun"], results["prefect_floor"], ""),
        ("one-shot edit re-run vs the full run", results["edit_rerun"], results["full_run"], ""),
    ]
    lines = [
        "## bench_run",
        "",
        f"Tiny random-weight models on the CPU ({os.cpu_count()} cores), preview profile (256x144, 4 steps, 1 s shots,",
        "two of them continuing the previous one), every command a fresh process against one real",
        "`prefect server start` on 127.0.0.1; each full run into a fresh cache, alternating with the",
        f"bare loop; medians of {repeats}. Model work is small here, so the ratios show the orchestration",
        "at its most visible. Run: `python benchmarks/bench_run.py`.",
        "",
        *ratio_table(rows, "wanflow (s)"),
    ]
    lines += [
        "",
        "The bare loop only renders clips; `wanflow run` also cuts the film (titles, transitions,",
        "soundtrack), writes the report and reports every shot to Prefect. A no-change re-run loads no",
        "model and does not cut again. wanflow runs torch on one CPU thread (`WANFLOW_CPU_THREADS`: two",
        "threads beside other work on 2 cores ran twice as slow), the bare loop on torch's default (one",
        "per core). Prefect's floor is a flow with Prefect's defaults: it spends about 1 s at its end",
        "joining its heartbeat thread, which `wanflow run` turns off (it beats from a thread of its own,",
        "which nothing joins).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
