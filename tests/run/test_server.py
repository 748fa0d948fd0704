"""The Prefect server a run reports to: the user's, watching for dead runs, or a temporary one (kept or guarded)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from wanflow.run.keeper import KeptPaths
from wanflow.run.server import run_server


@pytest.mark.parametrize("asked", [None, 60])
def test_on_the_users_server_prefect_s_own_heartbeats_are_off(asked) -> None:
    """Prefect joins its heartbeat thread at the end of every flow run (about 1 s); wanflow beats
    from a thread of its own instead (wanflow.run.heartbeat)."""
    settings = {PREFECT_API_URL: "http://127.0.0.1:4200/api"}
    if asked is not None:
        settings[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = asked
    with temporary_settings(updates=settings), run_server(log=lambda _: None):
        # (not asked to answer: nothing listens at that address; the check itself is test_hostile's)
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
        assert PREFECT_API_URL.value() == "http://127.0.0.1:4200/api"


# A run's view of its temporary server, as JSON on stdout.
TEMPORARY = """
import json, os, sys
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY
from wanflow.run.server import run_server
with run_server(log=lambda _: None) as server_up:
    server_up()
    server = [p for p in __import__("psutil").Process().children() if "uvicorn" in " ".join(p.cmdline())][0]
    print(json.dumps({
        "url": PREFECT_API_URL.value(),
        "heartbeat": PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value(),
        "server": server.pid,
        "server_stdout": os.readlink(f"/proc/{server.pid}/fd/1"),
        "server_stderr": os.readlink(f"/proc/{server.pid}/fd/2"),
        "own_stdout": os.readlink("/proc/self/fd/1"),
    }), flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the guard needs Linux's PR_SET_PDEATHSIG")
def test_the_temporary_server_answers_holds_no_pipe_of_the_run_and_ends_with_it(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([sys.executable, "-c", TEMPORARY], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["url"].startswith("http://127.0.0.1:") and seen["heartbeat"] is None
    assert seen["own_stdout"].startswith("pipe:")  # what a caller reading the run's output holds
    assert seen["server_stdout"] != seen["own_stdout"] and seen["server_stderr"] != seen["own_stdout"]
    try:
        server = psutil.Process(seen["server"])
    except psutil.NoSuchProcess:
        return  # already gone
    _, alive = psutil.wait_procs([server], timeout=30)
    assert not alive, "the temporary server outlived its run"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{seen['url']}/health", timeout=2)


# A run on a kept temporary server: its address, and whether an earlier run left the server.
KEPT = """
import json
from prefect.settings import PREFECT_API_URL
from wanflow.run.server import run_server
said = []
with run_server(log=said.append) as server_up:
    server_up()
    print(json.dumps({"url": PREFECT_API_URL.value(), "said": said}), flush=True)
"""


def _kept_run(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", KEPT], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _keepers(home: Path) -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if "wanflow.run.keeper" in (process.info["cmdline"] or []) and str(home) in " ".join(process.info["cmdline"])
    ]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="the kept server is Linux's, as the guard is")
def test_a_kept_server_serves_the_next_run_and_stops_when_asked(tmp_path: Path) -> None:
    """The second run finds the first run's server (no pipe of either run held: `subprocess.run`
    returned), and `wanflow server stop` ends it and its keeper."""
    home = tmp_path / "prefect"
    env = {**os.environ, "PREFECT_HOME": str(home), "WANFLOW_SERVER_LINGER": "600"}
    env.pop("PREFECT_API_URL", None)
    first, second = _kept_run(env), _kept_run(env)
    assert "starting Prefect's temporary server; it stays up 10 min" in first["said"][0]
    assert second == {"url": first["url"], "said": ["using Prefect's temporary server, kept from an earlier run"]}
    keepers = _keepers(home)
    assert len(keepers) == 1 and keepers[0].ppid() != os.getpid()  # not this process's child: its own session
    stop = [sys.executable, "-c", "from wanflow.cli.app import main; main()", "server", "stop"]
    done = subprocess.run(stop, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "stopped 1 temporary Prefect server(s)" in done.stdout, done.stderr
    _, alive = psutil.wait_procs(keepers, timeout=30)
    assert not alive and not _answers(str(first["url"]))
    assert not list(home.glob("wanflow-server-*.json"))


def test_the_keeper_stops_its_server_once_no_run_held_the_lease_for_the_linger(tmp_path: Path) -> None:
    """The keeper's own rule, on a process that stands in for the server (the keeper runs any command)."""
    paths = KeptPaths.under(tmp_path, "test")
    paths.lease.touch()
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    command = [sys.executable, "-m", "wanflow.run.keeper", str(paths.record), "1", str(paths.log), "--", *sleeper]
    with open(paths.lease, "rb") as lease:
        fcntl.flock(lease, fcntl.LOCK_SH)  # a run using the server
        keeper = subprocess.Popen(command)
        paths.record.write_text(json.dumps({"url": "http://127.0.0.1:1/api", "keeper": keeper.pid}), encoding="utf-8")
        time.sleep(3)  # three times the linger, the lease held all along
        assert keeper.poll() is None
        server = psutil.Process(keeper.pid).children()[0]
        os.utime(paths.lease)  # what a run does when it ends
    assert keeper.wait(timeout=30) == 0  # its linger after the run, then it stops the server
    assert not server.is_running() and not paths.record.exists()


SPEC = """\
wanflow: 1
title: Server
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the guard needs Linux's PR_SET_PDEATHSIG")
@pytest.mark.parametrize("linger", ["0", "600"], ids=["guarded", "kept"])
def test_a_temporary_server_that_cannot_start_ends_the_run_with_what_it_said(
    tmp_path: Path, tiny_models_root: Path, linger: str
) -> None:
    """Not the input's fault: exit code 1 and the server's own words, no traceback; a kept
    server's keeper ends with it and leaves no record."""
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "WANFLOW_SERVER_LINGER": linger}
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{tmp_path}/missing/folder/prefect.db"
    command = [sys.executable, "-c", "from wanflow.cli.app import main; main()", "run", str(spec), "-p", "test"]
    done = subprocess.run(command + ["-o", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=180)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert "run failed: Prefect's temporary server ended with exit code" in said
    assert "Traceback" not in said
    assert not _keepers(tmp_path / "prefect") and not list((tmp_path / "prefect").glob("wanflow-server-*.json"))


SLOW = """\
wanflow: 1
title: Zombie
lang: en
profiles:
  slow: { text: t2v-a14b, image: i2v-a14b, size: 256x160, steps: 400, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
"""


def test_a_run_killed_on_a_set_up_server_is_crashed_by_the_automation(
    prefect_server, tiny_models_root: Path, tmp_path: Path
) -> None:
    """`kill -9` of `wanflow run`: nothing reports its end, so its heartbeats stop and the automation
    `wanflow server setup` installed marks it Crashed (within 2 minutes with the defaults: a beat
    every 30 s, crashed after 90 s of silence). Here beats come every 3 s and 10 s of silence
    crash it (Prefect's least), so the test waits about 15 s, not 2 minutes."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from wanflow.run.heartbeat import AUTOMATION_NAME

    (tmp_path / "films").mkdir()
    spec = tmp_path / "films" / "film.yaml"
    spec.write_text(SLOW, encoding="utf-8")
    env = {**os.environ, "WANFLOW_HEARTBEAT_SECONDS": "3"}
    wanflow = [sys.executable, "-c", "from wanflow.cli.app import main; main()"]
    try:
        setup = subprocess.run(wanflow + ["server", "setup"], env=env, capture_output=True, text=True, timeout=120)
        assert setup.returncode == 0, setup.stderr
        assert f"automation {AUTOMATION_NAME}" in setup.stdout and "silent for 10 s" in setup.stdout
        run = subprocess.Popen(
            wanflow + ["run", str(spec), "-p", "slow", "-o", str(tmp_path / "out")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with get_client(sync_client=True) as client:
            flow_run = None
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and run.poll() is None:
                named = FlowRunFilter(name=FlowRunFilterName(any_=[f"{spec}:slow"]))
                running = [r for r in client.read_flow_runs(flow_run_filter=named) if r.state.is_running()]
                if running:
                    flow_run = running[0]
                    break
                time.sleep(0.5)
            assert flow_run is not None, "the run never started"
            time.sleep(5)  # a beat or two
            run.kill()
            run.wait(timeout=30)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = client.read_flow_run(flow_run.id).state
                if state.is_final():
                    break
                time.sleep(1)
            assert state.type.value == "CRASHED", state
            assert "No heartbeat for 10 s" in (state.message or "")
    finally:
        with get_client(sync_client=True) as client:  # the other tests' runs beat every 30 s
            for automation in client.read_automations_by_name(AUTOMATION_NAME):
                client.delete_automation(automation.id)
