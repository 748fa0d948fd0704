"""What every command shares: turning UserError into clear messages and exit code 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from wanflow.errors import Problem, UserError, shown, shown_lines


class SafeConsole(Console):
    """A console that never lets printed text act on the terminal: every string it renders (tables
    included) has its control characters, escape sequences and bidi overrides shown escaped.
    Newlines stay, so a name a storyboard chose must still go through `shown` to stay on its line."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(shown_lines(text), **options)


def make_console(*, stderr: bool = False, soft_wrap: bool = True) -> Console:
    """Plain output: no guessing at highlights or emoji (`:100:` in `film.yaml:100:` is a line)."""
    return SafeConsole(stderr=stderr, highlight=False, emoji=False, soft_wrap=soft_wrap)


stderr = make_console(stderr=True)
PIPED_MAX_WIDTH = 1000  # a piped table is printed at its own width, up to this


def print_table(console: Console, table: Table) -> None:
    """A table with nothing cut short: piped (no terminal, where Rich assumes 80 columns) it takes
    its own width, one row per line; in a terminal narrower than the table, cells fold."""
    for column in table.columns:
        column.no_wrap, column.overflow = False, "fold"
    if console.is_terminal:
        console.print(table)
        return
    width = Measurement.get(console, console.options.update_width(PIPED_MAX_WIDTH), table).maximum
    SafeConsole(file=console.file, width=width, highlight=False, emoji=False, soft_wrap=console.soft_wrap).print(table)


AllowReadOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-read",
        metavar="DIR",
        help="Also let the storyboard read files in this folder (repeatable; adds to $WANFLOW_ALLOW_READ).",
        show_default=False,
    ),
]


def named(value: object) -> str:
    """A name or text a storyboard chose, for a line printed with markup: on its one line, no
    control characters or bidi overrides, and its brackets are not markup."""
    return escape(shown(str(value)))


def print_problems(error: UserError) -> None:
    """One line per problem on stderr, `file:line:column: field: message`, no traceback."""
    for problem in error.problems:
        stderr.print(f"[bold red]error[/]: {escape(str(problem))}", markup=True, highlight=False)


@contextmanager
def user_errors() -> Iterator[None]:
    """Wrap a command body: a UserError becomes its printed problems and exit code 2."""
    try:
        yield
    except UserError as error:
        print_problems(error)
        raise typer.Exit(code=2) from None


def default_out(spec: Path) -> Path:
    """`out/` at the storyboard repository's root, where the cache's `.wanflow/` is too, wherever
    the command runs from (an explicit relative `--out` is from the current folder, as any path)."""
    from wanflow.confine import repository_root

    return repository_root(spec.absolute().parent) / "out"


def split_ids(values: list[str] | None) -> list[str]:
    """`--only a,b --only c` -> ["a", "b", "c"]."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def gpu_ids(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(part) for part in split_ids([text]))
    except ValueError:
        raise UserError(
            Problem("wanflow", None, None, "--gpus", f"expected GPU indices like 0,1 not {text!r}")
        ) from None


INTERRUPT_GRACE_SECONDS = 15.0


@contextmanager
def interrupt_within(seconds: float = INTERRUPT_GRACE_SECONDS) -> Iterator[None]:
    """In the block, Ctrl-C (SIGINT) ends this process within `seconds`, whatever it is doing.

    The first Ctrl-C raises KeyboardInterrupt as usual, so the run ends cleanly (its ffmpeg
    killed, Prefect told); but a library may swallow the exception where it lands, or a thread
    may keep Python's exit waiting, and a run must not go on encoding after Ctrl-C. So the first
    also starts a clock: past `seconds`, or at a second Ctrl-C, the process ends at once, and
    its children with it (they asked the kernel to die with it). Every file is written
    atomically, so nothing is half-written either way. The clock, once started, outlives the
    block: it is what ends a process stuck after it.
    """
    import os
    import signal
    import sys
    import threading

    def end_now() -> None:
        print("interrupted: stopped; finished work is kept in the cache", file=sys.stderr, flush=True)
        os._exit(130)

    pressed = threading.Event()

    def on_interrupt(number: int, frame: object) -> None:
        if pressed.is_set():
            end_now()
        pressed.set()
        clock = threading.Timer(seconds, end_now)
        clock.daemon = True
        clock.start()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread takes signals
        yield
        return
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
