"""`wanflow validate` of 2000 shots that name one large start image: the cost is bounded.

A start image is checked once per file (its header against the pixel limit, then one decode),
however many shots name it. Three storyboards of 2000 shots, each validated by a fresh
`wanflow validate` process as a pre-commit hook runs it: no image (the storyboard's own cost),
one 36-megapixel JPEG named by every shot (accepted), one 169-megapixel PNG named by every
shot (refused from its header, one line per shot). Target: under 10 s each. Writes its table
between the bench_validate markers of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import update_readme  # noqa: E402

TARGET_SECONDS = 10.0


def storyboard(folder: Path, shots: int, image: str | None) -> Path:
    line = f"        image: {image}\n" if image else ""
    body = "".join(f"      - id: s{n}\n        subject: a cat\n        duration: 2\n{line}" for n in range(shots))
    spec = folder / "specs" / f"film-{image or 'none'}.yaml"
    spec.write_text(f"wanflow: 1\ntitle: T\nlang: en\nscenes:\n  - id: a\n    shots:\n{body}", encoding="utf-8")
    return spec


def large_photo(path: Path, width: int, height: int) -> Path:
    """A photo-like JPEG (smooth gradients with noise), as big in pixels as a high-end camera's."""
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    noise = np.random.default_rng(0).integers(0, 24, (height, width), dtype=np.uint8)
    shape = (height, width)
    channels = [(rows + cols) / 2, np.broadcast_to(rows, shape), np.broadcast_to(cols, shape)]
    picture = np.stack(channels, axis=-1).astype(np.uint8) + noise[..., None]
    Image.fromarray(picture).save(path, quality=90)
    return path


def huge_png(path: Path, width: int, height: int) -> Path:
    """The issue's probe: a flat PNG of 169 megapixels that compresses to a few hundred KB."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        Image.new("L", (width, height)).save(path, optimize=True)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    return path


def validate_seconds(spec: Path, repeats: int) -> tuple[float, float, int, int]:
    """Median wall and CPU (user + system) seconds of a fresh `wanflow validate`, its exit code, its stderr lines.

    On a shared machine the wall time includes waiting for a core; the CPU time is the work."""
    walls, cpus, code, lines = [], [], 0, 0
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", "from wanflow.cli.app import main; main()", "validate", "--quiet", str(spec)],
            capture_output=True,
            text=True,
            cwd=spec.parent,
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code, lines = done.returncode, len(done.stderr.splitlines())
    return statistics.median(walls), statistics.median(cpus), code, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 shots and small images: checks the script works")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shots = 200 if args.quick else 2000
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as work:
        root = Path(work)
        (root / ".git").mkdir()
        (root / "specs").mkdir()
        photo = large_photo(root / "specs" / "photo.jpg", *((800, 600) if args.quick else (7200, 5000)))
        huge = huge_png(root / "specs" / "huge.png", *((8000, 6000) if args.quick else (13000, 13000)))
        cases = [
            (f"{shots} shots, no start image", storyboard(root, shots, None), "-"),
            (
                f"{shots} shots naming one {photo.stat().st_size / 1e6:.1f} MB, "
                f"{Image.open(photo).width * Image.open(photo).height / 1e6:.0f}-megapixel JPEG",
                storyboard(root, shots, photo.name),
                "accepted",
            ),
            (
                f"{shots} shots naming one {huge.stat().st_size / 1e3:.0f} KB, "
                f"{Image.open(huge).width * Image.open(huge).height / 1e6:.0f}-megapixel PNG",
                storyboard(root, shots, huge.name),
                "refused from its header",
            ),
        ]
        rows = []
        for name, spec, expect in cases:
            wall, cpu, code, lines = validate_seconds(spec, args.repeats)
            rows.append((name, wall, cpu, code, lines, expect))
            print(f"{name}: {wall:.2f} s wall, {cpu:.2f} s CPU, exit {code}, {lines} error lines", flush=True)
    report = [
        "## bench_validate",
        "",
        f"`wanflow validate --quiet` in a fresh process, median of {args.repeats}, on {platform.machine()} "
        f"with CPython {platform.python_version()} (2 cores shared with other work: the wall time includes "
        "waiting for a core, the CPU time is the work). A start image is read once per file: "
        "its header against the 40-megapixel limit, then one decode. Run: `python benchmarks/bench_validate.py`.",
        "",
        "| storyboard | wall (s) | CPU (s) | exit | error lines | target |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} ({expect}) | {wall:.2f} | {cpu:.2f} | {code} | {lines} | < {TARGET_SECONDS:g} s |"
            for name, wall, cpu, code, lines, expect in rows
        ),
    ]
    if not args.quick:
        update_readme("bench_validate", "\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main()
