"""Prompt lint: advice about a compiled shot that the model would otherwise silently absorb.

Warnings never stop a run; they say where a prompt will probably not do what was asked.
The rules check the terms the prompt holds, whoever wrote them: a structured field, or a
phrase of free text or of a raw prompt, and what the prose lexicon reads in plain words
(a camera move, a time of day, a style), which is checked against the terms, never against
other prose. A warning about free text quotes the words it read and names the field. The
thresholds, the contradictory groups and the terms the official rules name come from the
vocabulary file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wanflow.film import Lang, Shot
from wanflow.grammar.vocabulary import Mode, Term, Vocabulary

CONTRADICTION = "W001-contradiction"
TOO_MANY_LOOK_TERMS = "W002-too-many-look-terms"
PROMPT_LENGTH = "W003-prompt-length"
IGNORED_FOR_I2V = "W004-ignored-for-i2v"
IGNORED_BY_RAW_PROMPT = "W005-ignored-by-raw-prompt"
FILM_LOOK_ON_NON_FILM_STYLE = "W006-film-look-on-non-film-style"
ANGLE_WITH_CAMERA_MOVE = "W007-angle-with-camera-move"
TOO_MANY_EN_LOOK_TERMS = "W008-too-many-en-look-terms"
NEAR_TERM = "W009-near-term"

# Why each rule exists, for `wanflow compile --explain` (docs/prompt-grammar.md says the same).
EXPLANATIONS = {
    CONTRADICTION: "two terms of the prompt cannot both be true of one shot (the physics of light, one time "
    "of day, one framing, one lens...); the model gets an average of the two, or picks one. Terms that "
    "agree, such as an overhead and a high angle or daylight and fluorescent light, are not contradictions.",
    TOO_MANY_LOOK_TERMS: "more aesthetic keywords than any official example stacks (11, in the Chinese "
    "rewriter's own example); beyond that they dilute each other.",
    PROMPT_LENGTH: "the official rewriters keep text-to-video prompts to 60-200 characters (zh) or words (en) "
    "and image-to-video prompts under 100; the text encoder cuts off past 512 tokens.",
    IGNORED_FOR_I2V: "the official image-to-video formula is motion + camera movement: the start image "
    "already fixes the look and the place, so wanflow does not emit them.",
    IGNORED_BY_RAW_PROMPT: "a raw `prompt:` is used verbatim, so the structured fields next to it do nothing.",
    FILM_LOOK_ON_NON_FILM_STYLE: "the official rewriter adds no film aesthetics to a 2D illustration or another "
    "style that runs counter to live-action film (the dictionary's 电影美学 terms: light, time of day, "
    "framing, lens, angle, colour): they pull such a picture toward live-action footage.",
    ANGLE_WITH_CAMERA_MOVE: "the official rewriter adds no camera angle when the prompt describes a camera "
    "move: the move already decides where the camera looks from. A tilt turns the camera where it stands, so "
    "it keeps the angle (the rewriter's example 2 tilts down from an overhead angle); a move in a raw prompt's "
    "own words is the writer's, as in the official guide's showcases.",
    TOO_MANY_EN_LOOK_TERMS: "more aesthetic keywords than any official English example stacks (10, in the English "
    "rewriter's own example 2); the rewriter's \"at most 4\" is what it adds to a user's prompt, and its own "
    "examples carry 4, 10 and 5.",
    NEAR_TERM: "an open field's value that is not a term is emitted as written, so a typo of a term "
    "(恐俱 for 恐惧) reaches the model instead of the keyword it was trained on.",
}
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
AESTHETIC_FAMILY = "cinematic"  # the vocabulary family whose terms count as aesthetic keywords


@dataclass(frozen=True)
class LintWarning:
    code: str
    field: str  # field path, e.g. "look.lighting"
    message: str


@dataclass(frozen=True)
class PromptTerm:
    """A vocabulary term in the prompt, and the field that wrote it (`prompt` for a raw prompt)."""

    term: Term
    field: str
    words: str = ""  # in free text: the words as written (quoted by the warnings)
    prose: bool = False  # read from plain words by the prose lexicon

    @property
    def label(self) -> str:
        """`固定镜头 (fixed camera)`, or from free text `固定镜头 (fixed camera) ("机位固定" in action)`."""
        return f'{self.term.label} ("{self.words}" in {self.field})' if self.words else self.term.label


def set_fields(vocabulary: Vocabulary, shot: Shot) -> list[str]:
    """Field paths of every structured field the shot sets, in vocabulary order, then free text."""
    paths = [vocabulary.category(name).field_path for name in vocabulary.categories if _value(vocabulary, shot, name)]
    return paths + [name for name in ("subject", "scene", "action", "extra") if getattr(shot, name).strip()]


def _value(vocabulary: Vocabulary, shot: Shot, name: str) -> object:
    holder = shot.look if vocabulary.category(name).look else shot
    return getattr(holder, name)


def lint_shot(
    vocabulary: Vocabulary,
    shot: Shot,
    *,
    mode: Mode,
    lang: Lang,
    prompt: str,
    terms: list[PromptTerm],
) -> tuple[LintWarning, ...]:
    """All warnings for one compiled shot; `terms` are the vocabulary terms in its prompt."""
    warnings: list[LintWarning] = []
    raw = shot.prompt is not None
    if raw:
        ignored = set_fields(vocabulary, shot)
        if ignored:
            warnings.append(
                LintWarning(
                    IGNORED_BY_RAW_PROMPT,
                    "prompt",
                    f"the raw prompt replaces the grammar, so {', '.join(ignored)} "
                    f"{'is' if len(ignored) == 1 else 'are'} ignored",
                )
            )
    elif mode == "i2v":
        for path in set_fields(vocabulary, shot):
            if path.startswith("look.") or path == "scene":
                warnings.append(
                    LintWarning(
                        IGNORED_FOR_I2V,
                        path,
                        "ignored for image-to-video (the start image already fixes it); "
                        "describe motion and camera moves instead",
                    )
                )
    warnings += _contradictions(vocabulary, terms)
    warnings += _non_film_style(vocabulary, terms)
    warnings += _angle_with_move(vocabulary, terms, raw)
    warnings += _look_term_count(vocabulary, terms, lang)
    warnings += _length(vocabulary, mode, lang, prompt)
    if not raw:
        warnings += _near_terms(vocabulary, shot)
    return tuple(warnings)


def _fields(chosen: list[PromptTerm]) -> str:
    """The fields that wrote the chosen terms, in order."""
    return ", ".join(dict.fromkeys(found.field for found in chosen))


def _once(found: list[PromptTerm]) -> list[PromptTerm]:
    """Each term once: where it is first found (the fields come first)."""
    first: dict[Term, PromptTerm] = {}
    for item in found:
        first.setdefault(item.term, item)
    return list(first.values())


def _labels(found: list[PromptTerm]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    labels = list(dict.fromkeys(item.label for item in _once(found)))
    return " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 2 else labels)


def _contradictions(vocabulary: Vocabulary, terms: list[PromptTerm]) -> list[LintWarning]:
    """Terms from two sides of a conflict group; what prose says counts against a term, not against prose."""
    warnings: list[LintWarning] = []
    for group in vocabulary.conflicts:
        hit = [[found for found in terms if found.term in side] for side in group.sides]
        hit = [side for side in hit if side]
        if len(hit) < 2 or all(found.prose for side in hit for found in side):
            continue
        against = " contradicts ".join(_labels(side) for side in hit)
        message = f"{against}: {group.why} [{group.id}]"
        warnings.append(LintWarning(CONTRADICTION, _fields([found for side in hit for found in side]), message))
    return warnings


def _non_film_style(vocabulary: Vocabulary, terms: list[PromptTerm]) -> list[LintWarning]:
    """The official rewriter's rule: a 2D or otherwise non-film style gets no film aesthetics
    (a style may be written in prose, the film aesthetics are terms)."""
    styles = [found for found in terms if found.term in vocabulary.lint.non_film_styles]
    film_look = [
        found for found in terms if found.term.category in vocabulary.lint.film_look_fields and not found.prose
    ]
    if not styles or not film_look:
        return []
    message = (
        f"{_labels(styles)} runs counter to live-action film, so it gets no film aesthetics "
        f"(the official rewriter's rule): leave out {_labels(film_look)}"
    )
    return [LintWarning(FILM_LOOK_ON_NON_FILM_STYLE, _fields([*styles, *film_look]), message)]


def _angle_with_move(vocabulary: Vocabulary, terms: list[PromptTerm], raw: bool) -> list[LintWarning]:
    """The official rewriter's rule: no camera angle when the prompt describes a camera move.

    A tilt keeps the angle (the rewriter's example 2 tilts down from an overhead angle). A move
    in a raw prompt's own words is the writer's choice, as in the official guide's showcases (an
    angle with "镜头向前移动"); the rule binds the angle a generator adds, as the fields do."""
    angles = [found for found in terms if found.term.category == "angle" and not found.prose]
    not_moves = vocabulary.lint.still_camera | vocabulary.lint.turning_camera
    moves = [
        found
        for found in terms
        if found.term.category == "camera" and found.term not in not_moves and not (raw and found.prose)
    ]
    if not angles or not moves:
        return []
    message = (
        f"{_labels(angles)} next to the camera move {_labels(moves)}: the official rewriter adds no camera "
        "angle when the prompt describes a camera move; keep one of them"
    )
    return [LintWarning(ANGLE_WITH_CAMERA_MOVE, _fields([*angles, *moves]), message)]


def _look_term_count(vocabulary: Vocabulary, terms: list[PromptTerm], lang: Lang) -> list[LintWarning]:
    """Aesthetic keywords past the most the official examples of the prompt's language stack
    (English 10, Chinese 11): fields and hand-written prompts alike, as the examples are both."""
    aesthetic = _once(
        [
            found
            for found in terms
            if vocabulary.category(found.term.category).family == AESTHETIC_FAMILY and not found.prose
        ]
    )
    limits = vocabulary.lint
    written = _written(aesthetic)
    if lang == "en" and len(aesthetic) > limits.max_en_look_terms:
        message = (
            f"{len(aesthetic)} aesthetic keywords in an English prompt ({written}; more than "
            f"{limits.max_en_look_terms}, the most any official English example stacks) dilute each other: "
            "keep the ones that matter"
        )
        return [LintWarning(TOO_MANY_EN_LOOK_TERMS, _fields(aesthetic), message)]
    if len(aesthetic) > limits.max_look_terms:
        message = (
            f"{len(aesthetic)} aesthetic keywords ({written}; more than {limits.max_look_terms}, the most any "
            "official example stacks) dilute each other: keep the ones that matter"
        )
        return [LintWarning(TOO_MANY_LOOK_TERMS, _fields(aesthetic), message)]
    return []


def _written(found: list[PromptTerm]) -> str:
    """The keywords as the prompt has them: a field's term, or free text's words quoted with their field."""
    by_field: dict[str, list[str]] = {}
    for item in found:
        by_field.setdefault(item.field, []).append(f'"{item.words}"' if item.words else item.term.zh)
    return "; ".join(f"{field}: {', '.join(words)}" for field, words in by_field.items())


def _near_terms(vocabulary: Vocabulary, shot: Shot) -> list[LintWarning]:
    """Plain words in an open field that are probably a typo of one of its terms."""
    warnings: list[LintWarning] = []
    for name in vocabulary.categories:
        category = vocabulary.category(name)
        if not category.open:
            continue
        value = _value(vocabulary, shot, name)
        for words in value if isinstance(value, tuple) else [value] if value else []:
            term = vocabulary.near_term(name, str(words))
            if term is not None:
                message = (
                    f"{words!r} is not one of the {category.en} terms, so it is emitted as written; "
                    f"did you mean {term.label}?"
                )
                warnings.append(LintWarning(NEAR_TERM, category.field_path, message))
    return warnings


def _length(vocabulary: Vocabulary, mode: Mode, lang: Lang, prompt: str) -> list[LintWarning]:
    least, most = vocabulary.lint.prompt_length[(mode, lang)]
    if lang == "zh":
        size = len("".join(prompt.split()))
    else:  # Chinese free text in an English prompt counts by characters, as a Chinese prompt does
        size = len(_CJK_CHAR.findall(prompt)) + len(_CJK_CHAR.sub(" ", prompt).split())
    unit = "characters" if lang == "zh" else "words"
    counted = f"{size} {unit[:-1] if size == 1 else unit}"
    recommended = "60-200" if mode == "t2v" else "under 100"
    if size < least:
        problem = f"is only {counted} long (fewer than {least})"
    elif size > most:
        problem = f"is {counted} long (more than {most}; the text encoder keeps 512 tokens)"
    else:
        return []
    message = f"the {mode} prompt {problem}; {recommended} {unit} is recommended"
    return [LintWarning(PROMPT_LENGTH, "prompt", message)]
