"""benchmarks/bench_assemble.py --quick keeps working and updates only its own README section."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_assemble.py"


def test_quick_benchmark_writes_its_section_and_keeps_the_others(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n"
        "<!-- bench_assemble:start -->\nstale\n<!-- bench_assemble:end -->\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--readme", str(readme)], capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr
    assert "8 cuts" in run.stdout and "8 dissolves" in run.stdout
    text = readme.read_text(encoding="utf-8")
    assert "kept" in text and "stale" not in text
    assert text.count("<!-- bench_assemble:start -->") == 1
    assert "| 8 cuts |" in text and "stream copy" in text and "| 8 dissolves |" in text
