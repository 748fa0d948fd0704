"""The `wanflow` entry point: exit codes, output and exit hooks survive its fast exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# `main()` as the console script calls it, with an exit hook and, optionally, a thread still at work.
SCRIPT = """
import atexit, sys, threading, time
from pathlib import Path
marker = Path(sys.argv[1])
atexit.register(lambda: marker.write_text("exit hooks ran"))
if sys.argv[2] == "busy-thread":
    threading.Thread(target=lambda: (time.sleep(1.5), marker.with_suffix(".thread").write_text("done"))).start()
sys.argv = ["wanflow", *sys.argv[3:]]
from wanflow.cli.app import main
main()
"""


def _wanflow(tmp_path: Path, *args: str, thread: str = "no-thread") -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", SCRIPT, str(tmp_path / "marker"), thread, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_a_command_ends_with_its_code_its_whole_output_and_the_exit_hooks_run(tmp_path: Path) -> None:
    done = _wanflow(tmp_path, "schema")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("}")  # the whole schema, flushed before the process ended
    assert (tmp_path / "marker").read_text() == "exit hooks ran"


def test_bad_input_still_exits_2_with_its_message(tmp_path: Path) -> None:
    (tmp_path / "film.yaml").write_text("wanflow: 1\ntitle: x\nscenes: 3\n", encoding="utf-8")
    refused = _wanflow(tmp_path, "validate", "film.yaml")
    assert refused.returncode == 2
    assert "film.yaml" in refused.stdout + refused.stderr
    assert (tmp_path / "marker").read_text() == "exit hooks ran"


def test_usage_errors_keep_their_code(tmp_path: Path) -> None:
    assert _wanflow(tmp_path, "no-such-command").returncode == 2
    assert _wanflow(tmp_path, "--help").returncode == 0


def test_a_thread_still_at_work_is_waited_for(tmp_path: Path) -> None:
    done = _wanflow(tmp_path, "schema", thread="busy-thread")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "marker.thread").read_text() == "done"
    assert (tmp_path / "marker").read_text() == "exit hooks ran"


def test_version_and_help_without_bool_noise() -> None:
    from typer.testing import CliRunner

    import wanflow
    from wanflow.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"wanflow {wanflow.__version__}\n")
    for command in ([], ["run"], ["cache", "ls"], ["export"]):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"}).output
        assert "--help" in shown and "<bool>" not in shown, shown
    assert "<int>" in runner.invoke(app, ["run", "--help"], env={"COLUMNS": "120"}).output  # other types stay
    export = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).output
    assert "comfyui" in export and "timelines: [otio, fcp_xml, edl]" in export
