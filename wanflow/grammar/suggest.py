"""Which vocabulary spelling a typo meant: by characters and by sound for Chinese, by letters otherwise.

Chinese typos mostly come from an input method: the right sound, the wrong character (全境 for
全景, 恐俱 for 恐惧), or a near sound an input method often confuses (zh/z, in/ing, n/l). So
the distance between two Chinese spellings counts a character swapped for a homophone as a
small slip, and one swapped for an unrelated character as a whole mistake. Pinyin typed in
letters (`quanjing`) is matched against the sound of each Chinese spelling.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable

import yaml

HOMOPHONE = 0.25  # a character swapped for one that reads the same (tones ignored)
NEAR_HOMOPHONE = 0.5  # ... for one whose reading an input method often confuses with it
# A value of an open field this close to a term is taken for a typo of it: sound slips only.
NEAR_MISS = 2 * HOMOPHONE
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_RETROFLEX = re.compile(r"^([zcs])h")
_NASAL = re.compile(r"(?<=[aei])ng$")


def is_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


@functools.cache
def _english_words() -> frozenset[str]:
    """The packaged word list (prompt_grammar/words.yaml): read only when a near miss is looked at."""
    path = importlib.resources.files("wanflow.prompt_grammar") / "words.yaml"
    return frozenset(yaml.safe_load(path.read_text(encoding="utf-8"))["words"])


def is_english_word(word: str) -> bool:
    """Whether a lower-case word is a real English word near a term (so not a typo of it)."""
    return word in _english_words()


@functools.lru_cache(maxsize=4096)
def _readings(char: str) -> frozenset[str]:
    """Every toneless pinyin reading of a character (heteronyms too); other characters read as themselves."""
    if not is_chinese(char):
        return frozenset({char})
    from pypinyin import Style, pinyin  # 0.15 s to import: paid only when a typo is looked at

    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True)[0])


def _loose(reading: str) -> str:
    """A reading with the distinctions input-method typos blur: zh/z, ch/c, sh/s, l/n, -ng/-n."""
    reading = _RETROFLEX.sub(r"\1", reading)
    if reading.startswith("l"):
        reading = "n" + reading[1:]
    return _NASAL.sub("n", reading)


def _swap_cost(typed: str, meant: str) -> float:
    if typed == meant:
        return 0.0
    typed_readings, meant_readings = _readings(typed), _readings(meant)
    if typed_readings & meant_readings:
        return HOMOPHONE
    if {_loose(r) for r in typed_readings} & {_loose(r) for r in meant_readings}:
        return NEAR_HOMOPHONE
    return 1.0


def chinese_distance(typed: str, meant: str) -> float:
    """Edit distance where a homophone swap costs a quarter and any other edit costs one."""
    previous = [float(column) for column in range(len(meant) + 1)]
    for row, typed_char in enumerate(typed, start=1):
        current = [float(row)]
        for column, meant_char in enumerate(meant, start=1):
            current.append(
                min(
                    previous[column] + 1,
                    current[column - 1] + 1,
                    previous[column - 1] + _swap_cost(typed_char, meant_char),
                )
            )
        previous = current
    return previous[-1]


def latin_distance(typed: str, meant: str) -> int:
    """Edit distance counting a swap of two neighbouring letters as one edit (`angre` -> `anger`)."""
    rows = [list(range(len(meant) + 1))]
    for row in range(1, len(typed) + 1):
        rows.append([row] + [0] * len(meant))
        for column in range(1, len(meant) + 1):
            cost = typed[row - 1] != meant[column - 1]
            best = min(rows[row - 1][column] + 1, rows[row][column - 1] + 1, rows[row - 1][column - 1] + cost)
            if row > 1 and column > 1 and typed[row - 1] == meant[column - 2] and typed[row - 2] == meant[column - 1]:
                best = min(best, rows[row - 2][column - 2] + 1)
            rows[row][column] = best
    return rows[-1][-1]


def reads_as(letters: str, spelling: str) -> bool:
    """Whether pinyin typed in letters (no tones, spaces ignored) is how the Chinese `spelling` sounds."""
    letters = letters.replace(" ", "")

    @functools.cache
    def matches(position: int, index: int) -> bool:
        if index == len(spelling):
            return position == len(letters)
        return any(
            letters.startswith(reading, position) and matches(position + len(reading), index + 1)
            for reading in _readings(spelling[index])
        )

    return bool(letters) and is_chinese(spelling) and matches(0, 0)


def _pinyin(spelling: str, limit: int = 16) -> list[str]:
    """The ways a Chinese spelling reads in letters, without tones or spaces (heteronyms: the first `limit`)."""
    readings = [""]
    for char in spelling:
        readings = [done + reading for done in readings for reading in sorted(_readings(char))][:limit]
    return readings


def pinyin_distance(letters: str, spelling: str) -> int | None:
    """How many letters pinyin typed in letters is off the sound of a Chinese spelling
    (`quanjin` is one from 全景 quanjing, `changjaio` one from 长焦 changjiao), or None."""
    letters = letters.replace(" ", "")
    if not letters.isascii() or not letters.isalpha() or not is_chinese(spelling):
        return None
    return min(latin_distance(letters, reading.replace(" ", "")) for reading in _pinyin(spelling))


def pinyin_slip(letters: str, spelling: str) -> bool:
    """Whether letters (five or more) are pinyin of the spelling with a slip: one letter in up to 9, two beyond."""
    size = len(letters.replace(" ", ""))
    distance = pinyin_distance(letters, spelling) if size >= 5 else None
    return distance is not None and 0 < distance <= (1 if size <= 9 else 2)


def closest_chinese(typed: str, spellings: Iterable[str]) -> list[str]:
    """The Chinese spellings a Chinese typo probably meant, best first.

    Close by characters or sound (about one wrong character in three), or the typo is a
    part of the spelling or holds it whole (`过肩` for 过肩镜头角度拍摄).
    """
    scored: list[tuple[float, str]] = []
    for spelling in spellings:
        if not is_chinese(spelling):
            continue
        distance = chinese_distance(typed, spelling)
        contained = len(typed) >= 2 and (typed in spelling or spelling in typed)
        if distance <= max(1.0, len(spelling) / 3) or contained:
            scored.append((distance, spelling))
    return [spelling for _, spelling in sorted(scored, key=lambda item: item[0])]


def is_near_miss(typed: str, spelling: str) -> bool:
    """Whether `typed` is a typo of `spelling` rather than another word.

    Chinese: every difference is a (near) homophone, at most two of them or one near one.
    Letters: one slip after the first letter, in a word of five letters or more (other
    words differ there: `tear` and `madness` are not typos of `fear` and `sadness`).
    """
    if typed == spelling or is_chinese(typed) != is_chinese(spelling):
        return False
    if is_chinese(typed):  # sound slips are swaps, so the lengths match
        return len(typed) == len(spelling) and chinese_distance(typed, spelling) <= NEAR_MISS
    return len(typed) >= 5 and typed[0] == spelling[0] and latin_distance(typed, spelling) == 1
