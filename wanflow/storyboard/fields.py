"""The field types of the storyboard format, and the checks each one carries.

Validation needs four things from the file being read, passed as the validation context:
`vocabulary` (terms are normalised to their canonical zh form), `base_dir` (relative paths
resolve against the spec's folder), `confinement` (where files may be read from) and
`characters` (`{name}` references expand). Every number and text has its bound (bounds.py).
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    create_model,
)
from pydantic_core import PydanticCustomError

from wanflow.catalog import BACKENDS
from wanflow.confine import Confinement, OutsideError
from wanflow.grammar.vocabulary import UnknownTerm, Vocabulary
from wanflow.storyboard.bounds import (
    MAX_FRAMES,
    MAX_ID_CHARS,
    MAX_LIST_ITEMS,
    MAX_TEXT_CHARS,
    MIN_SIDE,
)
from wanflow.storyboard.mediafiles import AUDIO_KINDS, IMAGE_FORMATS, MediaFileError, check_audio_file, image_facts

TERM_MARK = "x-wanflow-term"  # marks vocabulary fields in the JSON schema (filled in by spec.py)
BackendId = Literal[tuple(BACKENDS)]  # type: ignore[valid-type]
IMAGE_SUFFIXES = tuple(IMAGE_FORMATS)


def problem(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error with our own wording; `field` points it at a key of the model."""
    context: dict[str, Any] = {"message": message}
    if field is not None:
        context["field"] = field
    return PydanticCustomError("wanflow", "{message}", context)


def did_you_mean(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _context(info: ValidationInfo, key: str) -> Any:
    if not info.context or key not in info.context:
        raise RuntimeError(
            f"spec models need {key!r} in the validation context (use wanflow.storyboard.load.load_film)"
        )
    return info.context[key]


class SpecModel(BaseModel):
    """Unknown keys are mistakes (typos), and a number where text goes (`title: 2001`) is text."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


# --- vocabulary terms -------------------------------------------------------------------


def describe_unknown_term(error: UnknownTerm) -> str:
    """`unknown shot size 'closeup'; did you mean 特写 (close-up)?` (+ where else it is a term)."""
    message = f"unknown {error.category.replace('_', ' ')} {error.value!r}"
    if error.suggestions:
        message += f"; did you mean {' or '.join(error.suggestions[:3])}?"
    elif not error.elsewhere:  # nothing near it: the list of terms is the help
        message += f"; `wanflow vocab {error.category}` lists its terms"
    if error.elsewhere:
        message += f" ({error.value!r} is a term of {', '.join(error.elsewhere)})"
    return message


def _term_validator(category: str) -> AfterValidator:
    def canonical(value: str, info: ValidationInfo) -> str:
        vocabulary: Vocabulary = _context(info, "vocabulary")
        try:
            return vocabulary.resolve(category, value).zh
        except UnknownTerm as error:
            if vocabulary.category(category).open:
                return value.strip()  # plain words (another feeling, another motion) are kept as written
            raise problem(describe_unknown_term(error)) from None

    return AfterValidator(canonical)


def term(category: str, description: str) -> Any:
    """One vocabulary term: zh, en (any case) or an alias; stored as the canonical zh term."""
    return Annotated[
        str,
        _term_validator(category),
        Field(description=description, json_schema_extra={TERM_MARK: category}),
    ]


# --- lists that replace or extend what they inherit ----------------------------------------


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _list_or_extend(value: Any) -> str:
    return "<extend>" if isinstance(value, dict) else "<list>"


def patch_list(item: Any, name: str, description: str) -> Any:
    """A list that REPLACES the inherited one, or `{extend: [...]}` that adds to it."""
    extend_model = create_model(
        f"Extend{name}",
        __base__=SpecModel,
        extend=(list[item], Field(description="Added after the inherited items.", max_length=MAX_LIST_ITEMS)),
    )
    return Annotated[
        Annotated[list[item], Field(max_length=MAX_LIST_ITEMS), Tag("<list>")]
        | Annotated[extend_model, Tag("<extend>")],
        Discriminator(_list_or_extend),
        BeforeValidator(_one_or_many, json_schema_input_type=Union[str, list[item], extend_model]),
        Field(description=description),
    ]


def term_list(category: str, description: str) -> Any:
    return patch_list(
        term(category, f"A {category.replace('_', ' ')} term."), category.title().replace("_", ""), description
    )


# --- text, files, numbers ---------------------------------------------------------------

_REFERENCE = re.compile(r"\{\{(\w[\w-]*)\}\}|\{(\w[\w-]*)\}")
NAME_PATTERN = re.compile(r"^\w[\w-]*$")  # Python code uses fullmatch: `$` also matches before a final newline
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def expand_characters(text: str, characters: dict[str, str]) -> str:
    """`{name}` -> the character's text; `{{name}}` -> a literal `{name}`; other braces stay."""

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped is not None:
            return "{" + escaped + "}"
        if name not in characters:
            known = ", ".join(characters) or "none are defined"
            hint = did_you_mean(name, list(characters))
            raise problem(
                f"unknown character {{{name}}}{hint} (characters: {known}; write {{{{{name}}}}} for literal braces)"
            )
        return characters[name]

    return _REFERENCE.sub(replace, text)


def _expand(text: str, info: ValidationInfo) -> str:
    expanded = expand_characters(text, _context(info, "characters"))
    if len(expanded) > MAX_TEXT_CHARS:
        raise problem(f"{len(expanded)} characters once characters are expanded; text holds at most {MAX_TEXT_CHARS}")
    return expanded


def _check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise problem(
            f"{value!r} is not a valid id: use letters, digits, '-', '_' and '.', starting with a letter or digit"
        )
    return value


def _near_name(path: Path, suffixes: tuple[str, ...]) -> str:
    """`; did you mean 'boat.png'?` for a file of the kind beside the missing one (at most 1000 looked at)."""
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for e in itertools.islice(entries, 1000) if Path(e.name).suffix.lower() in suffixes]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _file_validator(suffixes: tuple[str, ...], what: str) -> AfterValidator:
    def existing(value: str, info: ValidationInfo) -> Path:
        base_dir: Path = _context(info, "base_dir")
        confinement: Confinement = _context(info, "confinement")
        try:  # outside first: the message must not tell whether an outside path exists
            path = confinement.resolve(value, base_dir)
        except OutsideError as error:
            raise problem(f"{what} {error}") from None
        if not path.exists():
            raise problem(f"{what} not found: {value} (looked for {path}){_near_name(path, suffixes)}")
        if not path.is_file():
            raise problem(f"{what} is not a file: {value} ({path})")
        if path.suffix.lower() not in suffixes:
            raise problem(f"{what} must be a {' / '.join(suffixes)} file, not {path.name!r}")
        return path

    return AfterValidator(existing)


def size(most: int, what: str) -> Any:
    """ "WIDTHxHEIGHT": even numbers from MIN_SIDE to `most`."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d{1,6})\s*[x*×]\s*(\d{1,6})\s*", value)
            if not match:
                raise problem(f'size {value!r} is not WIDTHxHEIGHT, e.g. "1280x720"')
            width, height = int(match.group(1)), int(match.group(2))
            if width <= 0 or height <= 0 or width % 2 or height % 2:
                raise problem(f"size {value!r}: width and height must be positive even numbers (H.264 needs them)")
            if not (MIN_SIDE <= width <= most and MIN_SIDE <= height <= most):
                raise problem(f"size {value!r}: {what} is {MIN_SIDE} to {most} pixels wide and high")
            return (width, height)
        raise problem(f'size must be text like "1280x720", not {value!r}')

    return Annotated[
        tuple[int, int],
        BeforeValidator(parse, json_schema_input_type=str),
        Field(description=f'"WIDTHxHEIGHT", e.g. "1280x720" (even numbers, {MIN_SIDE} to {most}).'),
    ]


def seconds(most: float, *, positive: bool = False) -> Any:
    """A number of seconds from 0 (or above 0) to `most`."""
    low = {"gt": 0} if positive else {"ge": 0}
    return Annotated[float, Field(**low, le=most, strict=True, allow_inf_nan=False)]


def _four_n_plus_one(value: int) -> int:
    if (value - 1) % 4:
        below = max(1, (value - 1) // 4 * 4 + 1)
        raise problem(
            f"{value} frames is not 4n+1 (Wan2.2 makes frames in fours after the first): try {below} or {below + 4}"
        )
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_expand)]
Prose = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]  # text taken as written (no characters)
Id = Annotated[
    str,
    Field(max_length=MAX_ID_CHARS, description=f"Letters, digits, '-', '_' and '.' (at most {MAX_ID_CHARS})."),
    AfterValidator(_check_id),
]


def _decodable_image(path: Path) -> Path:
    """`validate` decodes a start image as `run` will (once per file), so a broken one fails here."""
    try:
        image_facts(path)
    except MediaFileError as error:
        raise problem(f"image {error}") from None
    except OSError as error:
        raise problem(f"image {path.name} cannot be read: {error.strerror or error}") from None
    return path


def _audio_media(path: Path) -> Path:
    """A soundtrack is the audio its suffix says, not a playlist or a script naming other files."""
    try:
        check_audio_file(path)
    except MediaFileError as error:
        raise problem(f"audio file {error}") from None
    except OSError as error:
        raise problem(f"audio file {path.name} cannot be read: {error.strerror or error}") from None
    return path


ImageFile = Annotated[Path, _file_validator(IMAGE_SUFFIXES, "image"), AfterValidator(_decodable_image)]
LoraFile = Annotated[Path, _file_validator((".safetensors",), "LoRA file")]
AudioFile = Annotated[Path, _file_validator(tuple(AUDIO_KINDS), "audio file"), AfterValidator(_audio_media)]
Frames = Annotated[int, Field(gt=0, le=MAX_FRAMES, strict=True), AfterValidator(_four_n_plus_one)]
Flag = Annotated[bool, Field(strict=True)]


def shorthand(key: str, model: type[BaseModel]) -> BeforeValidator:
    """A plain string stands for `{key: string}` (e.g. `transition: dissolve`)."""
    return BeforeValidator(
        lambda value: {key: value} if isinstance(value, str) else value,
        json_schema_input_type=Union[str, model],
    )
