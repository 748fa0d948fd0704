"""The `wanflow` console script: a run goes to a warm process when one waits (`wanflow.cli.warm`),
everything else (and a run when none waits) to the command line in this process."""

from __future__ import annotations

import sys

from wanflow.cli import warm  # first: it notes the environment before anything changes it


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        code = warm.forward(["wanflow", *sys.argv[1:]])
        if code is not None:
            sys.exit(code)
    from wanflow.cli.app import main as run_command_line

    run_command_line()
