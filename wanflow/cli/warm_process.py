"""The warm process (`wanflow.cli.warm`): imports the libraries once, then forks one copy per run.

Run as `python -P -m wanflow.cli.warm_process LINGER` (-P: nothing is imported from the folder it
starts in, a storyboard's), in a session of its own, by a run that renders. It takes its
identity's lock (a second one for the same identity ends at once), imports what a run imports
(Prefect, torch, diffusers, transformers and wanflow's stages; not the command line's modules,
whose consoles must see the caller's terminal) at the lowest CPU priority, and only then
listens, so a run never waits on a process that is still importing.

For each caller it forks: the copy becomes the caller's run (its stdin, stdout and stderr, its
folder, umask, environment and arguments, the leader of a session and process group of its
own, at the caller's priority) and runs the command line as `wanflow` does. This process keeps
the connection: it tells the caller the copy's pid, then how it ended; a caller that vanishes
(killed) gets its run ended with SIGTERM, and a run dies with this process. It forks only while
it has no thread but its main one, and ends once no run has used it for LINGER seconds, when
told to (SIGTERM, `wanflow server stop`: after the runs it serves), or when its socket is no
longer its own.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.cli import warm
from wanflow.run import prefork

_POLL_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


class WarmProcess:
    def __init__(self, linger: float) -> None:
        self.linger = linger
        self.ident = warm.identity(dict(os.environ), os.getcwd())
        self.sock_path, lock_path, self.record = warm.paths(self.ident)
        self.lock = open(lock_path, "ab")  # noqa: SIM115 - held for the process's life
        fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: one of this identity runs
        self.runs: dict[int, tuple[socket.socket, int]] = {}  # pidfd -> (the caller's connection, the run's pid)
        self.stopping = False
        self.last_used = time.monotonic()
        self.inode: int | None = None
        # `wanflow server stop` finds it by this record, even while it imports
        write_text_atomic(self.record, json.dumps({"pid": os.getpid()}))

    def listen(self) -> socket.socket:
        """The socket, bound under a private name and renamed into place: it appears ready."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        partial = self.sock_path.with_name(f".{self.sock_path.name}.{os.getpid()}")
        partial.unlink(missing_ok=True)
        listener.bind(str(partial))
        listener.listen(16)
        os.replace(partial, self.sock_path)
        self.inode = self.sock_path.stat().st_ino
        return listener

    def serve(self, listener: socket.socket) -> None:
        signal.signal(signal.SIGTERM, self._told_to_stop)
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "accept")
        listening = True
        while not self._done():
            for key, _ in selector.select(_POLL_SECONDS):
                if key.data == "accept":
                    self._accept(listener, selector)
                elif key.data[0] == "ended":
                    self._ended(key.data[1], selector)
                else:
                    self._caller_gone(key.data[1], selector)
            if listening and (self.stopping or not self._socket_ours()):
                self.stopping, listening = True, False  # serve the runs under way, take no more
                selector.unregister(listener)
                listener.close()
                self.forget()
        self.forget()

    def _told_to_stop(self, number: int, frame: object) -> None:
        """No new run from now on (the socket goes at once); the runs under way are served to their end."""
        self.stopping = True
        self.forget()

    def _done(self) -> bool:
        if self.runs:
            return False
        return self.stopping or time.monotonic() - self.last_used >= self.linger

    def _accept(self, listener: socket.socket, selector: selectors.BaseSelector) -> None:
        conn, _ = listener.accept()
        try:
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            if uid != os.getuid() or threading.active_count() != 1:
                conn.close()
                return
            conn.settimeout(10)
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            request = json.loads(message)
        except (OSError, ValueError):
            conn.close()
            return
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        warm_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            _close_inherited([selector, listener, self.lock, *(c for c, _ in self.runs.values()), *self.runs])
            _become_run(request, fds, conn, warm_pid)  # never returns
        for fd in fds:
            os.close(fd)  # the caller's pipes must close when the run's copies do
        pidfd = os.pidfd_open(pid)
        self.runs[pidfd] = (conn, pid)
        selector.register(pidfd, selectors.EVENT_READ, ("ended", pidfd))
        selector.register(conn, selectors.EVENT_READ, ("caller", pidfd))
        _send(conn, {"pid": pid})

    def _ended(self, pidfd: int, selector: selectors.BaseSelector) -> None:
        conn, pid = self.runs.pop(pidfd)
        _, status = os.waitpid(pid, 0)
        selector.unregister(pidfd)
        os.close(pidfd)
        try:
            selector.unregister(conn)
        except KeyError:  # the caller had hung up
            pass
        _send(conn, {"code": os.waitstatus_to_exitcode(status)})
        conn.close()
        self.last_used = time.monotonic()

    def _caller_gone(self, pidfd: int, selector: selectors.BaseSelector) -> None:
        """The caller hung up (it only ever reads): its run ends as a killed run would."""
        conn, pid = self.runs[pidfd]
        selector.unregister(conn)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _socket_ours(self) -> bool:
        try:
            return self.sock_path.stat().st_ino == self.inode
        except OSError:
            return False

    def forget(self) -> None:
        """Remove the socket and the record if they are still this process's."""
        if self._socket_ours():
            self.sock_path.unlink(missing_ok=True)
        try:
            if json.loads(self.record.read_text(encoding="utf-8")).get("pid") == os.getpid():
                self.record.unlink(missing_ok=True)
        except (OSError, ValueError):
            pass


def _send(conn: socket.socket, message: dict[str, int]) -> None:
    try:
        conn.send(json.dumps(message).encode())
    except OSError:  # the caller is gone
        pass


def _close_inherited(things: list) -> None:
    """In the fork: what belongs to the warm process (its sockets, lock, other runs' handles)."""
    for thing in things:
        if isinstance(thing, int):
            os.close(thing)
        else:
            thing.close()


def _become_run(request: dict, fds: list[int], conn: socket.socket, warm_pid: int) -> None:
    """In the fork: the caller's run, to its end (the process exits here). It dies with the warm
    process (`PR_SET_PDEATHSIG`), which alone can tell its caller how it ended."""
    code: int | str | None = 1
    try:
        conn.close()
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != warm_pid:  # the warm process died before the line above: nobody would say how this ended
            os._exit(1)
        os.setsid()  # the leader of its own process group (Ctrl-C reaches the run's children too) and CPU group
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.umask(int(request["umask"]))
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())  # as Python sets them up at its start
        sys.stderr.reconfigure(line_buffering=True)
        prefork.log_to_this_terminal()
        sys.argv = list(request["argv"])
        warm.served = True
        from wanflow.cli.app import main

        main()  # ends the process itself once its exit hooks ran
        code = 0
    except SystemExit as done:
        code = done.code
    except BaseException:  # noqa: BLE001 - the run's own traceback, on the caller's stderr
        import traceback

        traceback.print_exc()
    _exit_as_python_would(code)


def _exit_as_python_would(code: int | str | None) -> None:
    """Wait for the run's other threads, run its exit hooks, flush, and end."""
    import atexit

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code or 0)


def _preload_when_idle() -> bool:
    """Import at the lowest priority (nice 19), on a thread of its own: the run that started this
    process, or the next one, never waits for these imports, which use only a core no run wants.
    Linux sets a thread's nice value alone, and a fork takes its caller's: the runs this process
    forks from its main thread keep the caller's priority. Where the kernel groups the CPU by
    session (autogroup), this session's group gets nice 19 too, and each run a session of its own."""
    failed: list[BaseException] = []
    if os.getsid(0) == os.getpid():  # its own session (as `warm.start` spawns it), never a caller's
        try:
            Path("/proc/self/autogroup").write_text("19")
        except OSError:  # no autogroup here: the thread's nice value is what counts
            pass

    def preload() -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            prefork.import_what_runs_import()
        except BaseException as error:  # noqa: BLE001 - reported as "serve nobody"
            failed.append(error)

    importer = threading.Thread(target=preload, name="wanflow-warm-imports")
    importer.start()
    importer.join()
    return not failed


def _pidfds() -> bool:
    """The kernel gives pidfds: this process waits for its runs with them."""
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):
        return False
    return True


def main(argv: list[str]) -> int:
    (linger,) = argv
    try:
        process = WarmProcess(float(linger))
    except BlockingIOError:
        return 0  # another warm process of this identity runs or is starting
    if not _pidfds() or not _preload_when_idle() or threading.active_count() != 1:
        process.forget()
        return 1  # no pidfds (Linux < 5.3), an import failed, or a thread remains (forking it would be unsafe)
    gc.collect()
    gc.freeze()  # the forks' collections never touch (and copy) the imported objects
    process.serve(process.listen())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
