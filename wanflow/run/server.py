"""Prefect's temporary server for a `wanflow run` without PREFECT_API_URL, bound to the run's life.

Prefect would start it lazily, in the flow's first call, and wait about 4 s for it; and stop it
from an `atexit` hook, which never runs when the run is killed (`kill PID`, `kill -9`, an
out-of-memory kill). Here the run starts the same server (`uvicorn` on Prefect's app, as
Prefect does) as soon as it knows it will render, goes on importing while it boots on another
core, and waits for it only before the flow. A small guard process watches over it: the kernel
signals the guard when the run dies (Linux `PR_SET_PDEATHSIG`), and the guard then stops the
server. The server writes to a file of its own, never to the run's stdout: a pipe reading the
run would otherwise stay open until the server is gone.

With `$WANFLOW_SERVER_LINGER` above 0 (the default), the run's server is a kept one instead
(`wanflow.run.keeper`): started in a session of its own, found again by the next run, and
stopped once no run has used it for that long.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from wanflow import settings
from wanflow.run.apifaults import check_api
from wanflow.run.keeper import KeptPaths, keeper_alive, read_record, stop_keeper, write_record

# Run by `python -c` with the run's pid and the server's pid: waits for the server to end, or for
# the run to die (then stops the server: SIGTERM, and SIGKILL after 10 s).
_GUARD = """
import ctypes, os, select, signal, sys
run, server = int(sys.argv[1]), int(sys.argv[2])
handle = os.pidfd_open(server)
def stop(*_):
    try:
        signal.pidfd_send_signal(handle, signal.SIGTERM)
        if not select.select([handle], [], [], 10)[0]:
            signal.pidfd_send_signal(handle, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != run:  # the run died before the line above
    stop()
while not select.select([handle], [], [])[0]:
    pass
"""

# A run's temporary server records flow and task runs, their logs and events; the services that
# schedule deployments, watch work pools, run automations or vacuum do nothing for it, and
# starting them is about a third of its boot (5.5 s instead of 8 s on 2 busy cores).
_IDLE_SERVICES = (
    "CANCELLATION_CLEANUP",
    "CLEANUP_RECONCILER",
    "DB_VACUUM",
    "EVENT_LOGGER",
    "FOREMAN",
    "LATE_RUNS",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "SCHEDULER",
    "TRIGGERS",
)
_SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in _IDLE_SERVICES},
}


class TemporaryServer:
    """Prefect's API server on a free port of 127.0.0.1, started at once and not waited for."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile()  # what the server says, for the error should it fail
        self.port = _free_port()  # the kernel's pick, so unlike Prefect's random one it needs no second try
        self.pid, self.guard = self._spawn()
        self.ended = False  # reaped: its pid may be another process's now

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> tuple[int, int]:
        """The server and its guard."""
        command = _server_command(self.port)
        output = [(os.POSIX_SPAWN_DUP2, self.log.fileno(), fd) for fd in (1, 2)]
        quiet = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
        server = os.posix_spawn(
            sys.executable, command, settings.child_environment(_SERVER_ENV), file_actions=quiet + output
        )
        guard = [sys.executable, "-c", _GUARD, str(os.getpid()), str(server)]
        silent = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]  # holds no pipe of the run's
        return server, os.posix_spawn(sys.executable, guard, settings.child_environment(), file_actions=silent)

    def wait_until_up(self, timeout: float) -> None:
        """Until /health answers; the server ending first is an error, with what it said."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended, status = os.waitpid(self.pid, os.WNOHANG)
            if ended:
                self.ended, code = True, os.waitstatus_to_exitcode(status)
                raise RuntimeError(f"Prefect's temporary server ended with exit code {code}: {self._said()}")
            if _healthy(self.api_url):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Prefect's temporary server did not answer within {timeout:.0f} s: {self._said()}")

    def stop(self) -> None:
        """Ask the server to stop and do not wait for its graceful shutdown (about 2 s the user
        would spend at the end of every run): its guard ends it should it hang."""
        if self.ended:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _said(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:].decode("utf-8", "replace").strip() or "(it wrote nothing)"


class KeptServer:
    """A kept temporary server (`wanflow.run.keeper`): the one an earlier run left, or a new one,
    leased for this run's life."""

    def __init__(self, linger: float) -> None:
        from prefect.settings import PREFECT_HOME

        home = Path(PREFECT_HOME.value()).expanduser()
        home.mkdir(parents=True, exist_ok=True)
        self.paths = KeptPaths.under(home, _identity())
        self.keeper: int | None = None  # this run's child when this run started it
        with FileLock(self.paths.start_lock, timeout=120):
            self.lease = open(self.paths.lease, "ab")  # noqa: SIM115 - held until the run ends
            fcntl.flock(self.lease, fcntl.LOCK_SH)  # waits while a keeper is stopping its server
            os.utime(self.lease.fileno())
            record = read_record(self.paths.record)
            if record is not None and keeper_alive(record) and isinstance(record.get("url"), str):
                self.api_url = str(record["url"])
                return
            port = _free_port()
            self.api_url = f"http://127.0.0.1:{port}/api"
            command = [sys.executable, "-m", "wanflow.run.keeper", str(self.paths.record), str(linger)]
            command += [str(self.paths.log), "--", *_server_command(port)]
            silent = [
                (os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)
            ]  # holds no pipe of the run's
            self.keeper = os.posix_spawn(
                sys.executable, command, settings.child_environment(_SERVER_ENV), file_actions=silent, setsid=True
            )
            write_record(self.paths.record, {"url": self.api_url, "keeper": self.keeper})

    @property
    def reused(self) -> bool:
        return self.keeper is None

    def wait_until_up(self, timeout: float) -> None:
        """Until /health answers; the server ending first is an error, with what it said."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _healthy(self.api_url):
                return
            if self.keeper is not None:
                ended, status = os.waitpid(self.keeper, os.WNOHANG)
                if ended:
                    code = os.waitstatus_to_exitcode(status)
                    raise RuntimeError(f"Prefect's temporary server ended with exit code {code}: {self._said()}")
            elif not keeper_alive(read_record(self.paths.record) or {}):
                raise RuntimeError(f"Prefect's temporary server ended before it answered: {self._said()}")
            time.sleep(0.1)
        raise RuntimeError(f"Prefect's temporary server did not answer within {timeout:.0f} s: {self._said()}")

    def release(self) -> None:
        """The run is done with it: its linger starts now."""
        os.utime(self.lease.fileno())
        self.lease.close()

    def _said(self) -> str:
        try:
            said = self.paths.log.read_bytes()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            said = ""
        return said or "(it wrote nothing)"


def stop_kept_servers() -> int:
    """Stop every kept temporary server of this Prefect home now; how many were running."""
    from prefect.settings import PREFECT_HOME

    home = Path(PREFECT_HOME.value()).expanduser()
    return sum(stop_keeper(record) for path in home.glob("wanflow-server-*.json") if (record := read_record(path)))


def _identity() -> str:
    """Runs share a kept server only with the same environment (`python` and `python3` of one
    venv are one), Prefect and database."""
    from prefect import __version__
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    parts = (sys.prefix, __version__, str(PREFECT_API_DATABASE_CONNECTION_URL.value()))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


@contextmanager
def run_server(log: Callable[[str], None]) -> Iterator[Callable[[], None]]:
    """The Prefect server this run reports to, with the run's Prefect settings, for the block.

    - PREFECT_API_URL set (a studio's server): the flow beats every 30 s from a thread of its own
      (wanflow.run.heartbeat), and the server's zombie automation crashes the run should its
      machine die. Prefect's own heartbeats are off: it joins their thread at the end of every
      flow run, about 1 s.
    - Otherwise a temporary server and no heartbeats: a kept one (`$WANFLOW_SERVER_LINGER`
      above 0), found or started on entry; or, with a linger of 0, a guarded one that dies with
      the run.

    Yields the wait for the server to answer: call it just before the flow, after the slow
    imports. The temporary server stays up after the block, until the exit hooks stop it:
    Prefect sends the run's last logs to it from exit hooks of its own, which run first.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        PREFECT_UI_URL,
        temporary_settings,
    )

    from wanflow.run.heartbeat import unwatched

    if PREFECT_API_URL.value() or sys.platform != "linux":  # or no PR_SET_PDEATHSIG: Prefect's own temporary server
        if not PREFECT_API_URL.value():
            unwatched()
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield lambda: check_api(PREFECT_API_URL.value(), _healthy)
        return
    unwatched()
    linger = settings.current().server_linger
    server: TemporaryServer | KeptServer
    if linger > 0:
        server = KeptServer(linger)
        atexit.register(server.release)
        if server.reused:
            log("using Prefect's temporary server, kept from an earlier run")
        else:
            log(
                f"starting Prefect's temporary server; it stays up {_duration(linger)} after the run for the next one"
                " (`wanflow server stop` ends it, PREFECT_API_URL uses a running one)"
            )
    else:
        log("starting Prefect's temporary server (set PREFECT_API_URL to use a running one)")
        server = TemporaryServer()
        atexit.register(server.stop)
    # The Dask workers a run starts get the address as data (`local_cluster`), not through os.environ.
    # No UI link either: the server (and its UI) is gone when the run ends.
    updates = {PREFECT_API_URL: server.api_url, PREFECT_UI_URL: "", PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with temporary_settings(updates=updates):
        yield lambda: server.wait_until_up(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())


def _server_command(port: int) -> list[str]:
    """Prefect's API server as Prefect runs its own temporary one: uvicorn on its app factory."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
