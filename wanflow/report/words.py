"""The report's words in the film's language: look terms as the film's prompts say them, and
lint warnings with the field they are about."""

from __future__ import annotations

from dataclasses import fields

from wanflow.film import Film, Shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.lint import LintWarning
from wanflow.grammar.vocabulary import Vocabulary


def film_vocabulary(film: Film) -> Vocabulary:
    """The vocabulary the film compiles with (its repository's own, or the packaged one)."""
    return load_vocabulary(film.grammar_dir or packaged_grammar_dir())


def look_words(shot: Shot, vocabulary: Vocabulary) -> dict[str, str]:
    """The look fields the shot sets, each term in the shot's language (canonical Chinese for zh)."""
    values = {}
    for item in fields(shot.look):
        value = getattr(shot.look, item.name)
        if value:
            terms = value if isinstance(value, tuple) else (value,)
            said = [_said(vocabulary, item.name, term, shot.lang) for term in terms]
            values[item.name] = ("、" if shot.lang == "zh" else ", ").join(said)
    return values


def _said(vocabulary: Vocabulary, category: str, zh: str, lang: str) -> str:
    if lang == "zh":
        return zh
    try:
        return vocabulary.term(category, zh).en
    except (KeyError, LookupError):
        return zh  # an open field's own words, or a category this vocabulary does not have


def warning_line(warning: LintWarning) -> str:
    """`W004 look.lighting: ignored for image-to-video ...`: two warnings of one rule stay apart."""
    return f"{warning.code.split('-')[0]} {warning.field}: {warning.message}"
