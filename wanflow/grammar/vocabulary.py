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
from wanflow.grammar.lexicon import ProseLexicon
from wanflow.grammar.suggest import closest_chinese, is_chinese, is_english_word, is_near_miss, pinyin_slip, reads_as

Mode = Literal["t2v", "i2v"]
TermSource = Literal["dictionary", "rewriter", "guide", "wanflow"]

VOCABULARY_FILE = "vocabulary.yaml"
# The storyboard fields that take vocabulary terms: every Look field, plus these Shot fields.
SHOT_TERM_FIELDS = ("camera", "motion", "emotion")
_SEPARATORS = re.compile(r"[\s\-_\u2010\u2011\u2013\u2014]+")
_SPACE_BY_CJK = re.compile(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])")
# What separates the phrases of a prompt: a term written as text is a whole phrase.
PHRASE_BREAKS = re.compile(r"[，,。.、;；:：!！?？\n]+")
_ONE_WORD = re.compile(r"^[a-z]+$")


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
    max_en_look_terms: int  # the most any official English example stacks
    non_film_styles: frozenset[Term]  # styles that get no film aesthetics
    film_look_fields: tuple[str, ...]  # ... the fields those film aesthetics are
    still_camera: frozenset[Term]  # camera terms that are not moves
    turning_camera: frozenset[Term]  # camera terms that turn the camera where it stands (tilts)
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
        prose: ProseLexicon | None = None,
        meanings: dict[str, dict[str, Term]] | None = None,
    ) -> None:
        self.path = path  # the vocabulary.yaml it was read from
        self.families = families  # key -> (zh, en) official family name
        self.categories: tuple[str, ...] = tuple(category.name for category in categories)
        self.conflicts = conflicts
        self.lint = lint
        self.prose = prose or ProseLexicon({})  # plain words for moves, times of day, styles
        self.meanings = {
            name: {normalise(word): term for word, term in words.items()} for name, words in (meanings or {}).items()
        }
        self._categories = {category.name: category for category in categories}
        self._index: dict[str, dict[str, Term]] = {
            category.name: {normalise(spelling): term for term in category.terms for spelling in term.spellings}
            for category in categories
        }
        # abbreviations (aliases written in capitals: MS, CU): any case in a field, capitals in free text
        self._abbreviations = {
            normalise(alias): alias
            for category in categories
            for term in category.terms
            for alias in term.aliases
            if alias.isascii() and alias.isupper()
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
        near = next((term for spelling, term in index.items() if is_near_miss(key, spelling)), None)
        if near is not None and not is_chinese(key) and all(map(is_english_word, key.split())):
            return None  # `scarred`, `sacred`, `angel` are words, not typos of scared and anger
        return near

    def phrase_terms(self, phrase: str) -> list[Term]:
        """The terms a phrase of free text is, whole (every field's reading of a shared spelling).

        An abbreviation counts only as written in the vocabulary (`MS`, not `Ms`).
        """
        key = normalise(phrase)
        if key in self._abbreviations and phrase.strip() != self._abbreviations[key]:
            return []
        return [self._index[name][key] for name in self.categories if key in self._index[name]]

    @staticmethod
    def is_one_word(phrase: str) -> bool:
        """Whether a phrase is a single English word (`static`, `warm`): such a term in prose is
        read as one only where it stands among terms."""
        return _ONE_WORD.match(normalise(phrase)) is not None

    def _suggest(self, category: str, value: str) -> list[str]:
        """The terms a value probably meant, best first: the term a common word means (傍晚 ->
        黄昏); for Chinese, by characters and sound; for letters, pinyin read exactly, pinyin of
        a common word (`yangpai`: 仰拍), a word run together, pinyin with a slip, then spelling."""
        index = self._index[category]
        key = normalise(value)
        meant = self.meanings.get(category, {}).get(key)  # 傍晚 -> 黄昏: by meaning first
        first = [meant.label] if meant else []
        if is_chinese(key):
            return list(dict.fromkeys(first + [index[spelling].label for spelling in closest_chinese(key, index)]))[:5]
        spoken = [spelling for spelling in index if reads_as(key, spelling)]  # pinyin typed in letters
        if spoken or first:
            return list(dict.fromkeys(first + [index[spelling].label for spelling in spoken]))
        run_together = [spelling for spelling in index if spelling.replace(" ", "") == key.replace(" ", "")]
        if run_together:  # `closeup` for `close up`: exactly one meant term
            return list(dict.fromkeys(index[spelling].label for spelling in run_together))
        meanings = self.meanings.get(category, {})
        heard = [meanings[word] for word in meanings if reads_as(key, word)]  # `yangpai`: 仰拍 -> 低角度拍摄
        if heard:
            return list(dict.fromkeys(term.label for term in heard))
        slips = [spelling for spelling in index if pinyin_slip(key, spelling)]  # `quanjin` for 全景
        if slips:
            return list(dict.fromkeys(index[spelling].label for spelling in slips))[:5]
        keys = difflib.get_close_matches(key, list(index), n=6, cutoff=0.6)
        if len(key) >= 3:
            keys += [spelling for spelling in index if key in spelling or (len(spelling) >= 3 and spelling in key)]
        return list(dict.fromkeys(index[spelling].label for spelling in keys))[:5]

    def _elsewhere(self, category: str, value: str) -> list[str]:
        """`field: term` for each other field the value is a term of: as written, by its meaning
        (逆光 -> lighting: 背光), or by its sound (`quanjing` as a lens -> shot_size: 全景)."""
        key = normalise(value)
        found: list[str] = []
        for other in self.categories:
            if other == category:
                continue
            index = self._index[other]
            terms = [index[key]] if key in index else []
            terms += [self.meanings[other][key]] if key in self.meanings.get(other, {}) else []
            if not terms and not is_chinese(key):  # by sound: exactly, else with a slip
                terms = [index[spelling] for spelling in index if reads_as(key, spelling)]
                terms = terms or [index[spelling] for spelling in index if pinyin_slip(key, spelling)]
            found += [f"{other}: {term.label}" for term in dict.fromkeys(terms)]
        return found
