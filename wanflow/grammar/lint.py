"""Prompt lint: advice about a compiled shot that the model would otherwise silently absorb.

Warnings never stop a run; they say where a prompt will probably not do what was asked.
The thresholds and the contradictory pairs come from the vocabulary file.
"""

from __future__ import annotations

from dataclasses import dataclass

from wanflow.film import Lang, Shot
from wanflow.grammar.vocabulary import Mode, Term, Vocabulary

CONTRADICTION = "W001-contradiction"
TOO_MANY_LOOK_TERMS = "W002-too-many-look-terms"
PROMPT_LENGTH = "W003-prompt-length"
IGNORED_FOR_I2V = "W004-ignored-for-i2v"
IGNORED_BY_RAW_PROMPT = "W005-ignored-by-raw-prompt"


@dataclass(frozen=True)
class LintWarning:
    code: str
    field: str  # field path, e.g. "look.lighting"
    message: str


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
    emitted_terms: list[Term],
) -> tuple[LintWarning, ...]:
    """All warnings for one compiled shot; `emitted_terms` are the vocabulary terms in its prompt."""
    warnings: list[LintWarning] = []
    if shot.prompt is not None:
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
    warnings += _contradictions(vocabulary, emitted_terms)
    look_terms = [term for term in emitted_terms if vocabulary.category(term.category).look]
    if len(look_terms) > vocabulary.lint.max_look_terms:
        warnings.append(
            LintWarning(
                TOO_MANY_LOOK_TERMS,
                "look",
                f"{len(look_terms)} aesthetic keywords (more than {vocabulary.lint.max_look_terms}) dilute each "
                "other; the official prompt rewriter uses at most 4: keep the ones that matter",
            )
        )
    warnings += _length(vocabulary, mode, lang, prompt)
    return tuple(warnings)


def _contradictions(vocabulary: Vocabulary, emitted_terms: list[Term]) -> list[LintWarning]:
    warnings: list[LintWarning] = []
    emitted = set(emitted_terms)
    for group in vocabulary.conflicts:
        hit = [[term for term in side if term in emitted] for side in group.sides]
        hit = [side for side in hit if side]
        if len(hit) < 2:
            continue
        terms = [term for side in hit for term in side]
        fields = dict.fromkeys(vocabulary.category(term.category).field_path for term in terms)
        against = " contradicts ".join(" and ".join(term.label for term in side) for side in hit)
        message = f"{against}: {group.why} [{group.id}]"
        warnings.append(LintWarning(CONTRADICTION, ", ".join(fields), message))
    return warnings


def _length(vocabulary: Vocabulary, mode: Mode, lang: Lang, prompt: str) -> list[LintWarning]:
    least, most = vocabulary.lint.prompt_length[(mode, lang)]
    size = len("".join(prompt.split())) if lang == "zh" else len(prompt.split())
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
