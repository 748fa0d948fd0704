"""`wanflow validate`, `wanflow schema`, `wanflow init`: the storyboard format's commands.

Kept light on purpose (no torch, diffusers or prefect), so `validate` is quick enough for a
pre-commit hook.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from wanflow.cli.common import AllowReadOpt, make_console, print_problems, user_errors
from wanflow.errors import UserError, shown
from wanflow.film import Film

stdout = make_console()


def validate(
    specs: Annotated[list[Path], typer.Argument(help="Storyboard files to check.", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
    allow_read: AllowReadOpt = None,
) -> None:
    """Check storyboards: every problem of every file, one line each (exit code 2 if any)."""
    from wanflow.confine import allow_reading
    from wanflow.media.checks import soundtrack_problems
    from wanflow.storyboard.load import load_film

    with user_errors():
        allow_reading(allow_read)
    failed = False
    for path in specs:
        try:
            film = load_film(path)
            media = soundtrack_problems(film)  # decodes, with a length: not found out at the cut
            if media:
                raise UserError(media)
        except UserError as error:
            print_problems(error)
            failed = True
            continue
        if not quiet:
            stdout.print(f"{shown(str(path))}: OK, {summary(film)}", markup=False)
    if failed:
        raise typer.Exit(code=2)


def summary(film: Film) -> str:
    """`7 shots in 2 scenes, 19.5 s` (shots without a set duration are counted apart)."""
    shots = film.shots
    seconds = sum(shot.duration for shot in shots if shot.duration is not None)
    text = f"{len(shots)} shot{'s' if len(shots) != 1 else ''} in {len(film.scenes)} scene{'s' if len(film.scenes) != 1 else ''}, {seconds:g} s"
    untimed = sum(1 for shot in shots if shot.duration is None)
    if untimed:
        text += f" + {untimed} shot{'s' if untimed != 1 else ''} timed in frames or by the backend"
    return text


def schema() -> None:
    """Print the JSON Schema of the storyboard format (editors use it to complete and check)."""
    from wanflow.storyboard.load import film_json_schema

    with user_errors():
        sys.stdout.write(json.dumps(film_json_schema(), ensure_ascii=False, indent=2) + "\n")


def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new storyboard repository.")] = Path("."),
) -> None:
    """Scaffold a storyboard repository: example spec, Prefect deployments, pre-commit hook, schema."""
    from wanflow.cli.newrepo import ensure_repository
    from wanflow.cli.scaffold import write_scaffold

    with user_errors():
        written = write_scaffold(directory)
        repository = ensure_repository(directory)
    for path in written:
        stdout.print(f"wrote {path}", markup=False)
    stdout.print(repository, markup=False)
    go = "" if directory.absolute() == Path.cwd() else f"cd {shlex.quote(str(directory))} && "
    stdout.print("next:", markup=False)
    for command in NEXT_COMMANDS:
        stdout.print(f"  {go}{command}", markup=False)


NEXT_COMMANDS = (
    "wanflow validate specs/film.yaml",
    "wanflow plan specs/film.yaml --profile preview",
    "wanflow run specs/film.yaml --profile preview",
)


def keys() -> None:
    """Print every key of the storyboard format, level by level (the reference in docs/spec-format.md)."""
    from wanflow.storyboard.keyref import key_reference

    with user_errors():
        sys.stdout.write(key_reference())


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(schema)
    app.command()(init)
    app.command()(keys)
