"""Plain words that mean a term: the prose lexicon the lint reads, and the meanings suggestions offer.

Both live in vocabulary.yaml (`prose:` and `meanings:`). The prose lexicon is a short list of
phrases people write for camera moves, a still camera, times of day and styles (镜头缓缓推近,
"the camera circles", 正午, 傍晚, 水彩风格); the lint reads them out of free text and checks them
against the terms. A phrase is literal text where `~` stands for a short gap: up to three
characters in Chinese, none of them a place word (镜头~推近 reads 镜头缓缓推近; 镜头~跟着
does not read 镜头前跟着一只狗), up to two words in English (camera ~ circles:
"the camera slowly circles"). English phrases match whole words in any case; one that starts
with "camera" matches only as "the camera ..." or at the start of a phrase ("Camera pushes in"),
so a security camera or a camera crew in the picture is no camera move. A style is read only
where it leads its phrase, as the official rewriter puts a style first (二次元厚涂动漫插画; "anime
style" in "a poster in anime style" is the poster's). The patterns are
built here from escaped text and bounded gaps, so a vocabulary from someone else cannot ask
for an expensive regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wanflow.grammar.suggest import is_chinese

GAP = "~"
# a gap holds no place word: 镜头前跟着 is something in front of the camera, not the camera following
_ZH_GAP = r"[^\s，,。.、;；:：!！?？的前里内外边旁]{0,3}?"
# ... and 镜头 right after 对着, 朝, 向, 看着 is what someone faces, not the camera moving (她对着镜头后退)
_ZH_AS_OBJECT = r"(?<!对着)(?<!朝着)(?<!看着)(?<!盯着)(?<!望着)(?<![对朝向])"
_EN_GAP = r"(?:\s+[\w'’-]+){0,2}?\s+"
MAX_PHRASE_CHARS = 60
LEADING_CATEGORIES = ("style",)  # read only where they lead a phrase


@dataclass(frozen=True)
class ProseMatch:
    """What the lexicon read in a text: the term (category, canonical zh) and the words as written."""

    category: str
    zh: str
    words: str
    start: int


def phrase_pattern(phrase: str, leading: bool = False) -> str:
    """One lexicon phrase as a regular expression: escaped literal parts joined by bounded gaps
    (`leading`: only at the start of the text)."""
    parts = [part.strip() for part in phrase.split(GAP)]
    if is_chinese(phrase):
        start = "^" if leading else _ZH_AS_OBJECT
        return start + _ZH_GAP.join(re.escape(part) for part in parts)
    words = [r"\s+".join(re.escape(word) for word in part.split()) for part in parts]
    start = "^" if leading else r"(?:^|(?<=\bthe ))" if parts[0].split()[0].casefold() == "camera" else ""
    return start + r"(?<![\w-])" + _EN_GAP.join(words) + r"(?![\w-])"


class ProseLexicon:
    """Camera moves, stills, times of day and styles written in plain words, read out of free text."""

    def __init__(self, phrases: dict[tuple[str, str], tuple[str, ...]]) -> None:
        self.phrases = phrases  # (category, zh) -> the lexicon's phrases for that term
        self._patterns = [
            (
                key,
                re.compile(
                    "|".join(phrase_pattern(phrase, key[0] in LEADING_CATEGORIES) for phrase in found), re.IGNORECASE
                ),
            )
            for key, found in phrases.items()
            if found
        ]

    def read(self, text: str) -> list[ProseMatch]:
        """Every term the text's plain words name, first written first (each term once)."""
        matches: dict[tuple[str, str], ProseMatch] = {}
        for (category, zh), pattern in self._patterns:
            found = pattern.search(text)
            if found is not None:
                matches[(category, zh)] = ProseMatch(category, zh, found.group(0), found.start())
        return sorted(matches.values(), key=lambda match: match.start)
