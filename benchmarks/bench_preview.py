"""How long do a new user's first commands take: the README's main job, a re-run, a caption edit,
the animatic, and `plan --profile final`?

Every command runs as the README runs it, the `wanflow` script in a fresh process with no
Prefect server configured, the tiny models already written:
- the main job (`wanflow run specs/film.yaml --profile preview`) into a fresh cache, first with
  nothing kept (`wanflow server stop` before each: the server boots during the run, every
  library is imported), then with what the previous run kept (WANFLOW_SERVER_LINGER and
  WANFLOW_WARM_LINGER, the defaults): its temporary server and its warm process, once that
  process has imported its libraries (it does so at the lowest priority, on a core no run wants);
- a re-run that changes nothing;
- a caption-only edit: a copy of the spec with one caption changed, every clip in the cache, so
  only the cut is made again;
- the animatic (`--profile animatic`) into a fresh cache, the server kept;
- `wanflow plan specs/film.yaml --profile final` with no real model installed (it says so, exit 2).
Each row is the median of --samples runs with their range. Targets (issues: the first hour, the
animatic): the main job <= 12 s, a caption-only re-cut <= 5 s, the animatic <= 5 s, plan <= 2 s,
on 2 idle cores.

    python benchmarks/bench_preview.py               # 5 samples a row; updates benchmarks/README.md
    python benchmarks/bench_preview.py --samples 1   # a quick look, no README update
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import Spread, bench_env, timed, update_readme, wanflow, workspace

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5, help="runs per row (5: README update)")
    args = parser.parse_args()
    with workspace("wanflow-bench-preview-") as work:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
        env.update(bench_env(work))
        env.pop("WANFLOW_SERVER_LINGER", None)  # the defaults, as a user has them
        env.pop("WANFLOW_WARM_LINGER", None)
        wanflow(["models", "make-tiny"], env, ROOT)
        spec = _caption_edit(work)

        def run(name: str, profile: str = "preview", edited: Path | None = None) -> float:
            return timed(lambda: _run(env, work / f"cache-{name}", work / f"out-{name}", profile, edited))

        rows: dict[str, list[float]] = {name: [] for name in ROWS}
        phases, loads, waits = [], [], []
        for sample in range(args.samples):
            wanflow(["server", "stop"], env, ROOT)
            rows["cold"].append(run(f"cold{sample}"))
            waits.append(_until_warm(work))
            rows["warm"].append(run(f"warm{sample}"))
            phases.append(_phases(work / f"out-warm{sample}"))
            rows["rerun"].append(run(f"warm{sample}"))
            rows["recut"].append(run(f"warm{sample}", edited=spec))  # a new spec: its film is cut, from cached clips
            rows["animatic"].append(run(f"animatic{sample}", "animatic"))
            rows["plan"].append(timed(lambda: _plan_final(env, work)))
            loads.append(os.getloadavg()[0])
        wanflow(["server", "stop"], env, ROOT)
        report = _report({name: Spread(tuple(samples)) for name, samples in rows.items()}, phases, max(loads), waits)
        print(report)
        if args.samples >= 5:
            update_readme("bench_preview", report)


ROWS = {
    "cold": ("the main job, fresh cache, nothing kept (the server boots, every library is imported)", ""),
    "warm": ("the main job, fresh cache, the server and the warm process kept by the run before", "<= 12"),
    "rerun": ("a re-run that changes nothing", "<= 5"),
    "recut": ("a caption-only edit (every clip cached: the cut alone)", "<= 5"),
    "animatic": ("the animatic (`--profile animatic`), fresh cache, server and warm process kept", "<= 5"),
    "plan": ("`wanflow plan --profile final`, no real model installed", "<= 2"),
}


def _run(env: dict[str, str], cache: Path, out: Path, profile: str = "preview", spec: Path | None = None) -> None:
    spec = spec or ROOT / "specs" / "film.yaml"
    wanflow(["run", str(spec), "--profile", profile, "--cache", str(cache), "--out", str(out)], env, ROOT)


def _until_warm(work: Path, timeout: float = 120) -> float:
    """Seconds from the end of a run until the warm process it left listens (its socket appears)."""
    started = time.monotonic()
    sockets = work / "run" / f"wanflow-warm-{os.getuid()}"
    while not any(sockets.glob("*.sock")):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"no warm process listened in {sockets} within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


def _caption_edit(work: Path) -> Path:
    """specs/film.yaml with one caption changed, beside it (so its relative paths hold)."""
    original = ROOT / "specs" / "film.yaml"
    text = original.read_text(encoding="utf-8")
    edited = text.replace("caption: 米勒星球", "caption: 米勒星球，正午", 1)
    if edited == text:
        raise SystemExit("specs/film.yaml has no `caption: 米勒星球` to edit: update bench_preview")
    spec = ROOT / "specs" / f".bench-caption-{os.getpid()}.yaml"
    spec.write_text(edited, encoding="utf-8")
    _cleanup.append(spec)
    return spec


_cleanup: list[Path] = []


def _plan_final(env: dict[str, str], work: Path) -> None:
    """Exit 2 ("not installed") is the expected answer on a machine without the real weights."""
    command = [sys.executable, "-c", "from wanflow.cli.app import main; main()", "plan", "specs/film.yaml"]
    done = subprocess.run(
        [*command, "--profile", "final"],
        env={**env, "WANFLOW_MODELS": str(work / "no-models")},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 2 or "not installed" not in done.stdout + done.stderr:
        raise RuntimeError(
            f"plan --profile final answered {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        )


def _phases(out: Path) -> dict[str, float]:
    return json.loads((out / "film" / "run.json").read_text(encoding="utf-8"))["phases"]


def _report(rows: dict[str, Spread], phases: list[dict[str, float]], load: float, waits: list[float]) -> str:
    parts = {name: statistics.median(p[name] for p in phases) for name in phases[0]}
    samples = len(rows["cold"].samples)
    lines = [
        "## bench_preview",
        "",
        "A new user's first commands as the README runs them (tiny models written, no Prefect server",
        f"configured), {os.cpu_count()} CPU cores, the highest 1-minute load average {load:.1f} (the targets are for",
        f"idle cores); median (range) of {samples} runs. Run: `python benchmarks/bench_preview.py`.",
        "",
        "| command | seconds | target |",
        "|---|---|---|",
        *(f"| {ROWS[name][0]} | {spread} | {ROWS[name][1]} |" for name, spread in rows.items()),
        "",
        "Inside the main job (run.json, medians): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items())
        + "; the rest is the flow run's start and end and, with nothing kept, Python's start and the",
        "imports of Prefect, torch, diffusers and transformers (about 6 s of one core) and the boot of Prefect's",
        "temporary server (about 5 s of the other core). A run that renders leaves both for the next one: the",
        "server, and a warm process that imports the libraries at the lowest priority and forks the next run",
        f"(it listened {statistics.median(waits):.1f} s, median, after the nothing-kept run ended; the bench waits for it,",
        "as a user reading the run's output would). A re-run that changes nothing, and a caption-only edit, start",
        "no server and load no model: the CLI answers from the cache, or cuts in-process. The animatic loads no",
        "model: it draws every clip (Pillow) and cuts the film.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        main()
    finally:
        for path in _cleanup:
            path.unlink(missing_ok=True)
