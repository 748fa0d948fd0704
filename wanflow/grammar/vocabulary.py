"""The Wan2.2 prompt dictionary: what users may write in each field, and its canonical form.

All terms live in prompt_grammar/vocabulary.yaml; this module only knows the field names
(which the storyboard format fixes) and how to match what people type against the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.resources
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from wanflow.errors import Problem, UserError
from wanflow.film import Lang, Look, Shot
from wanflow.grammar.suggest import closest_chinese, is_chinese, is_near_miss, reads_as
from wanflow.yamlfile import YamlDocument, read_yaml

Mode = Literal["t2v", "i2v"]
TermSource = Literal["dictionary", "rewriter", "guide", "wanflow"]

VOCABULARY_FILE = "vocabulary.yaml"
# The storyboard fields that take vocabulary terms: every Look field, plus these Shot fields.
SHOT_TERM_FIELDS = ("camera", "motion", "emotion")
_SEPARATORS = re.compile(r"[\s\-_\u2010\u2011\u2013\u2014]+")
_SPACE_BY_CJK = re.compile(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])")
# What separates the phrases of a prompt: a term written as text is a whole phrase.
_PHRASE_BREAKS = re.compile(r"[，,。.、;；:：!！?？\n]+")


def normalise(text: str) -> str:
    """The matching key: width-folded, case-folded, any run of spaces, hyphens or underscores as one space.

    Separators are folded, not dropped: `close-up` and `Close_Up` match `close up`, but a
    word run together (`closeup`, `rimlight`) is a typo that gets a suggestion, as the issue asks.
    """
    spaced = _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return _SPACE_BY_CJK.sub("", spaced)  # Chinese has no word spaces: 超广角-鱼眼 == 超广角鱼眼


@dataclass(frozen=True)
class Term:
    category: str  # field name
    zh: str  # canonical form (what Film stores)
    en: str  # the dictionary's English: how messages name the term
    aliases: tuple[str, ...] = ()
    source: TermSource = "dictionary"
    prompt_en: str = ""  # the official English rewriter's spelling, if it differs from `en`

    def text(self, lang: Lang) -> str:
        """What a prompt in `lang` writes: English prompts use the official rewriter's spelling."""
        return self.zh if lang == "zh" else self.prompt_en or self.en

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every way to write the term: zh, en, the rewriter's English, the aliases."""
        return tuple(dict.fromkeys(text for text in (self.zh, self.en, self.prompt_en, *self.aliases) if text))

    @property
    def label(self) -> str:
        return f"{self.zh} ({self.en})"


@dataclass(frozen=True)
class Category:
    name: str  # the storyboard field name
    zh: str  # official category name
    en: str
    family: str  # key into Vocabulary.families
    look: bool  # lives under `look:`
    multiple: bool  # takes a list of terms
    note: str
    terms: tuple[Term, ...]
    open: bool = False  # also takes plain words, emitted as written

    @property
    def field_path(self) -> str:
        return f"look.{self.name}" if self.look else self.name


@dataclass(frozen=True)
class ConflictGroup:
    """Terms from two different sides of one group contradict each other within a shot."""

    id: str
    why: str
    sides: tuple[tuple[Term, ...], ...]


@dataclass(frozen=True)
class LintLimits:
    max_look_terms: int  # the most aesthetic keywords any official example stacks
    max_en_look_terms: int  # the official English rewriter's budget
    non_film_styles: frozenset[Term]  # styles that get no film aesthetics
    film_look_fields: tuple[str, ...]  # ... the fields those film aesthetics are
    still_camera: frozenset[Term]  # camera terms that are not moves
    # (mode, lang) -> (least, most): characters for zh, words for en
    prompt_length: dict[tuple[Mode, Lang], tuple[int, int]]


class UnknownTerm(ValueError):
    def __init__(self, category: str, value: str, suggestions: list[str], elsewhere: list[str]) -> None:
        self.category = category
        self.value = value
        self.suggestions = suggestions  # closest terms of the category, as "zh (en)"
        self.elsewhere = elsewhere  # "field: zh (en)" where the value is a term of another field
        message = f"unknown {category} term {value!r}."
        if suggestions:
            message += f" Did you mean {' or '.join(suggestions)}?"
        if elsewhere:
            message += f" It is a term of {', '.join(elsewhere)}."
        super().__init__(message + f" `wanflow vocab {category}` lists the terms.")


class UnknownCategory(ValueError):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown vocabulary category {name!r}.{hint} `wanflow vocab` lists them.")


class Vocabulary:
    def __init__(
        self,
        path: Path,
        families: dict[str, tuple[str, str]],
        categories: tuple[Category, ...],
        conflicts: tuple[ConflictGroup, ...],
        lint: LintLimits,
    ) -> None:
        self.path = path  # the vocabulary.yaml it was read from
        self.families = families  # key -> (zh, en) official family name
        self.categories: tuple[str, ...] = tuple(category.name for category in categories)
        self.conflicts = conflicts
        self.lint = lint
        self._categories = {category.name: category for category in categories}
        self._index: dict[str, dict[str, Term]] = {
            category.name: {normalise(spelling): term for term in category.terms for spelling in term.spellings}
            for category in categories
        }

    def category(self, name: str) -> Category:
        if name not in self._categories:
            suggestions = difflib.get_close_matches(name, self.categories, n=3, cutoff=0.5)
            raise UnknownCategory(name, suggestions)
        return self._categories[name]

    def terms(self, category: str) -> tuple[Term, ...]:
        return self.category(category).terms

    def term(self, category: str, zh: str) -> Term:
        """The term whose canonical form is `zh`; KeyError if the category has none."""
        for term in self.terms(category):
            if term.zh == zh:
                return term
        raise KeyError(f"{category}: {zh}")

    def resolve(self, category: str, value: str) -> Term:
        """What a user wrote (zh, en or an alias; any case, spacing or hyphenation) -> its term.

        Plain words in an open field are no mistake, so they get no suggestions (the lint
        names a term they are a near miss of).
        """
        info = self.category(category)
        term = self._index[info.name].get(normalise(value))
        if term is None:
            if info.open:
                raise UnknownTerm(category, value, [], [])
            raise UnknownTerm(category, value, self._suggest(category, value), self._elsewhere(category, value))
        return term

    def near_term(self, category: str, value: str) -> Term | None:
        """The term a plain-words value of an open field is probably a typo of (恐俱 -> 恐惧), if any."""
        key = normalise(value)
        index = self._index[self.category(category).name]
        if key in index:
            return None
        return next((term for spelling, term in index.items() if is_near_miss(key, spelling)), None)

    def terms_in(self, text: str) -> list[Term]:
        """The terms written as whole phrases of free text (between commas and full stops), in order.

        A spelling two categories share (广角: a shot size and a lens) reads as the first of
        the two that no other phrase of the text already is, or as both if the text has both
        (so a contradiction with either is seen).
        """
        readings = [
            [self._index[name][key] for name in self.categories if key in self._index[name]]
            for key in map(normalise, _PHRASE_BREAKS.split(text))
        ]
        taken = {terms[0].category for terms in readings if len(terms) == 1}
        found: list[Term] = []
        for terms in readings:
            free = [term for term in terms if term.category not in taken]
            found += free[:1] or terms
        return found

    def _suggest(self, category: str, value: str) -> list[str]:
        index = self._index[category]
        key = normalise(value)
        if is_chinese(key):
            return list(dict.fromkeys(index[spelling].label for spelling in closest_chinese(key, index)))[:5]
        spoken = [spelling for spelling in index if reads_as(key, spelling)]  # pinyin typed in letters
        if spoken:
            return list(dict.fromkeys(index[spelling].label for spelling in spoken))
        run_together = [spelling for spelling in index if spelling.replace(" ", "") == key.replace(" ", "")]
        if run_together:  # `closeup` for `close up`: exactly one meant term
            return list(dict.fromkeys(index[spelling].label for spelling in run_together))
        keys = difflib.get_close_matches(key, list(index), n=6, cutoff=0.6)
        if len(key) >= 3:
            keys += [spelling for spelling in index if key in spelling or (len(spelling) >= 3 and spelling in key)]
        return list(dict.fromkeys(index[spelling].label for spelling in keys))[:5]

    def _elsewhere(self, category: str, value: str) -> list[str]:
        key = normalise(value)
        return [
            f"{other}: {self._index[other][key].label}"
            for other in self.categories
            if other != category and key in self._index[other]
        ]


def packaged_grammar_dir() -> Path:
    """The grammar shipped with wanflow (the repository's prompt_grammar/ folder)."""
    return Path(str(importlib.resources.files("wanflow.prompt_grammar")))


def find_grammar_dir(spec_path: Path) -> Path:
    """The storyboard's own prompt_grammar/: next to the spec (or in `spec_path` if it is a
    folder) or in a parent up to the git root; else the packaged grammar."""
    start = (spec_path if spec_path.is_dir() else spec_path.parent).resolve()
    for folder in (start, *start.parents):
        if (folder / "prompt_grammar").is_dir():
            return folder / "prompt_grammar"
        if (folder / ".git").exists():
            break
    return packaged_grammar_dir()


def vocabulary_path(grammar_dir: Path) -> Path:
    """The grammar's vocabulary.yaml, or the packaged one if the folder has none."""
    own = grammar_dir / VOCABULARY_FILE
    return own if own.is_file() else packaged_grammar_dir() / VOCABULARY_FILE


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
    prompt_length: dict[Mode, _LengthEntry]


class _VocabularyFile(_Strict):
    version: Literal[1]
    families: dict[str, _FamilyEntry]
    categories: dict[str, _CategoryEntry]
    conflicts: list[_ConflictEntry] = []
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
        for key, field in (("non_film_styles", "style"), ("still_camera", "camera"))
    }
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
            prompt_length=lengths,
        ),
    )


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
