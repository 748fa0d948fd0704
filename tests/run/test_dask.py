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
  slow: {{ backend: ti2v-5b, size: 256x160, steps: 200, tiny: true }}
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


MIXED = """\
wanflow: 1
title: Mixed cluster
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x96, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
      - { id: onward, subject: the astronaut, action: keeps walking, duration: 0.5, continue_from: wade }
      - { id: sky, subject: the sky, action: clouds pass, duration: 0.5, backend: ti2v-5b }
      - { id: city, subject: a city at night, action: lights flicker, duration: 0.5, backend: ti2v-5b }
"""

# One slow A14B shot (killed in the middle) and one TI2V-5B shot.
DYING = """\
wanflow: 1
title: Dying worker
lang: en
profiles:
  slow80: { text: t2v-a14b, image: i2v-a14b, size: 256x160, steps: 200, tiny: true }
scenes:
  - id: one
    shots:
      - { id: sea, subject: the sea, action: waves roll in, duration: 0.5 }
      - { id: sky, subject: the sky, action: clouds pass, duration: 0.5, backend: ti2v-5b }
"""


@dataclass
class Cluster:
    address: str
    processes: dict[str, subprocess.Popen]  # name -> process
    logs: dict[str, Path] | None = None  # name -> what it wrote
    lines: queue.Queue[str] | None = None  # the console of `wanflow cluster start`


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


def _console(process: subprocess.Popen) -> queue.Queue[str]:
    """Every stdout line of `process`, as it comes (a reader thread: select() misses buffered lines)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return lines


def _read_line_until(lines: queue.Queue[str], process: subprocess.Popen, prefix: str, limit: float) -> str:
    """The next console line starting with `prefix`."""
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
        lines = _console(process)
        address = _read_line_until(lines, process, "tcp://", limit=120)
        assert address == f"tcp://127.0.0.1:{port}"
        yield Cluster(address, {"cluster": process}, lines=lines)
    finally:
        process.send_signal(signal.SIGINT)
        stop(process)


@pytest.fixture(scope="module")
def dask_cluster(prefect_server: Server, tiny_models_root: Path, tmp_path_factory) -> Iterator[Cluster]:
    """A studio's mixed cluster, as docs/deployments.md starts it: Dask's own scheduler with its
    default settings (work stealing on), one worker with an 80 GB card and one with a 24 GB card,
    each under its nanny."""
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    commands = {
        "scheduler": ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        "w80": ["worker", address, "--name", "w80", "--resources", "GPU80=1,GPU24=1"],
        "w24": ["worker", address, "--name", "w24", "--resources", "GPU24=1"],
    }
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            if name != "scheduler":
                command += [
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "0",
                    "--preload",
                    "wanflow.run.warmup",
                    "--no-dashboard",
                ]
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [str(BIN / "dask"), *command], stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
                )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=240)  # each imports torch as it starts
        yield Cluster(address, processes, {name: logs / f"{name}.log" for name in commands})
    finally:
        for process in reversed(processes.values()):
            stop(process, grace=10)


def _worker_pids(address: str) -> dict[str, int]:
    """Worker name -> the pid of its process (under its nanny)."""
    from distributed import Client

    with Client(address, timeout="30s") as client:
        names = {a: info["name"] for a, info in client.scheduler_info(n_workers=-1)["workers"].items()}
        return {names[a]: pid for a, pid in client.run(os.getpid).items()}


def _kill_mid_shot(address: str, run: subprocess.Popen, shot: str, pids: list[int] | None = None) -> str:
    """SIGKILL the worker rendering `shot` (or `pids`) 1 s after Prefect says it started; its name.
    The shot's 200 steps last longer than that on any machine."""
    from distributed import Client
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    prefix = f"shot-{shot} on "
    with get_client(sync_client=True) as prefect, Client(address, timeout="30s") as client:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and run.poll() is None:
            named = TaskRunFilter(name=TaskRunFilterName(like_=prefix))
            running = [t for t in prefect.read_task_runs(task_run_filter=named) if t.state and t.state.is_running()]
            if running:
                time.sleep(1)  # the shot is loading its model or generating
                victim = running[-1].name.removeprefix(prefix)
                if pids is None:
                    workers = client.scheduler_info(n_workers=-1)["workers"].items()
                    where = next(a for a, info in workers if info["name"] == victim)
                    pids = [client.run(os.getpid, workers=[where])[where]]
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                return victim
            time.sleep(0.2)
    return ""


def _task_runs(flow_run_name_prefix: str) -> dict[str, str]:
    """Task run name -> state of the newest flow run whose name starts with the prefix."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = [
            r
            for r in client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC)
            if r.name.startswith(flow_run_name_prefix)
        ]
        flow_run = runs[0]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    return {"(flow run)": flow_run.state.type.value} | {t.name: t.state.type.value for t in tasks}


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
    assert {shot["status"] for shot in shots.values()} == {"rendered"}, (shots, first.stdout[-3000:])
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


def test_cluster_start_replaces_a_killed_worker_and_says_so(wanflow_cluster: Cluster) -> None:
    """Dask's SpecCluster closed the nanny of a worker that took more than 15 s to come back: the
    cluster served every later run with one worker less, silently."""
    from distributed import Client

    os.kill(_worker_pids(wanflow_cluster.address)["cpu1"], signal.SIGKILL)
    process = wanflow_cluster.processes["cluster"]
    assert "worker cpu1 left the cluster" in _read_line_until(wanflow_cluster.lines, process, "worker cpu1", 60)
    assert "worker cpu1 is back: 2 of 2" in _read_line_until(wanflow_cluster.lines, process, "worker cpu1", 180)
    with Client(wanflow_cluster.address, timeout="30s") as client:  # what the next run is placed on
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        assert sorted(worker["name"] for worker in workers) == ["cpu0", "cpu1"]


def _run_on(cluster: Cluster, spec: Path, profile: str, out: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "wanflow"), "run", str(spec), "--profile", profile, "--cluster", cluster.address, "--out", str(out)],
        cwd=spec.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )


def _no_keyerror(cluster: Cluster) -> None:
    for name, log in (cluster.logs or {}).items():
        assert "KeyError" not in log.read_text(encoding="utf-8", errors="replace"), f"{name}: {log}"


def test_a_mixed_cluster_sends_every_a14b_shot_to_its_gpu80_worker(dask_cluster: Cluster, tmp_path: Path) -> None:
    """Dask lets allow_other_workers loosen a resource restriction (dask/distributed issue 4792): with
    work stealing on, A14B shots went to the 24 GB worker, which died of `KeyError: 'GPU80'`."""
    (tmp_path / "films").mkdir()
    spec = tmp_path / "films" / "film.yaml"
    spec.write_text(MIXED, encoding="utf-8")
    out = tmp_path / "out"
    run = _run_on(dask_cluster, spec, "test", out)
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output[-3000:]
    shots = {shot["shot_id"]: shot for shot in _run_json(out)["shots"]}
    assert {shots[s]["worker"] for s in ("wade", "onward")} == {"w80"}
    assert "w24" in {shots[s]["worker"] for s in ("sky", "city")}
    _no_keyerror(dask_cluster)


def test_a_worker_killed_mid_shot_has_its_shot_rendered_by_another_of_its_class(
    dask_cluster: Cluster, tmp_path: Path
) -> None:
    """A TI2V-5B shot runs on either worker: the one left renders it, and the records say who died."""
    spec = _storyboard(tmp_path / "films")
    spec.write_text(spec.read_text(encoding="utf-8").split("      - id: onward")[0], encoding="utf-8")  # one shot
    out = tmp_path / "out"
    run = _run_on(dask_cluster, spec, "slow", out)
    busy = _kill_mid_shot(dask_cluster.address, run, "wade")
    assert busy
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output[-3000:]
    run_json = _run_json(out)
    (shot,) = run_json["shots"]
    other = ({"w80", "w24"} - {busy}).pop()
    assert shot["status"] == "rendered" and shot["worker"] == other
    assert [(a["worker"], a["status"]) for a in shot["takes"][0]["attempts"]] == [(busy, "retried"), (other, "done")]
    manifest = json.loads((out / "film" / "manifest.json").read_text(encoding="utf-8"))  # the report says it too
    assert [(r["shot"], r["worker"], r["status"]) for r in manifest["run"]["retried"]] == [("wade", busy, "retried")]
    assert probe(out / "film" / "film.mp4").frames > 0
    tasks = _task_runs(f"{spec}:slow")
    assert "RUNNING" not in tasks.values() and tasks[f"shot-wade on {busy}"] == "CRASHED"
    _wait_for_workers(dask_cluster, 2)


def _wait_for_workers(cluster: Cluster, count: int) -> None:
    from distributed import Client

    with Client(cluster.address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=180)


def test_the_gpu80_worker_killed_mid_shot_and_restarted_by_its_nanny_finishes_the_film(
    dask_cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "films").mkdir()
    spec = tmp_path / "films" / "film.yaml"
    spec.write_text(DYING, encoding="utf-8")
    out = tmp_path / "out"
    run = _run_on(dask_cluster, spec, "slow80", out)
    assert _kill_mid_shot(dask_cluster.address, run, "sea") == "w80"
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output[-3000:]
    shots = {shot["shot_id"]: shot for shot in _run_json(out)["shots"]}
    assert shots["sea"]["status"] == "rendered" and shots["sea"]["worker"] == "w80"  # the nanny's new one
    attempts = [a["status"] for a in shots["sea"]["takes"][0]["attempts"]]
    assert attempts[-1] == "done" and set(attempts[:-1]) == {"retried"}  # a worker can die again as it restarts
    assert shots["sky"]["status"] == "rendered"
    loads = Counter((load["worker"], load["model"]) for load in _run_json(out)["loads"])
    assert loads[("w80", "generator:t2v-a14b")] >= 2  # the dead attempt's load is recorded too
    assert "RUNNING" not in _task_runs(f"{spec}:slow80").values()
    _no_keyerror(dask_cluster)


def test_with_no_gpu80_worker_left_the_shot_fails_alone_once_the_wait_is_over(
    dask_cluster: Cluster, tmp_path: Path
) -> None:
    """The nanny dies too: nothing brings an 80 GB worker back. The run ends (WANFLOW_WORKER_WAIT
    seconds later), that shot failed, the other done, no Prefect state left Running. Last of the
    module: the cluster has no GPU80 worker after it."""
    import psutil

    (tmp_path / "films").mkdir()
    spec = tmp_path / "films" / "film.yaml"
    spec.write_text(DYING, encoding="utf-8")
    out = tmp_path / "out"
    nanny = dask_cluster.processes["w80"].pid
    pids = [nanny, *(child.pid for child in psutil.Process(nanny).children(recursive=True))]
    run = _run_on(dask_cluster, spec, "slow80", out, WANFLOW_WORKER_WAIT="3")
    assert _kill_mid_shot(dask_cluster.address, run, "sea", pids) == "w80"
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 1, output[-3000:]
    shots = {shot["shot_id"]: shot for shot in _run_json(out)["shots"]}
    assert shots["sky"]["status"] == "rendered" and shots["sky"]["worker"] == "w24"
    assert shots["sea"]["status"] == "failed"
    assert "no worker with the GPU80 resource after its worker w80 died" in shots["sea"]["error"]
    assert "none joined within 3 s" in shots["sea"]["error"]
    states = _task_runs(f"{spec}:slow80")
    assert states["(flow run)"] == "FAILED" and not {"RUNNING", "PENDING"} & set(states.values())
    _no_keyerror(dask_cluster)


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
