"""A warm wanflow process: torch, diffusers, transformers and Prefect imported once, for the next runs.

Those imports are about 6 s of one core before a `wanflow run` can start its first model; on a
2-core laptop, half of a preview's time. A run that renders therefore leaves a warm process
behind (`wanflow.cli.warm_process`), as it leaves Prefect's temporary server: it has imported
the libraries and waits, for `$WANFLOW_WARM_LINGER` seconds after the last run it served. The
next `wanflow run` of the same Python, wanflow, folder and environment hands it its arguments,
environment, folder and its own stdin, stdout and stderr (the file descriptors themselves, over
a Unix socket); the warm process forks a copy of itself, which runs the command exactly as this
process would have, in-process, writing to this terminal. This process waits for it, passes on
Ctrl-C and `kill`, and ends with its exit code, or with the signal that ended it.

Which runs may use a warm process is decided by its identity: a hash of the Python, every file
of the installed wanflow (size and time), the import path's folders, the working folder and the
whole environment. Anything else reads as another identity, so such a run goes in-process and
leaves a warm process of its own; the old one ends after its linger. Only this user can reach
it: the socket lies in a folder of this user's (mode 0700), and the warm process checks the
caller's uid as well.

Stdlib only: this module runs before the command line is parsed, to cost a run nothing.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PROCESS_MODULE = "wanflow.cli.warm_process"
_VOLATILE = frozenset({"_", "OLDPWD", "PWD", "SHLVL", "COLUMNS", "LINES"})  # a shell's bookkeeping, not the run's
_FORWARDED_TO_GROUP = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)  # what a terminal sends to the whole job
_STARTED_WITH = (dict(os.environ), os.getcwd())  # before wanflow sets Prefect's defaults in os.environ

served = False  # this process is a run a warm process forked (set in the fork)


def identity(environment: dict[str, str], folder: str) -> str:
    """What a run and a warm process must share for the warm process to run it."""
    digest = hashlib.sha256()
    for part in (sys.executable, sys.version, folder, *_installed()):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for name in sorted(environment):
        if name not in _VOLATILE:
            digest.update(f"{name}={environment[name]}".encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def _own_identity() -> str:
    """This process's identity, as it started (a run that falls back to in-process asks twice)."""
    return identity(*_STARTED_WITH)


def _installed() -> Iterator[str]:
    """wanflow's files (path, size, modification time) and the import path's folders (their
    time changes when a package is installed or removed there)."""
    package = Path(__file__).resolve().parent.parent
    stack = [str(package)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in sorted(entries, key=lambda entry: entry.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                else:
                    stat = entry.stat(follow_symlinks=False)
                    yield f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns}"
    # The folder of the script or of `-m` comes first unless Python runs with -P (the warm process
    # does: a storyboard's folder must never be one Python imports from).
    for folder in sys.path if sys.flags.safe_path else sys.path[1:]:
        try:
            yield f"{folder}:{os.stat(folder or '.').st_mtime_ns}"
        except OSError:
            yield f"{folder}:-"


def home() -> Path:
    """This user's folder of warm processes (made 0700; refused if another user owns it)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    folder = Path(base) / f"wanflow-warm-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    status = folder.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        raise PermissionError(f"{folder} is not this user's alone")
    return folder


def paths(ident: str) -> tuple[Path, Path, Path]:
    """The socket a warm process listens on, the lock it holds for its life, its record (pid)."""
    folder = home()
    return folder / f"{ident}.sock", folder / f"{ident}.lock", folder / f"{ident}.json"


def forward(argv: list[str]) -> int | None:
    """Run `argv` in a warm process of this identity; its exit code, or None when there is none."""
    if sys.platform != "linux":
        return None
    environment, folder = _STARTED_WITH
    try:
        sock_path, _, _ = paths(_own_identity())
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(str(sock_path))
    except OSError:
        return None
    with conn:
        request = {"argv": argv, "env": environment, "cwd": folder, "umask": _umask()}
        try:
            socket.send_fds(conn, [json.dumps(request).encode()], list(_standard_fds()))
            started = conn.recv(65536)
        except OSError:
            return None
        if not started:  # it ended between connect and fork: nothing ran
            return None
        pid = int(json.loads(started)["pid"])
        previous = {number: signal.signal(number, _forwarder(pid)) for number in (*_FORWARDED_TO_GROUP, signal.SIGTERM)}
        try:
            ended = conn.recv(65536)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
    if not ended:
        print("wanflow: the warm process ended before the run did; run again", file=sys.stderr)
        return 1
    code = int(json.loads(ended)["code"])
    if code < 0:  # ended by a signal: end by the same one, as the run itself would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def _forwarder(pid: int):
    def forward_signal(number: int, frame: object) -> None:
        try:
            if number in _FORWARDED_TO_GROUP:
                os.killpg(pid, number)  # the run leads its own group, as a shell's job would
                return
        except ProcessLookupError:  # not yet its group's leader (its first instants): the run alone
            pass
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass

    return forward_signal


def _standard_fds() -> Iterator[int]:
    """This process's stdin, stdout and stderr; /dev/null for one that is closed."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            yield fd
        except OSError:
            yield os.open(os.devnull, os.O_RDWR)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def start(linger: float, log) -> None:
    """Leave a warm process for the next run, unless one of this identity runs (or is starting)."""
    if linger <= 0 or served or sys.platform != "linux":
        return
    environment = _STARTED_WITH[0]
    try:
        _, lock_path, _ = paths(_own_identity())
        with open(lock_path, "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a warm process all its life
    except BlockingIOError:
        return
    except OSError as error:
        log(f"no warm process for the next run: {error}")
        return
    silent = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]  # holds no pipe of the run's
    command = [sys.executable, "-P", "-m", PROCESS_MODULE, str(linger)]
    os.posix_spawn(sys.executable, command, environment, file_actions=silent, setsid=True)
    minutes = f"{linger / 60:g} min" if linger >= 60 else f"{linger:g} s"
    log(
        f"a warm wanflow process (its libraries imported) waits {minutes} for the next run"
        " (`wanflow server stop` ends it, WANFLOW_WARM_LINGER=0: none)"
    )


def stop_all() -> int:
    """Ask every warm process of this Python to end (each finishes the runs it is serving); how many."""
    signalled: list[tuple[Path, int]] = []
    try:
        records = sorted(home().glob("*.json"))
    except OSError:
        return 0
    for record in records:
        try:
            pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if PROCESS_MODULE.encode() in command and command[0] == sys.executable.encode():
            try:
                os.kill(pid, signal.SIGTERM)
                signalled.append((record, pid))
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5  # each removes its socket and record as it takes the signal: then no run reaches it
    while time.monotonic() < deadline and any(r.exists() and Path(f"/proc/{pid}").exists() for r, pid in signalled):
        time.sleep(0.02)
    return len(signalled)
