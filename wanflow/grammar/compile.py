"""The prompt compiler: a resolved shot -> exactly the text Wan2.2 sees, and why.

The wording and order live in Jinja templates (prompt_grammar/templates/<mode>.<lang>.j2) so
a storyboard can change them without touching code. User text only ever enters a template
as a variable value, inside a sandbox, so `{{ ... }}` in a description stays literal.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from wanflow.errors import Problem, UserError
from wanflow.film import Film, Lang, Shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.lint import LintWarning, PromptTerm, lint_shot
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
    """Where templates are looked up, file by file: the grammar's own, then the packaged ones."""
    dirs = [grammar_dir / "templates", packaged_grammar_dir() / "templates"]
    return list(dict.fromkeys(path.resolve() for path in dirs if path.is_dir()))


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
        self.environment = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(path) for path in template_dirs(grammar_dir)]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )

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
                terms += [PromptTerm(term, phrase.source) for term in self.vocabulary.terms_in(phrase.text)]
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
        except jinja2.TemplateSyntaxError as error:
            raise UserError(
                Problem(str(error.filename), error.lineno, None, "", f"template error: {error.message}")
            ) from None
        except jinja2.TemplateNotFound:
            places = ", ".join(str(path) for path in template_dirs(self.film.grammar_dir or packaged_grammar_dir()))
            raise UserError(
                Problem(str(self.film.path), shot.line, None, shot.id, f"no template {name} in {places}")
            ) from None
        try:
            return template.render(context).strip()
        except jinja2.TemplateError as error:
            line = _template_line(error, template.filename)
            message = f"template error while compiling shot {shot.id!r}: {error}"
            raise UserError(Problem(str(template.filename), line, None, "", message)) from None


def _clean(text: str) -> str:
    """Free text with its whitespace collapsed and trailing separators dropped (the template adds its own)."""
    return " ".join(text.split()).rstrip(_SEPARATORS)


def _template_line(error: Exception, filename: str | None) -> int | None:
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    return frames[-1].lineno if frames else None


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
