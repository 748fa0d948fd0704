"""Prefect's temporary server for a `wanflow run` without PREFECT_API_URL, bound to the run's life.

Prefect starts it lazily as a child process (`python -m uvicorn ...`, about 230 MB) and stops it
from an `atexit` hook, which never runs when the run is killed (`kill PID`, `kill -9`, an
out-of-memory kill): the server would outlive the run. Here the run starts it itself, before the
flow, and a small guard process watches over it: the kernel signals the guard when the run dies
(Linux `PR_SET_PDEATHSIG`), and the guard then stops the server. Prefect's own stop still runs
on a normal exit; the guard then sees the server gone and leaves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

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


class _GuardedServer(SubprocessASGIServer):
    """Prefect's temporary server, each of whose processes has a guard."""

    _instances: dict = {}  # its own, apart from the servers Prefect makes for itself

    def _run_uvicorn_command(self):
        process = super()._run_uvicorn_command()
        arguments = [sys.executable, "-c", _GUARD, str(os.getpid()), str(process.pid)]
        quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]  # holds no pipe of the run's
        guard = os.posix_spawn(sys.executable, arguments, os.environ, file_actions=quiet)
        self.guards = [*getattr(self, "guards", []), guard]
        return process

    def stop(self) -> None:
        """Ask the server to stop, and do not wait for it: its graceful shutdown takes about 2 s
        that the user would spend at the end of every run. Its guard ends it should it hang."""
        if self.server_process is not None:
            self.server_process.terminate()
            self.server_process = None
        super().stop()  # with no process left: Prefect's own bookkeeping only


@contextmanager
def temporary_server(log: Callable[[str], None]) -> Iterator[None]:
    """Without PREFECT_API_URL: a guarded temporary server for the block (and the processes it starts).

    The server stays up after the block, until Prefect's exit hook stops it: Prefect still sends
    the run's last logs to it on the way out.
    """
    if PREFECT_API_URL.value() or sys.platform != "linux":
        yield  # a server of the user's, or no PR_SET_PDEATHSIG: Prefect's own temporary server
        return
    log("starting Prefect's temporary server (set PREFECT_API_URL to use a running one)")
    server = _GuardedServer()
    server.start()
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url  # for the Dask workers a run may start
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
