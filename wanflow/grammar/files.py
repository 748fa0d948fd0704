"""The grammar's files: where a storyboard's prompt_grammar/ is, and reading its vocabulary.yaml.

The file is validated at the edge (pydantic) and built into the plain `Vocabulary` that
matching uses; it is read once per file version, so edits are picked up.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.resources
import os
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from wanflow.confine import ALLOW_HINT, Confinement, OutsideError, regular_file_inside, repository_root
from wanflow.errors import Problem, UserError
from wanflow.film import Look, Shot
from wanflow.grammar.lexicon import GAP, MAX_PHRASE_CHARS, ProseLexicon
from wanflow.grammar.vocabulary import (
    SHOT_TERM_FIELDS,
    VOCABULARY_FILE,
    Category,
    ConflictGroup,
    LintLimits,
    Mode,
    Term,
    TermSource,
    Vocabulary,
    normalise,
)
from wanflow.yamlfile import YamlDocument, read_yaml


def packaged_grammar_dir() -> Path:
    """The grammar shipped with wanflow (the repository's prompt_grammar/ folder)."""
    return Path(str(importlib.resources.files("wanflow.prompt_grammar")))


def find_grammar_dir(spec_path: Path, stop: Path | None = None) -> Path:
    """The storyboard's own prompt_grammar/ (as found, not resolved): next to the spec (or in `spec_path` if it
    is a folder) or in a parent up to `stop` (the storyboard repository), else the packaged grammar.

    Without `stop` the search ends at the git root, or at the spec's own folder outside git:
    never above the repository, where a folder is no part of the storyboard.
    """
    start = (spec_path if spec_path.is_dir() else spec_path.parent).resolve()
    stop = (stop or repository_root(start)).resolve()
    for folder in (start, *start.parents):
        if os.path.lexists(folder / "prompt_grammar"):  # a link counts whether or not its target exists:
            return folder / "prompt_grammar"  # the caller's refusal must not tell which
        if folder == stop or stop not in folder.parents:
            break
    return packaged_grammar_dir()


def storyboard_grammar_dir(start: Path, confinement: Confinement) -> Path:
    """The grammar a storyboard compiles with, resolved; a UserError when its prompt_grammar/
    leads out of the storyboard repository (and the allowed folders)."""
    found = find_grammar_dir(start, stop=confinement.root)
    if found == packaged_grammar_dir():
        return found
    resolved = found.resolve()
    if not confinement.contains(resolved):
        raise UserError(Problem(str(found), None, None, "", f"leads outside {confinement.describe()} ({ALLOW_HINT})"))
    return resolved


def vocabulary_path(grammar_dir: Path) -> Path:
    """The grammar's vocabulary.yaml (a regular file inside the folder), or the packaged one if it has none."""
    try:
        own = regular_file_inside(grammar_dir, VOCABULARY_FILE)
    except OutsideError as error:
        raise UserError(Problem(str(grammar_dir / VOCABULARY_FILE), None, None, "", str(error))) from None
    return own if own is not None else packaged_grammar_dir() / VOCABULARY_FILE


def load_vocabulary(grammar_dir: Path) -> Vocabulary:
    """The grammar's vocabulary, read once per file version (edits are picked up)."""
    path = vocabulary_path(grammar_dir).resolve()
    stat = path.stat()
    return _load_vocabulary_file(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _load_vocabulary_file(path: Path, mtime_ns: int, size: int) -> Vocabulary:
    document = read_yaml(path)
    try:
        entry = _VocabularyFile.model_validate(document.data)
    except pydantic.ValidationError as error:
        raise UserError([document.problem(detail["loc"], detail["msg"]) for detail in error.errors()]) from None
    return _build_vocabulary(document, entry)


# ---- the file format, validated at the edge -------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _TermEntry(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    prompt_en: str = ""
    aliases: list[str] = []
    source: TermSource = "dictionary"


class _CategoryEntry(_Strict):
    zh: str
    en: str
    family: str
    look: bool
    multiple: bool = Field(alias="list")
    open: bool = False
    note: str = ""
    terms: list[_TermEntry] = Field(min_length=1)


class _FamilyEntry(_Strict):
    zh: str
    en: str


class _ConflictEntry(_Strict):
    id: str
    why: str
    sides: list[dict[str, list[str]]] = []
    one_of: dict[str, list[str]] = {}

    @pydantic.model_validator(mode="after")
    def _one_form(self) -> _ConflictEntry:
        if bool(self.sides) == bool(self.one_of):
            raise ValueError("give either `sides` (two or more) or `one_of`")
        if self.sides and len(self.sides) < 2:
            raise ValueError("`sides` needs at least two sides")
        return self


class _LengthEntry(_Strict):
    zh: tuple[int, int]
    en: tuple[int, int]


class _LintEntry(_Strict):
    max_look_terms: int = Field(ge=1)
    max_en_look_terms: int = Field(ge=1)
    non_film_styles: list[str] = []
    film_look_fields: list[str] = []
    still_camera: list[str] = []
    turning_camera: list[str] = []
    prompt_length: dict[Mode, _LengthEntry]


class _VocabularyFile(_Strict):
    version: Literal[1]
    families: dict[str, _FamilyEntry]
    categories: dict[str, _CategoryEntry]
    conflicts: list[_ConflictEntry] = []
    prose: dict[str, dict[str, list[str]]] = {}  # field -> term -> plain-words phrases
    meanings: dict[str, dict[str, str]] = {}  # field -> common word -> term
    lint: _LintEntry


def _expected_fields() -> dict[str, tuple[bool, bool]]:
    """field name -> (look, list), read off the resolved storyboard types."""
    look = {f.name: (True, str(f.type).startswith("tuple")) for f in dataclasses.fields(Look)}
    shot = {f.name: (False, str(f.type).startswith("tuple")) for f in dataclasses.fields(Shot)}
    return look | {name: shot[name] for name in SHOT_TERM_FIELDS}


def _build_vocabulary(document: YamlDocument, entry: _VocabularyFile) -> Vocabulary:
    problems: list[Problem] = []
    expected = _expected_fields()
    for name in expected:
        if name not in entry.categories:
            problems.append(document.problem(("categories",), f"category {name!r} is missing"))
    categories: list[Category] = []
    for name, category in entry.categories.items():
        where = ("categories", name)
        if name not in expected:
            hint = difflib.get_close_matches(name, list(expected), n=1)
            known = f"did you mean {hint[0]!r}?" if hint else f"the fields are {', '.join(expected)}"
            problems.append(document.problem(where, f"no storyboard field is called {name!r}; {known}"))
            continue
        if (category.look, category.multiple) != expected[name]:
            look, multiple = expected[name]
            problems.append(
                document.problem(where, f"must say look: {str(look).lower()} and list: {str(multiple).lower()}")
            )
        if category.family not in entry.families:
            problems.append(document.problem((*where, "family"), f"unknown family {category.family!r}"))
        seen: dict[str, str] = {}
        for index, term in enumerate(category.terms):
            for spelling in (term.zh, term.en, term.prompt_en, *term.aliases):
                if not spelling:
                    continue
                key = normalise(spelling)
                if key in seen and seen[key] != term.zh:
                    message = f"{spelling!r} already means {seen[key]!r} in this category"
                    problems.append(document.problem((*where, "terms", index), message))
                seen[key] = term.zh
        terms = tuple(Term(name, t.zh, t.en, tuple(t.aliases), t.source, t.prompt_en) for t in category.terms)
        note = " ".join(category.note.split())
        categories.append(
            Category(
                name,
                category.zh,
                category.en,
                category.family,
                category.look,
                category.multiple,
                note,
                terms,
                category.open,
            )
        )
    by_name = {category.name: {term.zh: term for term in category.terms} for category in categories}
    conflicts: list[ConflictGroup] = []
    for index, conflict in enumerate(entry.conflicts):
        if conflict.sides:
            raw = [(("sides", number), side) for number, side in enumerate(conflict.sides)]
        else:
            raw = [(("one_of",), {field: [zh]}) for field, zhs in conflict.one_of.items() for zh in zhs]
        sides: list[tuple[Term, ...]] = []
        for where, side in raw:
            side_terms: list[Term] = []
            for field, zhs in side.items():
                for zh in zhs:
                    term = by_name.get(field, {}).get(zh)
                    if term is None:
                        message = f"{field}: {zh!r} is not a term of the vocabulary"
                        problems.append(document.problem(("conflicts", index, *where, field), message))
                    else:
                        side_terms.append(term)
            sides.append(tuple(side_terms))
        conflicts.append(ConflictGroup(conflict.id, " ".join(conflict.why.split()), tuple(sides)))
    lint_terms = {
        key: _lint_terms(document, by_name, key, field, getattr(entry.lint, key), problems)
        for key, field in (("non_film_styles", "style"), ("still_camera", "camera"), ("turning_camera", "camera"))
    }
    prose, meanings = _lexicon(document, entry, by_name, problems)
    for index, field in enumerate(entry.lint.film_look_fields):
        if field not in by_name:
            problems.append(document.problem(("lint", "film_look_fields", index), f"no field is called {field!r}"))
    if problems:
        raise UserError(problems)
    lengths = {
        (mode, lang): getattr(bounds, lang)
        for mode, bounds in entry.lint.prompt_length.items()
        for lang in ("zh", "en")
    }
    for mode in ("t2v", "i2v"):
        if (mode, "zh") not in lengths:
            raise UserError(document.problem(("lint", "prompt_length"), f"bounds for {mode!r} are missing"))
    return Vocabulary(
        path=Path(document.file),
        families={key: (family.zh, family.en) for key, family in entry.families.items()},
        categories=tuple(categories),
        conflicts=tuple(conflicts),
        lint=LintLimits(
            max_look_terms=entry.lint.max_look_terms,
            max_en_look_terms=entry.lint.max_en_look_terms,
            non_film_styles=lint_terms["non_film_styles"],
            film_look_fields=tuple(entry.lint.film_look_fields),
            still_camera=lint_terms["still_camera"],
            turning_camera=lint_terms["turning_camera"],
            prompt_length=lengths,
        ),
        prose=prose,
        meanings=meanings,
    )


def _lexicon(
    document: YamlDocument, entry: _VocabularyFile, by_name: dict[str, dict[str, Term]], problems: list[Problem]
) -> tuple[ProseLexicon, dict[str, dict[str, Term]]]:
    """The prose lexicon and the meanings table; each names terms of the vocabulary, and a meaning
    is no spelling of its field (that would be an alias)."""
    phrases: dict[tuple[str, str], tuple[str, ...]] = {}
    for field, terms in entry.prose.items():
        for zh, written in terms.items():
            if zh not in by_name.get(field, {}):
                problems.append(
                    document.problem(("prose", field, zh), f"{field}: {zh!r} is not a term of the vocabulary")
                )
                continue
            for index, phrase in enumerate(written):
                parts = [part.strip() for part in phrase.split(GAP)]
                if len(phrase) > MAX_PHRASE_CHARS or not all(parts):
                    message = f"a phrase is text of at most {MAX_PHRASE_CHARS} characters, `{GAP}` only between words"
                    problems.append(document.problem(("prose", field, zh, index), message))
            phrases[(field, zh)] = tuple(written)
    meanings: dict[str, dict[str, Term]] = {}
    for field, words in entry.meanings.items():
        spellings = {normalise(spelling) for term in by_name.get(field, {}).values() for spelling in term.spellings}
        for word, zh in words.items():
            term = by_name.get(field, {}).get(zh)
            if term is None:
                problems.append(
                    document.problem(("meanings", field, word), f"{field}: {zh!r} is not a term of the vocabulary")
                )
            elif normalise(word) in spellings:
                problems.append(document.problem(("meanings", field, word), f"{word!r} is already a {field} spelling"))
            else:
                meanings.setdefault(field, {})[word] = term
    return ProseLexicon(phrases), meanings


def _lint_terms(
    document: YamlDocument,
    by_name: dict[str, dict[str, Term]],
    key: str,
    field: str,
    zhs: list[str],
    problems: list[Problem],
) -> frozenset[Term]:
    """The terms of `field` a lint setting names; a name that is no such term is a problem."""
    terms: set[Term] = set()
    for index, zh in enumerate(zhs):
        term = by_name.get(field, {}).get(zh)
        if term is None:
            problems.append(document.problem(("lint", key, index), f"{zh!r} is not a {field} term of the vocabulary"))
        else:
            terms.add(term)
    return frozenset(terms)
