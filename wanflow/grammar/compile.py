"""The prompt compiler: a resolved shot -> exactly the text Wan2.2 sees, and why.

The wording and order live in Jinja templates (prompt_grammar/templates/<mode>.<lang>.j2) so
a storyboard can change them without touching code. User text only ever enters a template
as a variable value, inside a sandbox, so `{{ ... }}` in a description stays literal. The
templates themselves may come from someone else: they render in `sandbox.BoundedEnvironment`
(files only from the template folders, bounded time and values), and whatever fails inside
one is reported at that template's file and line.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2

from wanflow.errors import Problem, UserError
from wanflow.film import Film, Lang, Shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.lint import LintWarning, PromptTerm, lint_shot
from wanflow.grammar.reading import read_text
from wanflow.grammar.sandbox import BoundedEnvironment
from wanflow.grammar.vocabulary import Term, Vocabulary

__all__ = ["CompiledShot", "LintWarning", "Phrase", "compile_film", "compile_shot", "template_dirs"]

FREE_TEXT_FIELDS = ("subject", "scene", "action", "extra")
# What separates phrases in a rendered prompt; left-over template text is reported as such.
_SEPARATORS = "，,。.、;；:：!！?？ \t\n"


@dataclass(frozen=True)
class Phrase:
    text: str
    source: str  # field path ("look.lighting", "subject", ...), "prompt" or "template"


@dataclass(frozen=True)
class CompiledShot:
    shot_id: str
    mode: Literal["t2v", "i2v"]
    lang: Lang
    prompt: str
    negative: str
    phrases: tuple[Phrase, ...]
    warnings: tuple[LintWarning, ...]


def template_dirs(grammar_dir: Path) -> list[Path]:
    """Where templates are looked up, file by file: the grammar's own, then the packaged ones.

    The grammar's own `templates/` must be a folder inside it (not a link out of it).
    """
    dirs = []
    for grammar in dict.fromkeys((grammar_dir.resolve(), packaged_grammar_dir().resolve())):
        written = grammar / "templates"
        if not os.path.lexists(written):
            continue
        folder = written.resolve()
        if grammar not in folder.parents:
            message = f"leads outside {grammar}; templates are read only from inside the grammar folder"
            raise UserError(Problem(str(written), None, None, "", message))
        if folder.is_dir():
            dirs.append(folder)
    return dirs


def compile_film(film: Film, lang: Lang | None = None) -> list[CompiledShot]:
    compiler = _Compiler(film)
    return [compiler.compile(shot, lang) for shot in film.shots]


def compile_shot(film: Film, shot: Shot, lang: Lang | None = None) -> CompiledShot:
    return _Compiler(film).compile(shot, lang)


class _Compiler:
    """One film's vocabulary and template environment, shared by all its shots."""

    def __init__(self, film: Film) -> None:
        self.film = film
        grammar_dir = film.grammar_dir or packaged_grammar_dir()
        self.vocabulary: Vocabulary = load_vocabulary(grammar_dir)
        self.environment = BoundedEnvironment(template_dirs(grammar_dir))

    def compile(self, shot: Shot, lang: Lang | None) -> CompiledShot:
        lang = lang or shot.lang
        mode: Literal["t2v", "i2v"] = "i2v" if shot.image_conditioned else "t2v"
        if shot.prompt is not None:
            prompt = shot.prompt.strip()
            phrases: tuple[Phrase, ...] = (Phrase(prompt, "prompt"),) if prompt else ()
            emitted: list[Term] = []
        else:
            context, candidates, emitted = self._context(shot, mode, lang)
            prompt = self._render(f"{mode}.{lang}.j2", context, shot)
            phrases = _explain(prompt, candidates)
        terms = self._prompt_terms(emitted, phrases)
        warnings = lint_shot(self.vocabulary, shot, mode=mode, lang=lang, prompt=prompt, terms=terms)
        return CompiledShot(shot.id, mode, lang, prompt, shot.negative, phrases, warnings)

    def _prompt_terms(self, emitted: list[Term], phrases: tuple[Phrase, ...]) -> list[PromptTerm]:
        """Every term in the prompt: those the fields emitted, and those written as free text."""
        field_paths = {self.vocabulary.category(name).field_path for name in self.vocabulary.categories}
        terms = [PromptTerm(term, self.vocabulary.category(term.category).field_path) for term in emitted]
        for phrase in phrases:
            if phrase.source not in field_paths:
                terms += [
                    PromptTerm(found.term, phrase.source, found.words, found.prose)
                    for found in read_text(self.vocabulary, phrase.text)
                ]
        return terms

    def _context(self, shot: Shot, mode: str, lang: Lang) -> tuple[dict[str, object], list[Phrase], list[Term]]:
        """Template variables, the phrases they may emit (in field order), and the terms used."""
        context: dict[str, object] = {"lang": lang}
        candidates: list[Phrase] = []
        emitted: list[Term] = []
        look: dict[str, object] = {}
        for name in self.vocabulary.categories:
            category = self.vocabulary.category(name)
            if category.look and mode == "i2v":
                continue  # the start image fixes the look
            holder = shot.look if category.look else shot
            values = getattr(holder, name)
            values = list(values) if category.multiple else ([values] if values else [])
            texts = []
            for value in values:
                term = self._term(shot, category.field_path, name, value)
                if term is None:  # plain words in an open field, kept verbatim
                    texts.append(_clean(value))
                else:
                    texts.append(term.text(lang))
                    emitted.append(term)
            candidates += [Phrase(text, category.field_path) for text in texts if text]
            value_out: object = texts if category.multiple else (texts[0] if texts else "")
            (look if category.look else context)[name] = value_out
        if mode == "t2v":
            context["look"] = look
        for name in FREE_TEXT_FIELDS:
            if mode == "i2v" and name == "scene":
                continue
            context[name] = _clean(getattr(shot, name))
            if context[name]:
                candidates.append(Phrase(str(context[name]), name))
        return context, candidates, emitted

    def _term(self, shot: Shot, field_path: str, category: str, value: str) -> Term | None:
        try:
            return self.vocabulary.term(category, value)
        except KeyError:
            if self.vocabulary.category(category).open:
                return None
            message = (
                f"{value!r} is not a canonical {category} term of {self.vocabulary.path}; "
                f"`wanflow vocab {category}` lists them"
            )
            raise UserError(Problem(str(self.film.path), shot.line, None, f"{shot.id}.{field_path}", message)) from None

    def _render(self, name: str, context: dict[str, object], shot: Shot) -> str:
        try:
            template = self.environment.get_template(name)
        except jinja2.TemplateNotFound:
            places = ", ".join(str(path) for path in self.environment.loader.folders)
            raise UserError(
                Problem(str(self.film.path), shot.line, None, shot.id, f"no template {name} in {places}")
            ) from None
        except Exception as error:  # a template is someone else's code: whatever it raises is its mistake
            raise self._template_error(error, shot, None) from None
        try:
            return self.environment.render(template, context).strip()
        except Exception as error:
            raise self._template_error(error, shot, template.filename) from None

    def _template_error(self, error: Exception, shot: Shot, filename: str | None) -> UserError:
        """The template's file and line, and what went wrong there, for a shot that failed to compile."""
        if isinstance(error, jinja2.TemplateSyntaxError) and error.filename:
            file, line, what = error.filename, error.lineno, error.message
        elif isinstance(error, jinja2.TemplateNotFound):
            file, line = _template_line(error, self.environment.loader.folders)
            what = f"no template {error.name!r} in {', '.join(map(str, self.environment.loader.folders))}"
        else:
            file, line = _template_line(error, self.environment.loader.folders)
            what = str(error) if isinstance(error, jinja2.TemplateError) else f"{type(error).__name__}: {error}"
        message = f"template error while compiling shot {shot.id!r}: {what}"
        return UserError(Problem(file or filename or str(self.film.path), line, None, "", message[:500]))


def _clean(text: str) -> str:
    """Free text with its whitespace collapsed and trailing separators dropped (the template adds its own)."""
    return " ".join(text.split()).rstrip(_SEPARATORS)


def _template_line(error: Exception, folders: list[Path]) -> tuple[str | None, int | None]:
    """The innermost template frame of the error's traceback (Jinja maps them to template lines)."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if any(folder in Path(frame.filename).parents for folder in folders)
    ]
    return (frames[-1].filename, frames[-1].lineno) if frames else (None, None)


def _explain(prompt: str, candidates: list[Phrase]) -> tuple[Phrase, ...]:
    """Attribute each stretch of the rendered prompt to the field that produced it.

    Longer phrases claim their text first, so a term inside a longer description (or 广角
    inside 超广角-鱼眼) is not mistaken for it; text no field produced is the template's own.
    """
    taken = [False] * len(prompt)
    spans: list[tuple[int, int, Phrase]] = []
    order = sorted(range(len(candidates)), key=lambda index: (-len(candidates[index].text), index))
    for index in order:
        phrase = candidates[index]
        start = prompt.find(phrase.text)
        while start != -1 and any(taken[start : start + len(phrase.text)]):
            start = prompt.find(phrase.text, start + 1)
        if start == -1:
            continue  # the template did not use it
        end = start + len(phrase.text)
        taken[start:end] = [True] * (end - start)
        spans.append((start, end, phrase))
    phrases: list[Phrase] = []
    position = 0
    for start, end, phrase in sorted(spans, key=lambda span: span[0]):
        phrases += _template_text(prompt[position:start])
        phrases.append(phrase)
        position = end
    phrases += _template_text(prompt[position:])
    return tuple(phrases)


def _template_text(text: str) -> list[Phrase]:
    text = text.strip(_SEPARATORS)
    return [Phrase(text, "template")] if text else []
