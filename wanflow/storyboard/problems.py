"""Pydantic errors -> `Problem`s that name the file, line, column and field people wrote."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node

from wanflow.errors import Problem
from wanflow.storyboard.fields import did_you_mean
from wanflow.storyboard.keyhints import unknown_key_message
from wanflow.yamlfile import format_loc, key_node, locate, node_position

_EXPECTED = {
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "path_type": "a path",
}


def validation_problems(
    error: ValidationError, root_model: type[BaseModel], root: Node | None, file: str
) -> list[Problem]:
    """One problem per pydantic error, placed on the YAML node it is about."""
    problems = []
    for item in error.errors(include_url=False):
        loc = [part for part in item["loc"] if not (isinstance(part, str) and part.startswith("<"))]
        context = item.get("ctx") or {}
        if "field" in context:
            loc.append(context["field"])
        problems.append(_problem(item, loc, root_model, root, file))
    return problems


def _problem(item: Any, loc: list[str | int], root_model: type[BaseModel], root: Node | None, file: str) -> Problem:
    kind = item["type"]
    if loc and loc[-1] == "[key]":  # a mapping key failed its own check
        loc = loc[:-1]
        node = key_node(root, loc)
        return _at(file, node, loc, f"{loc[-1]!r} is not a valid name: use letters, digits, '_' and '-'")
    if kind == "extra_forbidden":
        mapping, _ = locate(root, loc[:-1])
        message = unknown_key_message(str(loc[-1]), model_at(root_model, loc[:-1]), mapping)
        return _at(file, key_node(root, loc), loc, message)
    if kind == "missing":
        parent, _ = locate(root, loc[:-1])
        return _at(file, parent, loc, "missing (required)")
    node, consumed = locate(root, loc)
    if consumed < len(loc) and not isinstance(node, MappingNode):
        loc = loc[:consumed]  # a shorthand scalar (`transition: wobble`) stands for its mapping
    return _at(file, node, loc, _message(kind, item))


def _at(file: str, node: Node | None, loc: list[str | int], message: str) -> Problem:
    line, column = node_position(node) if node is not None else (None, None)
    return Problem(file, line, column, format_loc(loc), message)


def _message(kind: str, item: Any) -> str:
    context = item.get("ctx") or {}
    value = item.get("input")
    if kind == "wanflow":
        return item["msg"]
    if kind == "value_error":
        return item["msg"].removeprefix("Value error, ")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value)}"
    if kind == "literal_error":
        choices = [choice.strip(" '") for choice in context["expected"].replace(" or ", ", ").split(",")]
        return f"{describe(value)} is not one of: {', '.join(choices)}{did_you_mean(str(value), choices)}"
    if kind == "greater_than":
        return f"must be greater than {_number(context['gt'])}, got {describe(value)}"
    if kind == "greater_than_equal":
        return f"must be {_number(context['ge'])} or more, got {describe(value)}"
    if kind == "less_than_equal":
        return f"must be {_number(context['le'])} or less, got {describe(value)}"
    if kind == "less_than":
        return f"must be less than {_number(context['lt'])}, got {describe(value)}"
    if kind == "too_short":
        return f"needs at least {context['min_length']} item(s)"
    if kind == "too_long":
        return f"holds {context.get('actual_length', 'too many')} items; at most {context['max_length']}"
    if kind == "string_too_long":
        return f"{len(str(value))} characters long; at most {context['max_length']}"
    message = item["msg"]
    return message[:1].lower() + message[1:]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float):
        return _number(value)
    return repr(value)


def allowed_keys(root_model: type[BaseModel], loc: list[str | int]) -> list[str]:
    """The keys the model at `loc` accepts (to suggest one for a misspelt key)."""
    model = model_at(root_model, loc)
    return list(model.model_fields) if model else []


def model_at(root_model: type[BaseModel], loc: list[str | int]) -> type[BaseModel] | None:
    """The model that reads the mapping at `loc`."""
    candidates: list[Any] = [root_model]
    for part in loc:
        candidates = [step for candidate in candidates for step in _steps(candidate, part)]
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return models[0] if models else None


def _steps(annotation: Any, part: str | int) -> list[Any]:
    found = []
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            if isinstance(part, str) and part in option.model_fields:
                found.extend(_options(option.model_fields[part].annotation))
        elif typing.get_origin(option) is list and isinstance(part, int):
            found.extend(_options(typing.get_args(option)[0]))
        elif typing.get_origin(option) is dict and isinstance(part, str):
            found.extend(_options(typing.get_args(option)[1]))
    return found


def _options(annotation: Any) -> list[Any]:
    """Unwrap Annotated and unions into the plain types a value may have."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [o for arg in typing.get_args(annotation) for o in _options(arg)]
    return [annotation]
