"""Storyboard YAML -> `wanflow.film.Film`: read, check everything, resolve the defaults.

Every mistake in a file is reported at once, each on the line and column where it was
written. Loading never half-succeeds: it returns a complete Film or raises `UserError`.
Storyboards come from other people: the file, and every file it names, must lie in its
repository or an allowed folder (`wanflow.confine`), and its size and values are bounded
(`wanflow.storyboard.bounds`) before they cost time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wanflow.confine import ALLOW_HINT, Confinement
from wanflow.errors import Problem, UserError
from wanflow.film import Film
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir, storyboard_grammar_dir
from wanflow.storyboard.bounds import MAX_SHOTS
from wanflow.storyboard.ends import end_at_problems
from wanflow.storyboard.fields import NAME_PATTERN, TERM_MARK, did_you_mean
from wanflow.storyboard.models import SPEC_VERSION, FilmSpec
from wanflow.storyboard.problems import describe, validation_problems
from wanflow.storyboard.resolve import resolve_film
from wanflow.yamlfile import (
    YamlDocument,
    format_loc,
    line_of,
    load_yaml,
    locate,
    node_position,
    read_limited,
)


def load_film(path: Path) -> Film:
    """Read and check a storyboard; raises UserError listing every problem found."""
    path = Path(path)
    file = str(path)
    confinement = Confinement.of_spec(path)
    spec_path = path.resolve()
    if not confinement.contains(spec_path):  # a link out of the repository: read nothing there
        message = f"the storyboard file leads outside {confinement.describe()} ({ALLOW_HINT})"
        raise UserError(Problem(file, None, None, "", message))
    raw = read_limited(path, "storyboard file")
    text = _decode(raw, file)
    document, problems = load_yaml(text, file)
    if document.root is None and not problems:
        raise UserError(
            Problem(file, None, None, "", f"the file is empty; a storyboard starts with `wanflow: {SPEC_VERSION}`")
        )
    if document.data is None and problems:
        raise UserError(problems)
    data = document.data
    if not isinstance(data, dict):
        line, column = node_position(document.root)
        raise UserError(
            Problem(file, line, column, "", "the top level must be a mapping (wanflow:, title:, scenes:, ...)")
        )
    version_problem = _version_problem(document, file)
    if version_problem is not None:
        raise UserError([*problems, version_problem])
    too_many = _too_many_shots(data, document, file)
    if too_many is not None:  # refused before validating thousands of shots
        raise UserError(too_many)

    grammar_dir = storyboard_grammar_dir(spec_path, confinement)
    context = {
        "vocabulary": load_vocabulary(grammar_dir),
        "base_dir": spec_path.parent,
        "confinement": confinement,
        "characters": _raw_characters(data),
    }
    spec: FilmSpec | None = None
    try:
        spec = FilmSpec.model_validate(data, context=context)
    except ValidationError as error:
        reported = {(p.line, p.column) for p in problems}
        problems += [
            p for p in validation_problems(error, FilmSpec, document.root, file) if (p.line, p.column) not in reported
        ]
    problems += _id_problems(data, document, file)
    if problems or spec is None:
        raise UserError(_sorted(problems))

    film, problems = resolve_film(spec, document, file, spec_path, grammar_dir, hashlib.sha256(raw).hexdigest())
    if problems:
        raise UserError(_sorted(problems))
    return film


def film_json_schema() -> dict[str, Any]:
    """The JSON Schema of the format, with the packaged vocabulary as completions."""
    vocabulary = load_vocabulary(packaged_grammar_dir())
    schema = FilmSpec.model_json_schema(mode="validation")

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            if TERM_MARK in node:
                category = node[TERM_MARK]
                terms = vocabulary.terms(category)
                words = list(dict.fromkeys(w for t in terms for w in t.spellings))
                return {
                    "description": node.get("description", ""),
                    "anyOf": [{"enum": words}, {"type": "string"}],
                    "examples": [t.zh for t in terms],
                }
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(item) for item in node]
        return node

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **fill(schema)}


# --- reading ----------------------------------------------------------------------------


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        message = f"not UTF-8 text (byte 0x{raw[error.start]:02x}); save the file as UTF-8"
        raise UserError(Problem(file, line, column, "", message)) from None


def _version_problem(document: YamlDocument, file: str) -> Problem | None:
    version = document.data.get("wanflow")
    if version == SPEC_VERSION and not isinstance(version, bool):
        return None
    if "wanflow" not in document.data:
        line, column = node_position(document.root)
        return Problem(
            file,
            line,
            column,
            "wanflow",
            f"missing: a storyboard starts with `wanflow: {SPEC_VERSION}` (the format version)",
        )
    node, _ = locate(document.root, ["wanflow"])
    line, column = node_position(node)
    return Problem(
        file,
        line,
        column,
        "wanflow",
        f"unsupported format version {describe(version)}; this wanflow reads version {SPEC_VERSION}",
    )


def _too_many_shots(data: dict[str, Any], document: YamlDocument, file: str) -> Problem | None:
    scenes = data.get("scenes")
    scenes = scenes if isinstance(scenes, list) else []
    count = sum(
        len(scene["shots"]) for scene in scenes if isinstance(scene, dict) and isinstance(scene.get("shots"), list)
    )
    if count <= MAX_SHOTS:
        return None
    node, _ = locate(document.root, ["scenes"])
    line, column = node_position(node) if node is not None else (None, None)
    return Problem(file, line, column, "scenes", f"{count} shots; a storyboard holds at most {MAX_SHOTS}")


def _raw_characters(data: dict[str, Any]) -> dict[str, str]:
    characters = data.get("characters")
    if not isinstance(characters, dict):
        return {}
    return {
        name: str(text)
        for name, text in characters.items()
        if NAME_PATTERN.fullmatch(name) and isinstance(text, str | int | float) and not isinstance(text, bool)
    }


def _id_problems(data: dict[str, Any], document: YamlDocument, file: str) -> list[Problem]:
    """Film-wide checks on the raw data, so they are reported even beside other mistakes."""
    problems: list[Problem] = []

    def add(loc: list[str | int], message: str) -> None:
        node, _ = locate(document.root, loc)
        line, column = node_position(node) if node is not None else (None, None)
        problems.append(Problem(file, line, column, format_loc(loc), message))

    scene_lines: dict[str, int] = {}
    shot_lines: dict[str, int] = {}
    folded: dict[str, str] = {}  # casefolded id -> the id as written
    order: list[tuple[str, list[str | int], Any]] = []  # (shot id, loc, continue_from)
    raw_shots: list[tuple[str, list[str | int], dict[str, Any]]] = []  # (shot id, loc, its mapping)
    scenes = data.get("scenes")
    for s, scene in enumerate(scenes if isinstance(scenes, list) else []):
        if not isinstance(scene, dict):
            continue
        scene_id = scene.get("id")
        if isinstance(scene_id, str | int) and str(scene_id) in scene_lines:
            add(
                ["scenes", s, "id"],
                f"duplicate scene id {str(scene_id)!r} (first used on line {scene_lines[str(scene_id)]})",
            )
        elif isinstance(scene_id, str | int):
            scene_lines[str(scene_id)] = line_of(document.root, ["scenes", s, "id"])
        shots = scene.get("shots")
        for h, shot in enumerate(shots if isinstance(shots, list) else []):
            if not isinstance(shot, dict) or not isinstance(shot.get("id"), str | int):
                continue
            shot_id, loc = str(shot["id"]), ["scenes", s, "shots", h]
            if shot_id in shot_lines:
                add([*loc, "id"], f"duplicate shot id {shot_id!r} (first used on line {shot_lines[shot_id]})")
            elif shot_id.casefold() in folded:  # clips/<id>.mp4 would be one file on macOS and Windows
                other = folded[shot_id.casefold()]
                add([*loc, "id"], f"shot id {shot_id!r} differs from {other!r} (line {shot_lines[other]}) only in case")
            else:
                shot_lines[shot_id] = line_of(document.root, [*loc, "id"])
                folded[shot_id.casefold()] = shot_id
            order.append((shot_id, loc, shot.get("continue_from")))
            raw_shots.append((shot_id, loc, shot))

    earlier: list[str] = []
    for shot_id, loc, target in order:
        if isinstance(target, str | int):
            target = str(target)
            if target == shot_id:
                add([*loc, "continue_from"], "a shot cannot continue from itself")
            elif target not in shot_lines:
                add([*loc, "continue_from"], f"unknown shot {target!r}{did_you_mean(target, earlier)}")
            elif target not in earlier:
                add(
                    [*loc, "continue_from"],
                    f"{target!r} comes later in the film; continue_from must name an earlier shot",
                )
        earlier.append(shot_id)
    end_at_problems(raw_shots, add)
    return problems


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0))
