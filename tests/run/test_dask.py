"""One film over a real Dask cluster: `wanflow cluster start`, and Dask's own scheduler and workers.

Every process is real (scheduler, workers, `prefect server start`, the `wanflow` CLI); the shots
render with the tiny models. What is checked is what run.json and the cache say: which worker
rendered each shot, which models each worker loaded, and in which order continuity ran.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from servers import BIN, Server, free_port, stop

from wanflow.media.ffmpeg import probe

FILM = """\
wanflow: 1
title: Cluster test
lang: en
profiles:
  test: {{ text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }}
  slow: {{ backend: ti2v-5b, size: 512x320, steps: 400, tiny: true }}
scenes:
  - id: one
    shots:
      - id: wade
        subject: an astronaut
        action: {wade_action}
        duration: 0.5
      - id: onward
        subject: the astronaut
        action: keeps walking
        duration: 0.5
        continue_from: wade
      - id: sea
        subject: the sea
        action: waves roll in
        duration: 0.5
      - id: sky
        subject: the sky
        action: clouds pass
        duration: 0.5
      - id: still
        subject: a woman on a train
        action: sits still
        duration: 0.5
        image: start.png
      - id: city
        subject: a city at night
        action: lights flicker
        duration: 0.5
"""


@dataclass
class Cluster:
    address: str
    processes: dict[str, subprocess.Popen]  # name -> process


def _storyboard(folder: Path, wade_action: str = "wades through water") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((80, 128, 3), 180, dtype=np.uint8)).save(folder / "start.png")
    spec = folder / "film.yaml"
    spec.write_text(FILM.format(wade_action=wade_action), encoding="utf-8")
    return spec


def _wanflow(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "wanflow"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def _run_json(out: Path) -> dict:
    return json.loads((out / "film" / "run.json").read_text(encoding="utf-8"))


def _read_line_until(process: subprocess.Popen, prefix: str, limit: float) -> str:
    """The first stdout line starting with `prefix` (a reader thread: select() misses buffered lines)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + limit
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if line.strip().startswith(prefix):
            return line.strip()
    pytest.fail(f"no line starting {prefix!r} within {limit:.0f} s: {''.join(seen)[-3000:]}")


@pytest.fixture(scope="module")
def wanflow_cluster(prefect_server: Server, tiny_models_root: Path) -> Iterator[Cluster]:
    """`wanflow cluster start --workers 2 --port P`, as the README shows it."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "wanflow"), "cluster", "start", "--workers", "2", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    try:
        address = _read_line_until(process, "tcp://", limit=120)
        assert address == f"tcp://127.0.0.1:{port}"
        yield Cluster(address, {"cluster": process})
    finally:
        process.send_signal(signal.SIGINT)
        stop(process)


@pytest.fixture(scope="module")
def dask_cluster(prefect_server: Server, tiny_models_root: Path) -> Iterator[Cluster]:
    """The studio form from docs/deployments.md: Dask's own scheduler and one worker per GPU."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = {
        "scheduler": subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    }
    try:
        for name in ("w0", "w1"):
            processes[name] = subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--name", name, "--nthreads", "1", "--no-nanny"]
                + ["--memory-limit", "0", "--resources", "GPU24=1,GPU80=1", "--preload", "wanflow.run.warmup"]
                + ["--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=os.environ.copy(),
            )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield Cluster(address, processes)
    finally:
        for process in reversed(processes.values()):
            stop(process, grace=10)


def test_a_film_splits_over_two_warm_workers_and_an_edit_reloads_nothing(
    wanflow_cluster: Cluster, tmp_path: Path
) -> None:
    spec = _storyboard(tmp_path / "films")
    out = tmp_path / "out"
    first = _wanflow(
        ["run", str(spec), "--profile", "test", "--cluster", wanflow_cluster.address, "--out", str(out)], tmp_path
    )
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    run = _run_json(out)
    shots = {shot["shot_id"]: shot for shot in run["shots"]}
    assert {shot["status"] for shot in shots.values()} == {"rendered"}
    assert {shot["worker"] for shot in shots.values()} == {"cpu0", "cpu1"}  # both workers rendered
    per_worker = Counter((load["worker"], load["model"]) for load in run["loads"])
    assert max(per_worker.values()) == 1  # no model loaded twice on one worker
    assert {model for _, model in per_worker} <= {
        f"{part}:{backend}" for part in ("text_encoder", "generator", "decoder") for backend in ("t2v-a14b", "i2v-a14b")
    }
    assert shots["onward"]["started"] >= shots["wade"]["ended"]  # continuity: after its upstream
    assert probe(out / "film" / "film.mp4").frames > 0

    _storyboard(tmp_path / "films", wade_action="wades through deep water")
    second = _wanflow(
        ["run", str(spec), "--profile", "test", "--cluster", wanflow_cluster.address, "--out", str(out)], tmp_path
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    run = _run_json(out)
    statuses = {shot["shot_id"]: shot["status"] for shot in run["shots"]}
    assert statuses == {
        "wade": "rendered",
        "onward": "rendered",
        "sea": "cached",
        "sky": "cached",
        "still": "cached",
        "city": "cached",
    }
    assert run["loads"] == []  # the warm cluster held every model already


def test_the_workers_wanflow_starts_keep_glibc_s_allocator_and_freeze_their_imports(wanflow_cluster: Cluster) -> None:
    """No MALLOC_TRIM_THRESHOLD_ (torch's CPU work ran 2x slower under it); CUDA hidden from CPU
    workers; the preload's half a million objects frozen out of the collector's way."""
    from distributed import Client

    def environment_and_gc() -> tuple[str | None, str | None, int]:  # defined here: sent by value to the workers
        import gc
        import os

        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("CUDA_VISIBLE_DEVICES"), gc.get_freeze_count()

    with Client(wanflow_cluster.address, timeout="30s") as client:
        seen = client.run(environment_and_gc)
    assert len(seen) == 2
    for trim, cuda, frozen in seen.values():
        assert trim is None and cuda == ""
        assert frozen > 100_000


def test_a_worker_killed_mid_shot_has_its_shot_rendered_by_the_other(dask_cluster: Cluster, tmp_path: Path) -> None:
    from distributed import Client

    spec = _storyboard(tmp_path / "films")
    spec.write_text(spec.read_text(encoding="utf-8").split("      - id: onward")[0], encoding="utf-8")  # one shot
    out = tmp_path / "out"
    run = subprocess.Popen(
        [str(BIN / "wanflow"), "run", str(spec), "--profile", "slow", "--cluster", dask_cluster.address]
        + ["--out", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    victim = None
    with Client(dask_cluster.address, timeout="30s") as client:
        deadline = time.monotonic() + 180
        while victim is None and time.monotonic() < deadline and run.poll() is None:
            busy = {address: keys for address, keys in client.processing().items() if keys}
            names = {address: info["name"] for address, info in client.scheduler_info(n_workers=-1)["workers"].items()}
            for address, keys in busy.items():
                if any("render_task" in str(key) or "render-shot" in str(key) for key in keys):
                    time.sleep(1.5)  # the shot is generating
                    victim = names[address]
                    os.kill(dask_cluster.processes[victim].pid, signal.SIGKILL)
            time.sleep(0.2)
    output, _ = run.communicate(timeout=300)
    assert victim is not None, output[-3000:]
    assert run.returncode == 0, output[-3000:]
    (shot,) = _run_json(out)["shots"]
    assert shot["status"] == "rendered"
    assert shot["worker"] == ({"w0", "w1"} - {victim}).pop()
    assert probe(out / "film" / "film.mp4").frames > 0


def test_a_shot_no_worker_can_hold_is_refused_before_any_work(tiny_models_root: Path, tmp_path: Path) -> None:
    spec = _storyboard(tmp_path / "films")
    result = subprocess.run(
        [str(BIN / "wanflow"), "run", str(spec), "--profile", "test", "--gpus", "0", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WANFLOW_CARD_GB": "24"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no worker can run t2v-a14b" in result.stderr and "GPU80" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
