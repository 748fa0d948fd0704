"""Every process media starts (ffmpeg, fc-list) dies with the process that started it.

A run killed during the cut (SIGTERM, SIGINT, `kill -9`, the out-of-memory killer) must not
leave ffmpeg encoding at full CPU. On Linux each child asks the kernel for SIGKILL when its
parent dies (`PR_SET_PDEATHSIG`, as the Prefect server's guard in `run/server.py` does), which
also covers `kill -9`; and a child whose caller is interrupted (KeyboardInterrupt, any error
while reading its output) is killed and reaped before the error goes on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

_PR_SET_PDEATHSIG = 1


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


def run(command: list[str], **options: Any) -> subprocess.CompletedProcess:
    """`subprocess.run` whose child dies with this process (it already kills it on an exception)."""
    return subprocess.run(command, **options, **_options())


def popen(command: list[str], **options: Any) -> subprocess.Popen:
    """`subprocess.Popen` whose child dies with this process; use it `with killed_on_error(process):`."""
    return subprocess.Popen(command, **options, **_options())


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
