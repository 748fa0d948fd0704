"""How `--help` reads: flags without a type column, and `wanflow --version`.

Typer 0.29 prints `<bool>` after every flag (`--help <bool>`, `--force <bool>`): a flag takes no
value, so the column says nothing true. The option class is told to leave it empty for flags;
every other option keeps its type.
"""

from __future__ import annotations

from typing import Annotated

import typer
import typer.core

import wanflow

_display_type_rich = typer.core.TyperOption.display_type_rich


def _flag_without_type(self: typer.core.TyperOption, ctx) -> str | None:  # type: ignore[no-untyped-def]
    if self.is_flag and self.metavar is None:
        return None
    return _display_type_rich(self, ctx)


def plain_flags() -> None:
    """Flags show no `<bool>` in help (idempotent)."""
    typer.core.TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"wanflow {wanflow.__version__}")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option("--version", help="Print wanflow's version and exit.", callback=_print_version, is_eager=True),
]
"""`wanflow --version`: the root callback's option; it prints the version and exits 0 before any command."""
