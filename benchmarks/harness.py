"""What every benchmark needs: a work folder that keeps its evidence, a real Prefect server on 127.0.0.1,
a clock, medians and spreads, its README section."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"

_logs: list[Path] = []  # the current workspace's logs/ folder, where every command's output goes
_count = itertools.count(1)


class CommandFailed(RuntimeError):
    """A benchmarked command exited non-zero: the message names its log and quotes its end."""


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """A temporary folder for a benchmark's files; every command's output lands in its `logs/`.

    Deleted when the benchmark succeeds; kept, and named on stderr, when it fails, so the cause
    (the command's output, the run's out/ and cache) can still be read.
    """
    work = Path(tempfile.mkdtemp(prefix=prefix))
    _logs.append(work / "logs")
    try:
        yield work
    except BaseException:
        print(
            f"benchmark failed: its work folder is kept at {work} (command output in {work / 'logs'})", file=sys.stderr
        )
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        _logs.pop()


def log_file(name: str) -> Path | None:
    """A new file in the current workspace's logs/ for one command's output (None outside a workspace)."""
    if not _logs:
        return None
    _logs[-1].mkdir(parents=True, exist_ok=True)
    return _logs[-1] / f"{next(_count):03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)[:60]}.log"


def bench_env(work: Path) -> dict[str, str]:
    """This environment, with Prefect's home and the models root inside the benchmark's folder.

    Python writes its bytecode caches, as it does for a user: a sandbox's PYTHONDONTWRITEBYTECODE
    would have every command compile wanflow's own modules again (about 0.25 s each)."""
    return {
        **{key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"},
        "PREFECT_HOME": str(work / "prefect"),
        "WANFLOW_MODELS": str(work / "models"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        "WANFLOW_WARM_LINGER": "0",  # every command imports its libraries; bench_preview measures the warm process
        "XDG_RUNTIME_DIR": str(warm_home(work)),
    }


def warm_home(work: Path) -> Path:
    """The benchmark's own folder of warm processes' sockets (`$XDG_RUNTIME_DIR`)."""
    folder = work / "run"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def wanflow(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """The `wanflow` command in a fresh process, as a user runs it; its output kept in the workspace's logs/."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("wanflow")), *args],  # the console script, as a user types it
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = done.stdout.decode("utf-8", "replace")
    log = log_file("wanflow " + " ".join(args[:2]))
    if log is not None:
        log.write_text(f"$ wanflow {' '.join(args)}\n(exit {done.returncode})\n{output}", encoding="utf-8")
    if done.returncode != 0:
        where = f"; all of it in {log}" if log else ""
        raise CommandFailed(f"wanflow {' '.join(args)} exited {done.returncode}{where}:\n{output[-3000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prefect_server(env: dict[str, str], cwd: Path, limit: float = 300) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free port; returns the process and its API URL once healthy.

    What it says goes to the workspace's logs/ (a busy machine has taken minutes to start it)."""
    port = free_port()
    log = log_file("prefect-server")
    with open(log or os.devnull, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        return server, url
            except OSError:
                time.sleep(0.5)
    finally:
        if server.returncode is None and not _answers(url):  # not handed over: never left behind
            server.terminate()
    raise RuntimeError(f"prefect server did not answer within {limit:.0f} s (its output: {log})")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Spread:
    """Samples of one measurement: their median and range."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def __str__(self) -> str:
        if len(self.samples) == 1:
            return f"{self.samples[0]:.1f}"
        return f"{self.median:.1f} ({min(self.samples):.1f}-{max(self.samples):.1f})"


def spread_table(rows: list[tuple[str, Spread, Spread, str]], measured: str) -> list[str]:
    """Markdown rows of comparisons over repeated samples: medians with their range, the ratio of medians
    and the range of the per-sample ratios (samples paired in the order they were taken)."""
    lines = [f"| comparison | {measured} | baseline (s) | ratio | ratio range | target |", "|---|---|---|---|---|---|"]
    for name, ours, base, target in rows:
        ratios = [a / b for a, b in zip(ours.samples, base.samples, strict=True)]
        lines.append(
            f"| {name} | {ours} | {base} | {ours.median / base.median:.2f} | "
            f"{min(ratios):.2f}-{max(ratios):.2f} | {target} |"
        )
    return lines


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
