"""Which terms free text holds, the way a writer would read it.

A term counts where it is a whole phrase of its own (between commas and full stops): 夜晚 in
`extra: 夜晚`, `wide shot` in "wide shot, a red fox...". An abbreviation counts only in capitals
(`MS`, not the `Ms` of "Ms. Chen"). A single English word (`static`, `warm`, `soft`) is an
ordinary word far more often than a keyword, so it counts only where it stands as a look term:
next to a phrase that is one, or in a text made of terms alone ("night" as the whole `extra`).
Phrases that are no term are read with the prose lexicon (镜头缓缓推近, "at noon"); those
readings are marked `prose`, and the lint checks them against the terms, not each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanflow.grammar.vocabulary import PHRASE_BREAKS, Term, Vocabulary

_AROUND = " \t\"'“”‘’「」『』()（）[]【】《》"  # quotes and brackets around a phrase are not its words


@dataclass(frozen=True)
class TextTerm:
    term: Term
    words: str  # what the text says, as written
    prose: bool = False  # read from plain words by the prose lexicon, not written as the term


def read_text(vocabulary: Vocabulary, text: str) -> list[TextTerm]:
    """The terms the text holds, in order: whole-phrase terms, then what its other phrases say in prose."""
    phrases = [phrase.strip(_AROUND) for phrase in PHRASE_BREAKS.split(text) if phrase.strip(_AROUND)]
    readings = [vocabulary.phrase_terms(phrase) for phrase in phrases]
    strong = [bool(terms) and not vocabulary.is_one_word(phrase) for phrase, terms in zip(phrases, readings)]
    all_terms = all(readings)
    found: list[TextTerm] = []
    prose_phrases: list[str] = []
    for index, (phrase, terms) in enumerate(zip(phrases, readings)):
        if terms and vocabulary.is_one_word(phrase):
            beside = [strong[other] for other in (index - 1, index + 1) if 0 <= other < len(phrases)]
            if not (all_terms or any(beside)):
                terms = []  # "flickers in the dark, static, hissing": a word, not the fixed camera
        if terms:
            found += [TextTerm(term, phrase) for term in terms]
        else:
            prose_phrases.append(phrase)
    found = _one_reading_each(found)
    for phrase in prose_phrases:
        for match in vocabulary.prose.read(phrase):
            found.append(TextTerm(vocabulary.term(match.category, match.zh), match.words, prose=True))
    return found


def _one_reading_each(found: list[TextTerm]) -> list[TextTerm]:
    """A spelling two categories share (广角: a shot size and a lens) reads as the first of the two
    that no other phrase of the text already is: 广角 next to a shot size is the lens, next to a
    lens the shot size; next to both, the last (the lens, so 广角 beside a fisheye agrees with it
    and 广角 beside a long lens contradicts it)."""
    by_phrase: dict[str, list[TextTerm]] = {}
    for item in found:
        by_phrase.setdefault(item.words, []).append(item)
    taken = {items[0].term.category for items in by_phrase.values() if len(items) == 1}
    result: list[TextTerm] = []
    for items in by_phrase.values():
        free = [item for item in items if item.term.category not in taken]
        result += free[:1] or items[-1:]
    return result
