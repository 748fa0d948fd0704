"""What every benchmark needs: a real Prefect server on 127.0.0.1, a clock, its README section."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def bench_env(work: Path) -> dict[str, str]:
    """This environment, with Prefect's home and the models root inside the benchmark's folder."""
    return {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect"),
        "WANFLOW_MODELS": str(work / "models"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


def wanflow(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """The `wanflow` command in a fresh process, as a user runs it."""
    subprocess.run(
        [sys.executable, "-c", "from wanflow.cli.app import main; main()", *args],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prefect_server(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free port; returns the process and its API URL once healthy."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("prefect server did not start within 120 s")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def update_readme(name: str, report: str) -> None:
    """Replace (or add) the section between `<!-- NAME:start -->` and `<!-- NAME:end -->`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{report}\n{end}"
    text = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    README.write_text(text, encoding="utf-8")


def ratio_table(rows: list[tuple[str, float, float, str]], measured: str) -> list[str]:
    """Markdown rows of comparisons: what was measured, its baseline, their ratio, the target."""
    lines = [f"| comparison | {measured} | baseline (s) | ratio | target |", "|---|---|---|---|---|"]
    lines += [
        f"| {name} | {ours:.1f} | {base:.1f} | {ours / base:.2f} | {target} |" for name, ours, base, target in rows
    ]
    return lines
