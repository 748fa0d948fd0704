"""The `wanflow` command: parse arguments, call one function, print. No logic lives here."""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from typing import NoReturn

import typer

from wanflow import settings
from wanflow.cli.common import make_console, print_problems, user_errors
from wanflow.cli.helpstyle import VersionOpt, plain_flags
from wanflow.errors import UserError

settings.set_prefect_defaults()  # before anything imports Prefect

app = typer.Typer(
    name="wanflow",
    help="Turn a version-controlled storyboard into a finished film with the Wan2.2 video models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

plain_flags()


@app.callback()
def _read_environment(version: VersionOpt = False) -> None:
    """Each command reads wanflow's environment once, before it does anything (`--version`: eager, first)."""
    with user_errors():
        settings.reload()


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
        app(standalone_mode=True, prog_name="wanflow")
        code: int | str | None = 0
    except UserError as error:
        print_problems(error)
        code = 2
    except KeyboardInterrupt:
        make_console(stderr=True).print("interrupted: finished work is kept in the cache; run again to resume")
        code = 130
    except SystemExit as done:  # typer ends every command this way
        code = done.code
    _end_process(code)


def _end_process(code: int | str | None) -> NoReturn:
    """Leave without tearing the interpreter down, once the exit hooks have run.

    Python's teardown frees every object one by one: with torch, diffusers and Prefect loaded
    that is about 2 s at the end of every run, for memory the system takes back at once anyway.
    Nothing is lost by skipping it: every file a command writes is written atomically and closed
    before the command returns, and the exit hooks still run (Prefect sends its last logs and
    events from them, logging flushes its handlers). A thread still at work gets Python's usual
    exit, which waits for it.
    """
    if isinstance(code, str):  # sys.exit("message"): Python prints it and exits 1
        print(code, file=sys.stderr)
        code = 1
    code = code or 0
    if any(thread.is_alive() and not thread.daemon for thread in _other_threads()):
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python's own exit would run first; the stable CPython call for it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _other_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread is not threading.main_thread()]
