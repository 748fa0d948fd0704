"""The `wanflow` command: parse arguments, call one function, print. No logic lives here."""

from __future__ import annotations

import importlib
import os
import sys

# A storyboard tool has no business phoning home; Prefect's temporary server would try.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer

from wanflow.cli.common import make_console, print_problems
from wanflow.errors import UserError

app = typer.Typer(
    name="wanflow",
    help="Turn a version-controlled storyboard into a finished film with the Wan2.2 video models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module exposes `register(app)`.
_COMMAND_MODULES = (
    "wanflow.cli.spec_cmds",
    "wanflow.cli.pick_cmds",
    "wanflow.cli.grammar_cmds",
    "wanflow.cli.models_cmds",
    "wanflow.cli.run_cmds",
    "wanflow.cli.cluster_cmds",
    "wanflow.cli.cache_cmds",
    "wanflow.cli.export_cmds",
)
for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console-script entry point: bad input anywhere ends with its problems and exit code 2."""
    try:
        app(standalone_mode=True)
    except UserError as error:
        print_problems(error)
        sys.exit(2)
    except KeyboardInterrupt:
        make_console(stderr=True).print("interrupted: finished work is kept in the cache; run again to resume")
        sys.exit(130)
