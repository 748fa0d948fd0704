"""Read a YAML file keeping the line of every value, so a bad value is reported where it is.

PyYAML's plain loaders forget positions and silently keep the last of two duplicate keys;
both would make messages vague. This composes the node tree and builds plain Python data
alongside a map from each value's path to its (line, column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydantic
import yaml

from wanflow.errors import Problem, UserError

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: object
    positions: dict[PathKey, tuple[int, int]]  # 1-based (line, column): a key's, or a list item's

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        """A problem at `loc`, placed at the deepest part of it that the file holds."""
        key = tuple(loc)
        while key not in self.positions and key:
            key = key[:-1]
        line, column = self.positions.get(key, (None, None))
        return Problem(
            file=str(self.path),
            line=line,
            column=column,
            field=".".join(str(part) for part in loc),
            message=message,
        )

    def validation_problems(self, error: pydantic.ValidationError) -> list[Problem]:
        """One problem per pydantic error, each at its own line."""
        return [self.problem(detail["loc"], detail["msg"]) for detail in error.errors()]


def read_yaml(path: Path) -> YamlDocument:
    """Parse one YAML document; unreadable files, syntax errors and duplicate keys are UserErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(Problem(str(path), None, None, "", f"cannot read: {error}")) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        positions: dict[PathKey, tuple[int, int]] = {}
        data = _build(loader, root, (), positions, path) if root is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise UserError(Problem(str(path), line, column, "", f"invalid YAML: {error.problem}")) from None
    finally:
        loader.dispose()
    return YamlDocument(path=path, data=data, positions=positions)


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    where: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    path: Path,
) -> object:
    positions[where] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<:` merge keys
        mapping: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                raise UserError(_at(path, key_node, where, "keys must be plain strings"))
            if key in mapping:
                raise UserError(_at(path, key_node, (*where, key), f"duplicate key {key!r}"))
            mapping[key] = _build(loader, value_node, (*where, key), positions, path)
            positions[(*where, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*where, index), positions, path) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _at(path: Path, node: yaml.Node, where: PathKey, message: str) -> Problem:
    mark = node.start_mark
    return Problem(str(path), mark.line + 1, mark.column + 1, ".".join(str(p) for p in where), message)
