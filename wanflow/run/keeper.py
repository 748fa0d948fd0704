"""Prefect's temporary server kept for a while after a run, so the next run does not boot one.

Booting Prefect's server takes about 5 s of CPU (its imports, mostly), on a 2-core laptop the
longest part of a small run's start. A run without PREFECT_API_URL therefore starts the server
in a session of its own, under a keeper process, and leaves it running: the next run of the
same Python, Prefect and Prefect home finds it through a record file and uses it at once. The
keeper stops the server once no run has used it for `$WANFLOW_SERVER_LINGER` seconds (`wanflow
server stop` stops it now).

Which runs use it is told by the kernel, not by a count that a killed run would leave wrong:
each run holds a shared `flock` on the lease file for its whole life and touches the file at
both ends; the keeper stops the server only when it can take the lock exclusively and the file
is older than the linger. It removes the record before it lets go of the lock, so a run that
waited on the lock starts a new server rather than reaching one that is stopping.

Run as `python -m wanflow.run.keeper RECORD LINGER LOG -- SERVER_COMMAND...`: stdlib only.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0  # a graceful stop, then SIGKILL


@dataclass(frozen=True)
class KeptPaths:
    """The files of one kept server: its record (url, keeper pid), the lease runs lock, the start lock."""

    record: Path
    lease: Path
    start_lock: Path
    log: Path

    @classmethod
    def under(cls, home: Path, identity: str) -> KeptPaths:
        stem = home / f"wanflow-server-{identity}"
        return cls(*(stem.with_name(f"{stem.name}.{suffix}") for suffix in ("json", "lease", "lock", "log")))


def read_record(path: Path) -> dict[str, object] | None:
    """The record, or None when absent or unreadable (a half-written one is never seen: written atomically)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(path: Path, record: dict[str, object]) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(record), encoding="utf-8")
    os.replace(partial, path)


def keeper_alive(record: dict[str, object]) -> bool:
    """The record's keeper is still running (and is a keeper: pids are reused)."""
    pid = record.get("keeper")
    if not isinstance(pid, int):
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"wanflow.run.keeper" in command


def stop_keeper(record: dict[str, object]) -> bool:
    """Ask a kept server's keeper to stop it now; False when none was running."""
    if not keeper_alive(record):
        return False
    try:
        os.kill(int(record["keeper"]), signal.SIGTERM)  # type: ignore[arg-type]
    except ProcessLookupError:
        return False
    return True


class Keeper:
    def __init__(self, record: Path, linger: float, log: Path, command: list[str]) -> None:
        self.record, self.lease, self.linger = record, record.with_suffix(".lease"), linger
        self.code: int | None = None  # the server's exit code, once it ended
        with open(log, "wb") as output:  # what the server says, for the run's error should it fail
            actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
            actions += [(os.POSIX_SPAWN_DUP2, output.fileno(), fd) for fd in (1, 2)]
            self.server = os.posix_spawn(command[0], command, dict(os.environ), file_actions=actions)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop_now())
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            if self._ended():
                self._forget()
                return self.code or 0
            if self._idle_long_enough():
                return 0
            time.sleep(POLL_SECONDS)

    def _ended(self) -> bool:
        if self.code is None:
            pid, status = os.waitpid(self.server, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code is not None

    def _idle_long_enough(self) -> bool:
        """Stops the server when no run holds the lease and none touched it for the linger."""
        try:
            lease = open(self.lease, "rb")  # noqa: SIM115 - closed below
        except OSError:  # its Prefect home is gone: nothing can reach this server any more
            self.stop_now()
        with lease:
            try:
                fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a run is using it
            if time.time() - os.fstat(lease.fileno()).st_mtime < self.linger:
                return False
            self._forget()  # before the lock goes: a waiting run then starts a server of its own
            self._stop_server()
            return True

    def stop_now(self) -> None:
        self._forget()
        self._stop_server()
        sys.exit(0)

    def _stop_server(self) -> None:
        """SIGTERM (Prefect's graceful shutdown), SIGKILL after STOP_GRACE_SECONDS."""
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for sent in (signal.SIGTERM, signal.SIGKILL):
            if self._ended():
                return
            os.kill(self.server, sent)
            while time.monotonic() < deadline or sent == signal.SIGKILL:
                if self._ended():
                    return
                time.sleep(0.05)

    def _forget(self) -> None:
        """Remove the record if it is this keeper's."""
        record = read_record(self.record)
        if record is not None and record.get("keeper") == os.getpid():
            self.record.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    record, linger, log, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python -m wanflow.run.keeper RECORD LINGER LOG -- SERVER_COMMAND...")
    return Keeper(Path(record), float(linger), Path(log), command).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
