"""`wanflow pick`: choose the take of a shot the film uses, in the storyboard itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wanflow.cli.common import make_console, user_errors
from wanflow.errors import shown

stdout = make_console()


def pick(
    spec: Annotated[Path, typer.Argument(help="The storyboard spec (YAML).", show_default=False)],
    shot: Annotated[str, typer.Argument(help="The shot's id.", show_default=False)],
    take: Annotated[int, typer.Argument(help="The take the film uses: 1 .. the shot's takes.", show_default=False)],
) -> None:
    """Write `take: K` into the shot (one line; comments and formatting kept); the next run only re-cuts."""
    from wanflow.storyboard.pick import pick_take

    with user_errors():
        result = pick_take(spec, shot, take)
    if not result.changed:
        stdout.print(f"{shown(str(spec))}: {shot} already uses take {take}; nothing changed", markup=False)
        return
    stdout.print(
        f"{shown(str(spec))}:{result.line}: {shot} uses take {take} (was take {result.previous})", markup=False
    )
    if result.continuations:
        again = f"renders again the shots continuing from it: {', '.join(result.continuations)}"
    else:
        again = "no take renders again"
    stdout.print(f"next: wanflow run {shown(str(spec))} cuts the film with it ({again})", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(pick)
