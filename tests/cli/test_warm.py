"""A warm wanflow process, through the real `wanflow` script: a run leaves one, the next run of the
same identity is forked from it and behaves as an in-process run would (outputs, exit codes,
messages, signals), anything else runs in-process, and `wanflow server stop` ends it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import two_shot_spec

from wanflow.cli import warm
from wanflow.media.ffmpeg import probe

WANFLOW = str(Path(sys.executable).with_name("wanflow"))
SPEC = two_shot_spec("Warm run")
LEFT = "a warm wanflow process (its libraries imported) waits"
USED = "using a warm wanflow process kept from an earlier run"


@pytest.fixture(scope="module")
def project(tiny_models_root: Path, prefect_server) -> Iterator[tuple[Path, dict[str, str]]]:
    """A storyboard folder and the environment its runs share (a short socket folder of its own)."""
    runtime = Path(tempfile.mkdtemp(prefix="ww"))  # a Unix socket's path holds at most 107 bytes
    folder = runtime / "film"
    folder.mkdir()
    (folder / "film.yaml").write_text(SPEC, encoding="utf-8")
    env = {**os.environ, "WANFLOW_WARM_LINGER": "120", "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        yield folder, env
    finally:
        subprocess.run([WANFLOW, "server", "stop"], env=env, cwd=folder, capture_output=True, timeout=60)
        _until(lambda: not _warm_pids(runtime), 30)
        shutil.rmtree(runtime, ignore_errors=True)


def _run(folder: Path, env: dict[str, str], out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [WANFLOW, "run", "film.yaml", "--profile", "test", "--out", out, "--cache", "cache", *extra]
    return subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, timeout=300)


def _warm_pids(runtime: Path) -> list[int]:
    pids = []
    for record in (runtime / f"wanflow-warm-{os.getuid()}").glob("*.json"):
        try:
            pid = int(json.loads(record.read_text(encoding="utf-8"))["pid"])
            if warm.PROCESS_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except (OSError, ValueError, KeyError):
            pass
    return pids


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _until(ready, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.2)
    return False


def _ready(runtime: Path) -> bool:
    return any((runtime / f"wanflow-warm-{os.getuid()}").glob("*.sock"))


@pytest.fixture(scope="module")
def warmed(project: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str], subprocess.CompletedProcess[str]]:
    """The first run (in-process, it leaves a warm process), once the warm process listens."""
    folder, env = project
    first = _run(folder, env, "out-first")
    assert first.returncode == 0, first.stdout + first.stderr
    assert LEFT in first.stdout and USED not in first.stdout
    assert _until(lambda: _ready(folder.parent), 240), "the warm process never listened"
    return folder, env, first


def test_the_next_run_is_forked_from_the_warm_process_and_makes_the_same_film(warmed) -> None:
    folder, env, _ = warmed
    second = _run(folder, env, "out-second", "--force", "wade,onward")
    assert second.returncode == 0, second.stdout + second.stderr
    assert USED in second.stdout and LEFT not in second.stdout
    assert "shots: 2 rendered" in second.stdout
    record = json.loads((folder / "out-second" / "film" / "run.json").read_text(encoding="utf-8"))
    assert [load["model"] for load in record["loads"]].count("generator:t2v-a14b") == 1
    first_film, second_film = (probe(folder / out / "film" / "film.mp4") for out in ("out-first", "out-second"))
    assert (second_film.frames, second_film.width, second_film.height) == (
        first_film.frames,
        first_film.width,
        first_film.height,
    )
    for shot in ("wade", "onward"):  # the same seeds and models: the same clips, byte for byte
        takes = [
            (folder / out / "film" / "takes" / shot / "take-1.mp4").read_bytes() for out in ("out-first", "out-second")
        ]
        assert takes[0] == takes[1]


def test_bad_input_in_a_warm_process_is_one_message_and_exit_code_2(warmed) -> None:
    folder, env, _ = warmed
    (folder / "broken.yaml").write_text(SPEC.replace("duration: 0.5 }", "duration: -1 }", 1), encoding="utf-8")
    command = [WANFLOW, "run", "broken.yaml", "--profile", "test"]
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == "error: broken.yaml:9:83: scenes[0].shots[0].duration: must be greater than 0, got -1\n"
    assert done.stdout == ""  # nothing to render: not a word of processes either
    alone = subprocess.run(command, env={**env, "WANFLOW_WARM_LINGER": "0"}, cwd=folder, capture_output=True, text=True)
    assert (alone.returncode, alone.stdout, alone.stderr) == (done.returncode, done.stdout, done.stderr)


def test_another_environment_runs_in_process_and_leaves_a_warm_process_of_its_own(warmed) -> None:
    folder, env, _ = warmed
    before = set(_warm_pids(folder.parent))
    done = _run(folder, {**env, "WANFLOW_WARM_TEST_OTHER": "1"}, "out-other", "--force", "wade")
    assert done.returncode == 0, done.stdout + done.stderr
    assert USED not in done.stdout and LEFT in done.stdout
    assert _until(lambda: set(_warm_pids(folder.parent)) - before, 30)


@pytest.mark.parametrize(
    ("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)]
)
def test_a_warm_run_ends_with_its_caller_and_leaves_no_process(warmed, sent: signal.Signals, code: int) -> None:
    """Ctrl-C and SIGTERM are passed on (the caller ends as the run did: 130 after Ctrl-C, by the
    signal after SIGTERM); a caller killed outright has its run ended by the warm process. Either
    way nothing of the run is left."""
    folder, env, _ = warmed
    (pid,) = [pid for pid in _warm_pids(folder.parent) if _serves(pid, env)]
    caller = subprocess.Popen(
        [WANFLOW, "run", "film.yaml", "--profile", "test", "--out", f"out-{sent.name}", "--force", "wade,onward"],
        env=env,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert caller.stdout is not None
    for line in caller.stdout:
        if "Beginning flow run" in line:
            break
    assert _children(pid), "the run is not the warm process's fork"
    caller.send_signal(sent)
    caller.communicate(timeout=60)
    assert caller.returncode == code
    assert _until(lambda: not _children(pid), 30), "the run outlived its caller"


def _serves(pid: int, env: dict[str, str]) -> bool:
    """The warm process of the project's own environment (not another test's)."""
    return Path(f"/proc/{pid}/environ").read_bytes().count(b"WANFLOW_WARM_TEST_OTHER") == 0


def test_server_stop_ends_every_warm_process(warmed) -> None:
    folder, env, _ = warmed
    assert _warm_pids(folder.parent)
    done = subprocess.run([WANFLOW, "server", "stop"], env=env, cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0 and "warm wanflow process(es)" in done.stdout
    assert _until(lambda: not _warm_pids(folder.parent), 30)
    assert not _ready(folder.parent)  # sockets removed: the next run goes in-process at once


def test_identity_follows_the_environment_the_folder_and_wanflows_files(tmp_path: Path) -> None:
    base = {"HOME": "/home/a", "PATH": "/usr/bin"}
    ident = warm.identity(base, "/work")
    assert warm.identity({**base, "_": "/usr/bin/wanflow", "OLDPWD": "/x", "SHLVL": "3"}, "/work") == ident
    assert warm.identity({**base, "PREFECT_API_URL": "http://h/api"}, "/work") != ident
    assert warm.identity(base, "/elsewhere") != ident
    source = Path(warm.__file__)
    status = source.stat()
    try:
        os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
        assert warm.identity(base, "/work") != ident  # an edited or reinstalled wanflow is another one
    finally:
        os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_without_a_warm_process_a_run_is_not_forwarded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert warm.forward(["wanflow", "run", "film.yaml"]) is None
