"""No silent damage: a killed run resumes and leaves no server, a damaged film is cut again, leftovers
go, a read-only cache serves a complete run, and an unwritable --out is refused before any work.
Real tiny models, real Prefect, real ffmpeg, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image
from typer.testing import CliRunner

from wanflow.cache import ArtifactStore, admin
from wanflow.cli.app import app
from wanflow.media.ffmpeg import probe

SPEC = """\
wanflow: 1
title: Integrity
lang: en
output: { fps: 24 }
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
      - { id: still, subject: a woman on a train, action: sits still, duration: 0.5, image: start.png }
      - { id: onward, subject: the astronaut, action: keeps walking, duration: 0.5, continue_from: wade }
"""
CLI = [sys.executable, "-c", "from wanflow.cli.app import main; main()"]


@pytest.fixture
def storyboard(tmp_path: Path, tiny_models_root: Path) -> Path:
    Image.fromarray(np.full((80, 128, 3), 180, dtype=np.uint8)).save(tmp_path / "start.png")
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def own_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """For runs without PREFECT_API_URL, which start Prefect's temporary server (its database lives here)."""
    return tmp_path_factory.mktemp("prefect-home")


def _cli(spec: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    argv = [*CLI, "run", str(spec), "-p", "test", "-o", str(spec.parent / "out"), *options]
    return subprocess.run(argv, env=env or os.environ, capture_output=True, text=True, timeout=300)


def _statuses(out: Path) -> dict[str, str]:
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {shot["shot_id"]: shot["status"] for shot in run["shots"]}


def _store(spec: Path) -> ArtifactStore:
    return ArtifactStore(spec.parent / ".wanflow" / "cache")


def _start_without_server(spec: Path, home: Path) -> subprocess.Popen:
    """`wanflow run` as a user types it without a Prefect server: it starts the temporary one."""
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    argv = [*CLI, "run", str(spec), "-p", "test", "-o", str(spec.parent / "out")]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _server_and_guard(run: subprocess.Popen, limit: float = 120) -> tuple[psutil.Process, psutil.Process]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before its server started"
        children = psutil.Process(run.pid).children(recursive=True)
        server = [p for p in children if "uvicorn" in " ".join(p.cmdline())]
        guard = [p for p in children if "pidfd_open" in " ".join(p.cmdline())]
        if server and guard:
            return server[0], guard[0]
        time.sleep(0.2)
    pytest.fail("no temporary Prefect server started")


def _gone(processes: list[psutil.Process], limit: float = 20) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=limit)
    return not alive


def test_a_run_killed_with_kill_9_resumes_and_leaves_no_server(
    prefect_server, storyboard: Path, own_prefect_home: Path
) -> None:
    run = _start_without_server(storyboard, own_prefect_home)
    server, guard = _server_and_guard(run)
    store = _store(storyboard)
    deadline = time.monotonic() + 240
    while not list((store.root / "clips").glob("*/*/meta.json")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until the first clip is in the cache; the second shot is then under way
    cached_before = {p.parent.name for p in (store.root / "clips").glob("*/*/meta.json")}
    assert cached_before, "no clip was rendered in time"
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL
    assert _gone([server, guard]), "the temporary Prefect server outlived the killed run"

    result = _cli(storyboard)  # resumes, on the session's server
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = _statuses(storyboard.parent / "out" / "film")
    run_json = json.loads((storyboard.parent / "out" / "film" / "run.json").read_text(encoding="utf-8"))
    keys = {shot["shot_id"]: Path(shot["clip"]).parent.name for shot in run_json["shots"]}
    assert {statuses[shot] for shot, key in keys.items() if key in cached_before} == {"cached"}
    assert admin.verify(store) == []  # nothing corrupt, nothing half-written
    assert probe(Path(run_json["film"])).frames > 0


def test_a_run_stopped_by_its_pid_takes_its_server_along(storyboard: Path, own_prefect_home: Path) -> None:
    run = _start_without_server(storyboard, own_prefect_home)
    server, guard = _server_and_guard(run)
    run.terminate()  # `kill PID`: Python's default for SIGTERM is to end at once, no exit hooks
    run.wait(timeout=30)
    assert _gone([server, guard]), "the temporary Prefect server outlived the run"


def test_a_damaged_film_is_cut_again_and_leftovers_are_removed(prefect_server, storyboard: Path) -> None:
    out = storyboard.parent / "out" / "film"
    assert _cli(storyboard).returncode == 0
    film = out / "film.mp4"
    frames, cut_at = probe(film).frames, film.stat().st_mtime_ns

    again = _cli(storyboard)
    assert "nothing changed" in again.stdout and film.stat().st_mtime_ns == cut_at  # intact: not cut again

    leftovers = [out / ".film.partial-k2j4x8ab.mp4", out / "clips" / ".wade.partial-0c1d2e3f.mp4"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a film")  # what a run killed mid-assembly leaves
    work = out / ".film.partial-3hx0q2c1"  # and the cut's work folder
    (work / "picture.mp4").parent.mkdir()
    (work / "picture.mp4").write_bytes(b"half a picture")
    leftovers.append(work)
    film.write_bytes(film.read_bytes()[: film.stat().st_size // 2])  # truncated
    result = _cli(storyboard)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is up to date" not in result.stdout and probe(film).frames == frames
    assert not any(leftover.exists() for leftover in leftovers)

    same_size = film.read_bytes()
    film.write_bytes(same_size[:-16] + b"\0" * 16)  # same size, other bytes: the hash tells
    assert _cli(storyboard).returncode == 0
    assert film.read_bytes() != same_size[:-16] + b"\0" * 16 and probe(film).frames == frames


def _read_only_argv(folder: Path, argv: list[str]) -> list[str]:
    """`argv` run where `folder` is read-only: a read-only bind mount for root (whom file modes
    do not stop), file modes for anyone else."""
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(folder)], check=True)
        return argv
    unshare = shutil.which("unshare")
    probe_mount = [unshare or "unshare", "-m", "sh", "-c", f"mount --bind '{folder}' '{folder}'"]
    if unshare is None or subprocess.run(probe_mount, capture_output=True).returncode != 0:
        pytest.skip("root without mount namespaces: no way to make a folder read-only here")
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return [unshare, "-m", "sh", "-c", script, str(folder), *argv]


def test_a_complete_run_needs_no_write_access_to_the_cache(prefect_server, storyboard: Path) -> None:
    assert _cli(storyboard).returncode == 0
    cache = storyboard.parent / ".wanflow"
    before = sorted(str(p) for p in cache.rglob("*"))
    out = storyboard.parent / "elsewhere"
    argv = [*CLI, "run", str(storyboard), "-p", "test", "-o", str(out)]
    try:
        result = subprocess.run(_read_only_argv(cache, argv), capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(cache)], check=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(_statuses(out / "film").values()) == {"cached"}
    assert probe(out / "film" / "film.mp4").frames > 0
    assert sorted(str(p) for p in cache.rglob("*")) == before


UNWRITABLE = [
    ("out is a file", lambda out: out.write_text("x"), "{out} is a file, not a folder"),
    ("a parent of out is a file", lambda out: out.parent.joinpath("file").write_text("x"), "{parent}/file is a file"),
    (
        "out/film/clips is a file",
        lambda out: ((out / "film").mkdir(parents=True), (out / "film" / "clips").write_text("x")),
        "{out}/film/clips is a file",
    ),
    ("the film is a folder", lambda out: (out / "film" / "film.mp4").mkdir(parents=True), "{out}/film/film.mp4 is a"),
    ("run.json is a folder", lambda out: (out / "film" / "run.json").mkdir(parents=True), "{out}/film/run.json is a"),
]


@pytest.mark.parametrize(("make", "says"), [case[1:] for case in UNWRITABLE], ids=[case[0] for case in UNWRITABLE])
def test_an_unwritable_out_is_refused_before_any_work(storyboard: Path, make, says: str) -> None:
    out = storyboard.parent / "out"
    make(out)
    target = storyboard.parent / "file" / "out" if "parent" in says else out
    result = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(target)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: wanflow: --out: " + says.format(out=out, parent=storyboard.parent))
    assert not (storyboard.parent / ".wanflow").exists()  # nothing rendered, nothing cached


def test_a_read_only_out_is_refused_before_any_work(storyboard: Path) -> None:
    out = storyboard.parent / "out"
    out.mkdir()
    argv = [*CLI, "run", str(storyboard), "-p", "test", "-o", str(out)]
    try:
        result = subprocess.run(_read_only_argv(out, argv), capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(out)], check=True)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"error: wanflow: --out: {out} is not writable ("
    )  # Read-only file system / Permission denied
    assert "Traceback" not in result.stderr and not (storyboard.parent / ".wanflow").exists()
