"""Every process media starts (ffmpeg, fc-list) dies with the process that started it.

A run killed during the cut (SIGTERM, SIGINT, `kill -9`, the out-of-memory killer) must not
leave ffmpeg encoding at full CPU. On Linux each child asks the kernel for SIGKILL when its
parent dies (`PR_SET_PDEATHSIG`, as the Prefect server's guard in `run/server.py` does), which
also covers `kill -9`; and a child whose caller is interrupted (KeyboardInterrupt, any error
while reading its output) is killed and reaped before the error goes on.

Work run beside another in a thread of the same process (the report, made while the film is
cut) runs in a `Scope`: when the main work fails, `Scope.kill` ends that thread's children, so
an interrupted cut does not wait for a long card encode to finish.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

_PR_SET_PDEATHSIG = 1
_Result = TypeVar("_Result")


class Scope:
    """The children started by work that runs in it, to kill when that work must stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: list[subprocess.Popen] = []
        self.killed = False

    def call(self, work: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
        """`work(*args, **kwargs)` with every child it starts (in this thread) in this scope."""
        token = _SCOPE.set(self)
        try:
            return work(*args, **kwargs)
        finally:
            _SCOPE.reset(token)

    def kill(self) -> None:
        """Kill every child started in the scope, and any it would start from now on."""
        with self._lock:
            self.killed = True
            for process in self._started:
                if process.poll() is None:
                    process.kill()

    def _add(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._started = [started for started in self._started if started.poll() is None]
            self._started.append(process)
            if self.killed:
                process.kill()


_SCOPE: ContextVar[Scope | None] = ContextVar("wanflow_children_scope", default=None)


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up once, here: the child only calls it
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl


_PRCTL = _load_prctl()


def _death_signal() -> Callable[[], None] | None:
    """The function a child runs between fork and exec (None where the kernel offers none)."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: nobody will signal
            os._exit(1)

    parent = os.getpid()
    return die_with_parent


def _options() -> dict[str, Any]:
    # The parent pid is the current process's: built per call (a Dask worker forks from a nanny).
    death = _death_signal()
    return {"preexec_fn": death} if death is not None else {}


def run(
    command: list[str],
    *,
    input: bytes | str | None = None,  # noqa: A002 (subprocess.run's own name)
    capture_output: bool = False,
    timeout: float | None = None,
    **options: Any,
) -> subprocess.CompletedProcess:
    """`subprocess.run` whose child dies with this process, killed on an exception or a timeout."""
    if capture_output:
        options.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with popen(command, stdin=subprocess.PIPE if input is not None else None, **options) as process:
        with killed_on_error(process):
            stdout, stderr = process.communicate(input, timeout=timeout)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def popen(command: list[str], **options: Any) -> subprocess.Popen:
    """`subprocess.Popen` whose child dies with this process; use it `with killed_on_error(process):`."""
    process = subprocess.Popen(command, **options, **_options())
    scope = _SCOPE.get()
    if scope is not None:
        scope._add(process)
    return process


class killed_on_error:  # noqa: N801 (a context manager, read as a phrase)
    """Kill and reap `process` when the block ends in an exception (KeyboardInterrupt included)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def __enter__(self) -> subprocess.Popen:
        return self.process

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
