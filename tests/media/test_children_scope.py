"""A scope's children end when the work beside them fails; `children.run` keeps subprocess.run's ways."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from wanflow.media import children

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_killing_a_scope_ends_the_children_its_work_started_and_refuses_new_ones() -> None:
    scope = children.Scope()
    started = threading.Event()
    outcome: list[object] = []

    def work() -> None:
        started.set()
        outcome.append(children.run(SLEEPER).returncode)  # killed: a negative return code
        outcome.append(children.run(SLEEPER).returncode)  # started after the kill: killed at once

    thread = threading.Thread(target=scope.call, args=(work,))
    began = time.monotonic()
    thread.start()
    started.wait(10)
    time.sleep(0.3)  # the first child runs
    scope.kill()
    thread.join(20)
    assert not thread.is_alive() and time.monotonic() - began < 20
    assert len(outcome) == 2 and all(code < 0 for code in outcome)


def test_children_outside_a_scope_are_not_touched_by_its_kill() -> None:
    children.Scope().kill()
    assert children.run([sys.executable, "-c", "print('hi')"], capture_output=True, text=True).stdout == "hi\n"


def test_run_passes_input_captures_output_and_kills_on_a_timeout() -> None:
    echo = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"]
    assert children.run(echo, input=b"abc", capture_output=True).stdout == b"ABC"
    with pytest.raises(subprocess.TimeoutExpired):
        children.run(SLEEPER, timeout=0.5)
