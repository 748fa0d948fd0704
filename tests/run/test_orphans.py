"""No child outlives a killed run: `wanflow run` stopped during the cut by SIGTERM, SIGINT (Ctrl-C)
or `kill -9` leaves no ffmpeg behind. Real tiny models, real Prefect, real ffmpeg, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

# One tiny shot and two long 4K title cards: the film's encode (x264 ultrafast: a tiny film is cut
# quick) takes long enough to be caught.
SPEC = """\
wanflow: 1
title: Orphans
lang: en
output: { fps: 24, size: 3840x2160 }
titles:
  opening: { text: Orphans, duration: 60 }
  ending: { text: The end, duration: 60 }
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
"""
CLI = [sys.executable, "-c", "from wanflow.cli.app import main; main()"]


@pytest.fixture(scope="module")
def long_film(prefect_server, tiny_models_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("orphans")
    (folder / ".git").mkdir()
    spec = folder / "orphans.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def _the_cut(run: subprocess.Popen, limit: float = 240) -> psutil.Process:
    """The ffmpeg encoding the film's picture (into the cut's work folder), once it runs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before its cut started"
        try:
            for child in psutil.Process(run.pid).children(recursive=True):
                command = " ".join(child.cmdline())
                if ".orphans.partial-" in command and "picture.mp4" in command:
                    return child
        except psutil.Error:  # a short-lived child (a probe) ended while looked at
            pass
        time.sleep(0.1)
    pytest.fail("the cut did not start in time")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "kill-9"])
def test_a_run_killed_during_the_cut_leaves_no_ffmpeg(long_film: Path, stop: signal.Signals) -> None:
    env = {name: value for name, value in os.environ.items() if name != "WANFLOW_CACHE"}
    out = long_film.parent / f"out-{stop.name}"  # a cut one variant finished cannot answer the next
    argv = [*CLI, "run", str(long_film), "-p", "test", "-o", str(out)]
    run = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cut = _the_cut(run)
        children = psutil.Process(run.pid).children(recursive=True)
        os.kill(run.pid, stop)
        run.wait(timeout=60)
        _, alive = psutil.wait_procs([cut, *children], timeout=15)
        assert not alive, f"outlived the run after {stop.name}: {[(p.pid, p.name()) for p in alive]}"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
