"""Safe, line-aware YAML loading: plain data plus the node tree, so every problem can name its line.

PyYAML silently keeps the last of two equal keys and, with the full loader, builds arbitrary
Python objects from tags. Here the document is only *composed* into nodes by `SafeLoader`,
then turned into plain data by hand: duplicate keys and any tag beyond the standard scalar,
list and mapping ones become problems, and the nodes stay around to map a data path back to
its line and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from wanflow.errors import Problem, UserError

Loc = Sequence[str | int]

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
MAX_NODES = 100_000  # a guard against alias bombs ("billion laughs")


@dataclass
class YamlDocument:
    """The loaded data and the node it came from (None for an empty document)."""

    data: Any
    root: Node | None
    file: str = ""

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at `loc`'s key where it is a mapping key, else at the deepest node the file holds."""
        node = key_node(self.root, loc) if loc else None
        if node is None:
            node, _ = locate(self.root, loc)
        line, column = node_position(node) if node is not None else (None, None)
        return Problem(self.file, line, column, format_loc(loc), message)


def format_loc(loc: Loc) -> str:
    """`scenes[0].shots[1].look`: the path people read in messages."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def node_position(node: Node) -> tuple[int, int]:
    """1-based (line, column) of where a node starts."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def locate(root: Node | None, loc: Loc) -> tuple[Node | None, int]:
    """The deepest node along `loc`, and how many parts of `loc` it consumed.

    For a mapping key the *value* node is returned, except for the last part when the value
    is missing. Callers point at `key_node` for problems about the key itself.
    """
    node = root
    consumed = 0
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        consumed += 1
    return node, consumed


def line_of(root: Node | None, loc: Loc) -> int:
    """1-based line of the node at `loc` (0 when the file has no such node)."""
    node, consumed = locate(root, loc)
    return node_position(node)[0] if node is not None and consumed == len(loc) else 0


def key_node(root: Node | None, loc: Loc) -> Node | None:
    """The key node of the last part of `loc` (where an unknown key is written)."""
    parent, consumed = locate(root, loc[:-1])
    if consumed != len(loc) - 1 or not isinstance(parent, MappingNode):
        return None
    found = None
    for key, _value in _pairs(parent):
        if isinstance(key, ScalarNode) and key.value == str(loc[-1]):
            found = key
    return found


def _child(node: Node | None, part: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        found = None
        for key, value in _pairs(node):
            if isinstance(key, ScalarNode) and key.value == str(part):
                found = value  # the last one wins, as in the data
        return found
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


def _pairs(node: MappingNode) -> list[tuple[Node, Node]]:
    """Key/value pairs with `<<` merges flattened in, merged ones first (explicit keys win)."""
    merged: list[tuple[Node, Node]] = []
    own: list[tuple[Node, Node]] = []
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(_pairs(source))
        else:
            own.append((key, value))
    return merged + own


class _Builder:
    """Turns composed nodes into plain dicts/lists/scalars, collecting problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.scalars = yaml.SafeLoader("")  # only its scalar constructors are used
        self.count = 0
        self.building: set[int] = set()
        self.built: dict[int, Any] = {}

    def problem(self, node: Node, loc: list[str | int], message: str) -> None:
        line, column = node_position(node)
        self.problems.append(Problem(self.file, line, column, format_loc(loc), message))

    def build(self, node: Node, loc: list[str | int]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
        if id(node) in self.built:  # an alias of a node already built
            return self.built[id(node)]
        if id(node) in self.building:
            self.problem(node, loc, "a YAML alias refers to itself (a recursive structure)")
            return None
        if node.tag == _TIMESTAMP_TAG and isinstance(node, ScalarNode):
            return node.value  # a date-like scalar stays the text it is
        if node.tag not in _STANDARD_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problem(node, loc, f"YAML tag {tag!r} is not allowed; write plain text, numbers, lists and mappings")
            return None
        self.building.add(id(node))
        try:
            if isinstance(node, ScalarNode):
                value = self.scalars.construct_object(node, deep=True)
            elif isinstance(node, SequenceNode):
                value = [self.build(item, [*loc, index]) for index, item in enumerate(node.value)]
            else:
                value = self.build_mapping(node, loc)
        finally:
            self.building.discard(id(node))
        self.built[id(node)] = value
        return value

    def build_mapping(self, node: MappingNode, loc: list[str | int]) -> dict[str, Any]:
        seen: dict[str, Node] = {}
        for key, _value in node.value:
            if key.tag == _MERGE_TAG or not isinstance(key, ScalarNode):
                continue
            if key.value in seen:
                first_line, _ = node_position(seen[key.value])
                self.problem(key, [*loc, key.value], f"duplicate key {key.value!r} (first set on line {first_line})")
            seen[key.value] = key
        mapping: dict[str, Any] = {}
        for key, value in _pairs(node):
            if not isinstance(key, ScalarNode) or key.tag not in _STANDARD_TAGS:
                self.problem(key, loc, "mapping keys must be plain text")
                continue
            name = key.value if key.tag == "tag:yaml.org,2002:str" else str(self.scalars.construct_object(key))
            mapping[name] = self.build(value, [*loc, name])
        return mapping


class _TooLarge(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def load_yaml(text: str, file: str) -> tuple[YamlDocument, list[Problem]]:
    """Compose one YAML document safely; problems name file:line:column."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = error.problem or "invalid YAML"
        if error.context:
            started = error.context_mark
            where = (
                f" (from line {started.line + 1}, column {started.column + 1})" if started and started != mark else ""
            )
            what = f"{error.context}{where}, {what}"
        return YamlDocument(None, None), [Problem(file, line, column, "", f"YAML syntax error: {what}")]
    except yaml.YAMLError as error:
        return YamlDocument(None, None), [Problem(file, None, None, "", f"YAML error: {error}")]
    if root is None:
        return YamlDocument(None, None), []
    builder = _Builder(file)
    try:
        data = builder.build(root, [])
    except _TooLarge as error:
        line, column = node_position(error.node)
        message = f"the document expands to more than {MAX_NODES} values (an alias bomb?)"
        return YamlDocument(None, root), [Problem(file, line, column, "", message)]
    return YamlDocument(data, root, file), builder.problems


def read_yaml(path: Path) -> YamlDocument:
    """Load a YAML file whose every problem (unreadable, syntax, duplicate key, tag) is a UserError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(Problem(str(path), None, None, "", f"cannot read: {error}")) from None
    document, problems = load_yaml(text, str(path))
    if problems:
        raise UserError(problems)
    return document
