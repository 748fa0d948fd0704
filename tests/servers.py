"""Real servers for the tests: `prefect server start` and Dask's own scheduler and workers, on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the virtualenv's console scripts: prefect, wanflow, dask


@dataclass(frozen=True)
class Server:
    url: str  # .../api
    env: dict[str, str]  # what a user's shell holds to talk to it


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {limit:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def prefect_server_at(home: Path) -> Iterator[Server]:
    """`prefect server start` with its own PREFECT_HOME; always stopped at the end."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = home / "server.log"
    with log.open("wb") as stream:
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, server, log, limit=90)
        with temporary_settings(updates={PREFECT_API_URL: url}):  # for this process's API client
            yield Server(url, {**env, "PREFECT_API_URL": url})
    finally:
        stop(server)


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
