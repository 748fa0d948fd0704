"""`wanflow cache ls|du|gc|verify`: see what the artifact cache holds, tidy it, check it."""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import humanize
import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from wanflow import settings
from wanflow.cache import admin  # noqa: I001
from wanflow.cache.store import KIND_PATTERN, KINDS, ArtifactStore, default_cache_dir
from wanflow.cli.common import AllowReadOpt, make_console, print_table, stderr, user_errors
from wanflow.confine import Confinement
from wanflow.errors import Problem, UserError

console = make_console()  # paths stay whole on one line
cache_app = typer.Typer(
    name="cache",
    help="Inspect and tidy the artifact cache (prompt embeddings, latents, clips, soundtrack mixes).",
    no_args_is_help=True,
)

CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Cache folder (default: $WANFLOW_CACHE, else .wanflow/cache at the repository root, where runs write it).",
    ),
]
KindOpt = Annotated[str | None, typer.Option("--kind", help="Only this kind: embeds, latents, clips or sounds.")]


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("ls")
def ls_command(kind: KindOpt = None, cache: CacheOpt = None) -> None:
    """List entries: kind, key, size, age, last use and what they were made for."""
    with user_errors():
        store = _open(cache, None)
        _check_kind_option(kind, store)
        listed = list(admin.entries(store, kind))
    if not listed:
        console.print(f"no entries in {escape(str(store.root))}")
        return
    console.print(f"cache {escape(str(store.root))}")
    table = Table()
    for column in ("kind", "key", "size", "created", "last used", "meta"):
        table.add_column(
            column, justify="right" if column == "size" else "left", no_wrap=column != "meta", overflow="fold"
        )
    for entry in listed:
        table.add_row(
            entry.kind,
            entry.key[:12],
            humanize.naturalsize(entry.size),
            _age(entry.created),
            _age(entry.last_used),
            escape(_summary(entry.meta)),
        )
    print_table(console, table)
    console.print(f"{len(listed)} entries, {humanize.naturalsize(sum(entry.size for entry in listed))}")


@cache_app.command("du")
def du_command(cache: CacheOpt = None) -> None:
    """Disk use per kind, and the total."""
    with user_errors():
        store = _open(cache, None)
        usage = admin.du(store)
    console.print(f"cache {escape(str(store.root))}")
    table = Table()
    table.add_column("kind")
    table.add_column("entries", justify="right")
    table.add_column("size", justify="right")
    for row in usage:
        table.add_row(row.kind, str(row.entries), humanize.naturalsize(row.size))
    table.add_row(
        "[bold]total[/]",
        str(sum(row.entries for row in usage)),
        humanize.naturalsize(sum(row.size for row in usage)),
    )
    print_table(console, table)


@cache_app.command("gc")
def gc_command(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Keep every entry these storyboards reference.",
            metavar="SPEC",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Remove only entries unused this long: 30m, 12h, 7d, 2w.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be removed; remove nothing.")] = False,
    cache: CacheOpt = None,
    allow_read: AllowReadOpt = None,
) -> None:
    """Remove entries that no SPEC references and/or that went unused for --older-than (both: both hold)."""
    from wanflow.cache.admin import parse_age
    from wanflow.confine import allow_reading

    with user_errors():
        allow_reading(allow_read)
        age = None
        if older_than is not None:
            try:
                age = parse_age(older_than)
            except ValueError as error:
                raise UserError(_option_problem("--older-than", str(error))) from None
        if not specs and age is None:
            raise UserError(
                _option_problem("SPEC", "say what to keep: give storyboard SPEC files, --older-than, or both")
            )
        store = _open(cache, specs[0] if specs else None)
        keep = _referenced_keys(specs) if specs else None
        result = admin.gc(store, keep=keep, older_than=age, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for link in result.links:
        console.print(f"ignored {escape(str(link))}: a link in the cache is never followed or removed by gc")
    if result.removed:
        console.print(f"{verb} from {escape(str(store.root))}:")
        table = Table()
        for column in ("kind", "key", "size", "last used"):
            table.add_column(column, justify="right" if column == "size" else "left")
        for entry in result.removed:
            table.add_row(entry.kind, entry.key[:12], humanize.naturalsize(entry.size), _age(entry.last_used))
        print_table(console, table)
    console.print(
        f"{verb} {len(result.removed)} entries and {result.leftovers_removed} leftover temp dirs "
        f"({humanize.naturalsize(result.freed)}); kept {result.kept}"
    )


@cache_app.command("verify")
def verify_command(
    kind: KindOpt = None,
    fix: Annotated[bool, typer.Option("--fix", help="Remove corrupt entries (the next run rebuilds them).")] = False,
    cache: CacheOpt = None,
) -> None:
    """Check every entry's files against the sizes and sha256 sums in its meta.json (exit 1 if corrupt)."""
    with user_errors():
        store = _open(cache, None)
        _check_kind_option(kind, store)
        checked = 0
        with Progress(console=stderr, transient=True) as progress:
            task = progress.add_task("verifying", total=None)

            def show(done: int, total: int) -> None:
                nonlocal checked
                checked = done
                progress.update(task, completed=done, total=total)

            corrupt = admin.verify(store, kind=kind, fix=fix, progress=show)
    for problem in corrupt:
        console.print(f"[red]corrupt[/] {problem.kind}/{problem.key}: {escape(problem.reason)}")
    if not corrupt:
        console.print(f"{checked} entries checked, all intact")
    elif fix:
        console.print(f"{checked} entries checked, {len(corrupt)} corrupt, removed; the next run rebuilds them")
    else:
        console.print(f"{checked} entries checked, {len(corrupt)} corrupt; run with --fix to remove them")
        raise typer.Exit(code=1)


def _open(cache: Path | None, spec: Path | None) -> ArtifactStore:
    """The cache a run of `spec` (or of the storyboards here) uses; one that is not there is an error."""
    root = cache if cache is not None else default_cache_dir(spec)
    named_by = "--cache" if cache is not None else "WANFLOW_CACHE" if settings.current().cache else "cache"
    if not root.exists():
        where = {
            "--cache": "the folder --cache names does not exist",
            "WANFLOW_CACHE": "the folder $WANFLOW_CACHE names does not exist",
            "cache": "no run has written one yet; runs write .wanflow/cache at the repository root "
            "(the nearest folder with .git, else beside the spec); --cache DIR names another",
        }[named_by]
        raise UserError(_option_problem(named_by, f"no cache at {root}: {where}"))
    if not root.is_dir():
        raise UserError(_option_problem(named_by, f"{root} is a file, not a cache folder"))
    if named_by == "cache":  # the repository's own cache: a link committed there must not lead gc out
        confinement = Confinement.of_folder(spec.parent if spec is not None else Path.cwd())
        if not confinement.contains(root.resolve()):
            message = (
                f"{root} is inside the storyboard repository but leads outside it (a link?); name a cache with --cache"
            )
            raise UserError(_option_problem(named_by, message))
    return ArtifactStore(root)


def _referenced_keys(specs: list[Path]) -> set[str]:
    from wanflow.plan.jobs import referenced_keys
    from wanflow.run.premix import soundtrack_keys

    keep: set[str] = set()
    for spec in specs:
        keep |= referenced_keys(spec) | soundtrack_keys(spec)
    return keep


def _check_kind_option(kind: str | None, store: ArtifactStore) -> None:
    """A kind wanflow writes, or one this cache holds; anything else is a typo, not "0 entries"."""
    if kind is None:
        return
    known = list(dict.fromkeys([*KINDS, *admin.kinds(store)]))
    if not KIND_PATTERN.fullmatch(kind) or kind not in known:
        hint = difflib.get_close_matches(kind, known, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise UserError(_option_problem("--kind", f"unknown kind {kind!r}{suggestion} (kinds: {', '.join(known)})"))


def _option_problem(option: str, message: str) -> Problem:
    return Problem(file="command line", line=None, column=None, field=option, message=message)


def _age(moment: datetime) -> str:
    return humanize.naturaltime(datetime.now(UTC) - moment)


def _summary(meta: dict[str, object] | None) -> str:
    if meta is None:
        return "(meta.json unreadable: run `wanflow cache verify`)"
    pairs = [
        f"{name}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for name, value in meta.items()
    ]
    text = " ".join(pairs)
    return text if len(text) <= 120 else text[:117] + "..."
