"""Ctrl-C ends a run within its grace, even where a library swallows the KeyboardInterrupt."""

from __future__ import annotations

import subprocess
import sys
import time

# A run whose KeyboardInterrupt is swallowed where it lands, and that would then go on for a minute.
SWALLOWED = """
import os, signal, time
from wanflow.cli.common import interrupt_within
with interrupt_within(1.0):
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        pass  # what a careless library does
    time.sleep(60)
"""


def test_a_swallowed_ctrl_c_still_ends_the_process_after_the_grace() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SWALLOWED], capture_output=True, text=True, timeout=30)
    assert done.returncode == 130 and "interrupted: stopped" in done.stderr
    assert time.monotonic() - started < 20  # the grace (1 s) and Python's start, not the minute


def test_a_second_ctrl_c_ends_it_at_once() -> None:
    twice = SWALLOWED.replace(
        "        pass  # what a careless library does", "        os.kill(os.getpid(), signal.SIGINT)"
    )
    twice = twice.replace("interrupt_within(1.0)", "interrupt_within(60.0)")
    done = subprocess.run([sys.executable, "-c", twice], capture_output=True, text=True, timeout=30)
    assert done.returncode == 130 and "interrupted: stopped" in done.stderr
