"""`wanflow compile` (the exact text the model will see, and why) and `wanflow vocab`."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from wanflow.cli.common import AllowReadOpt, make_console, named, stderr, user_errors
from wanflow.confine import Confinement
from wanflow.errors import Problem, UserError, shown
from wanflow.film import Lang
from wanflow.grammar.compile import CompiledShot, compile_film
from wanflow.grammar.files import load_vocabulary, storyboard_grammar_dir
from wanflow.grammar.lint import EXPLANATIONS
from wanflow.grammar.vocabulary import Term, UnknownCategory, Vocabulary

MODE_NAMES = {"t2v": "text-to-video", "i2v": "image-to-video"}


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_command)
    app.command("vocab")(vocab_command)


def compile_command(
    spec: Annotated[Path, typer.Argument(help="The storyboard YAML file.")],
    shot: Annotated[str | None, typer.Option("--shot", help="Only this shot (its id).")] = None,
    lang: Annotated[Lang | None, typer.Option("--lang", help="Prompt language, overriding the storyboard's.")] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show which field produced each phrase, and why each warning.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a stable JSON list, fit for diffing.")] = False,
    allow_read: AllowReadOpt = None,
) -> None:
    """Print exactly the prompts the model will see, per shot, with lint warnings."""
    with user_errors():
        from wanflow.confine import allow_reading
        from wanflow.storyboard.load import load_film  # only this command needs the spec loader

        allow_reading(allow_read)
        film = load_film(spec)
        compiled = compile_film(film, lang)
        if shot is not None:
            compiled = [item for item in compiled if item.shot_id == shot]
            if not compiled:
                ids = [item.id for item in film.shots]
                close = difflib.get_close_matches(shot, ids, n=3)
                hint = f"did you mean {' or '.join(close)}? " if close else ""
                message = f"no shot {shot!r}; {hint}the shots are {', '.join(ids)}"
                raise UserError(Problem(str(spec), None, None, "--shot", message))
        if as_json:
            records = [dataclasses.asdict(item) for item in compiled]
            typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
            return
        console = make_console()
        for item in compiled:
            _print_shot(console, item, explain)


def _print_shot(console: Console, item: CompiledShot, explain: bool) -> None:
    header = f"{item.shot_id} · {MODE_NAMES[item.mode]} · {item.lang}"
    console.rule(Text(header, style="bold cyan"), align="left")
    console.print(Text(shown(item.prompt)))
    console.print(Text("negative prompt:", style="dim"))
    console.print(Text(shown(item.negative)))
    if explain:
        table = Table("#", "phrase", "source", show_edge=False)
        for number, phrase in enumerate(item.phrases, start=1):
            table.add_row(str(number), Text(shown(phrase.text)), Text(shown(phrase.source)))
        console.print(table)
    for warning in item.warnings:
        stderr.print(
            f"[yellow]warning[/] {escape(warning.code)} {escape(item.shot_id)} "
            f"{named(warning.field)}: {named(warning.message)}"
        )
        if explain and warning.code in EXPLANATIONS:
            stderr.print(f"  [dim]why {escape(warning.code)}:[/] {escape(EXPLANATIONS[warning.code])}")


def vocab_command(
    category: Annotated[str | None, typer.Argument(help="A field name, e.g. lighting.")] = None,
    lang: Annotated[Lang | None, typer.Option("--lang", help="Show only this language's terms.")] = None,
) -> None:
    """List the vocabulary's categories, or the terms of one (the grammar found from here)."""
    with user_errors():
        vocabulary = load_vocabulary(storyboard_grammar_dir(Path.cwd(), Confinement.of_folder(Path.cwd())))
        console = make_console(soft_wrap=False)
        if category is None:
            console.print(_categories_table(vocabulary, lang))
            return
        try:
            terms = vocabulary.terms(category)
        except UnknownCategory as error:
            raise UserError(Problem(str(vocabulary.path), None, None, "category", str(error))) from None
        info = vocabulary.category(category)
        columns = ("zh", "en") if lang is None else (lang,)
        table = Table(*columns, "aliases", "source", title=f"{info.name}: {info.zh} / {info.en}")
        for term in terms:
            texts = [term.zh if column == "zh" else _english(term) for column in columns]
            table.add_row(*texts, ", ".join(term.aliases), term.source)
        table.caption = f"{info.note}\n{vocabulary.path}" if info.note else str(vocabulary.path)
        console.print(table)


def _english(term: Term) -> str:
    """The dictionary's English, and the official rewriter's form that en prompts write if it differs."""
    return f"{term.en} (prompts: {term.prompt_en})" if term.prompt_en else term.en


def _categories_table(vocabulary: Vocabulary, lang: Lang | None) -> Table:
    names = ("zh", "en") if lang is None else (lang,)
    table = Table(title="Wan2.2 prompt vocabulary")
    table.add_column("field", no_wrap=True)
    for column in (*names, "family", "takes", "terms"):
        table.add_column(column)
    for name in vocabulary.categories:
        info = vocabulary.category(name)
        family_zh, family_en = vocabulary.families[info.family]
        family = {"zh": family_zh, "en": family_en}[lang or "en"]
        texts = [info.zh if column == "zh" else info.en for column in names]
        takes = "a list" if info.multiple else "one term"
        table.add_row(info.field_path, *texts, family, takes, str(len(info.terms)))
    table.caption = str(vocabulary.path)
    return table
