"""The Wan2.2 prompt dictionary: what users may write in each field, and its canonical form.

All terms live in prompt_grammar/vocabulary.yaml; this module only knows the field names
(which the storyboard format fixes) and how to match what people type against the file.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from wanflow.film import Lang
from wanflow.grammar.suggest import closest_chinese, is_chinese, is_near_miss, reads_as

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
