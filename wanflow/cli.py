"""The `wanflow` command: parse arguments, call one function, print. No logic lives here."""

from __future__ import annotations

import importlib
import os
import sys

# A storyboard tool has no business phoning home; Prefect's temporary server would try.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer

from wanflow.commands.common import make_console, print_problems
from wanflow.errors import UserError

app = typer.Typer(
    name="wanflow",
    help="Turn a version-controlled storyboard into a finished film with the Wan2.2 video models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module exposes `register(app)`; a module that is missing simply adds no commands.
_COMMAND_MODULES = (
    "wanflow.commands.spec_cmds",
    "wanflow.commands.grammar_cmds",
    "wanflow.commands.models_cmds",
    "wanflow.commands.run_cmds",
    "wanflow.commands.cache_cmds",
    "wanflow.commands.export_cmds",
)
for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as error:
        if error.name != _name:
            raise
        continue
    _module.register(app)


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
