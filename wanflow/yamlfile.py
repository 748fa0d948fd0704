"""Safe, line-aware YAML loading: plain data plus the node tree, so every problem can name its line.

PyYAML silently keeps the last of two equal keys and, with the full loader, builds arbitrary
Python objects from tags. Here the document is only *composed* into nodes by `SafeLoader`,
then turned into plain data by hand: duplicate keys and any tag beyond the standard scalar,
list and mapping ones become problems, and the nodes stay around to map a data path back to
its line and column.

Files come from other people, so everything is bounded before it costs time or memory: the
file's size, its nesting depth (PyYAML's composer recurses), its number of values (counted
while composing, and again while aliases expand), the digits of a number, and characters a
terminal or a file name would misread (NUL, escape sequences), each reported where it is.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from wanflow.errors import Problem, UserError
from wanflow.yamlindent import explain

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
MAX_NODES = 100_000  # values in a document, aliases expanded: a guard against "billion laughs"
MAX_DEPTH = 32  # nested lists and mappings; a storyboard needs about ten
MAX_FILE_BYTES = 4 * 1024 * 1024  # a 2000-shot storyboard with long descriptions is about 2 MB
MAX_PROBLEMS_OF_A_KIND = 10
# What PyYAML's reader refuses, found first so each one is reported at its line and column.
_UNREADABLE = re.compile(r"[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What an escape in a quoted scalar can still produce: controls a terminal or ffmpeg would act on.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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
            raise _TooLarge(node, f"the document expands to more than {MAX_NODES} values (an alias bomb?)")
        if len(loc) >= MAX_DEPTH:  # aliases can nest what was composed shallow
            raise _TooLarge(node, f"values are nested more than {MAX_DEPTH} levels deep")
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
                value = self.scalar(node, loc)
            elif isinstance(node, SequenceNode):
                value = [self.build(item, [*loc, index]) for index, item in enumerate(node.value)]
            else:
                value = self.build_mapping(node, loc)
        finally:
            self.building.discard(id(node))
        self.built[id(node)] = value
        return value

    def scalar(self, node: ScalarNode, loc: list[str | int]) -> Any:
        """A scalar's value; a number too long to read, or a control character, is a problem."""
        try:
            value = self.scalars.construct_object(node, deep=True)
        except ValueError:  # Python reads at most 4300 digits
            digits = sum(character.isdigit() for character in node.value)
            self.problem(node, loc, f"a number of {digits} digits is far out of range")
            return None
        if isinstance(value, str) and (control := _CONTROL.search(value)):
            self.problem(node, loc, f"{_character(control.group())} in text; write printable text only")
            return None
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
            name = key.value if key.tag == "tag:yaml.org,2002:str" else str(self.scalar(key, loc))
            if _CONTROL.search(name):
                self.problem(key, loc, f"{_character(_CONTROL.search(name).group())} in a key")
                continue
            mapping[name] = self.build(value, [*loc, name])
        return mapping


class _TooLarge(Exception):
    def __init__(self, node: Node | None, message: str, mark: Any = None) -> None:
        self.node = node
        self.message = message
        self.mark = mark if mark is not None else (node.start_mark if node is not None else None)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader's composer with a depth and a node budget, so a deep or huge file stops early."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(None, f"the document holds more than {MAX_NODES} values", self.peek_event().start_mark)
        if self.depth >= MAX_DEPTH:
            message = f"values are nested more than {MAX_DEPTH} levels deep"
            raise _TooLarge(None, message, self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _character(character: str) -> str:
    """`control character U+001B (ESCAPE)`: how a message names a character people cannot see."""
    code = f"U+{ord(character):04X}"
    if unicodedata.category(character) == "Cc":
        name = {"\0": " (NUL)", "\x1b": " (ESCAPE)", "\x7f": " (DELETE)"}.get(character, "")
        return f"control character {code}{name}"
    return f"character {code} ({unicodedata.name(character, 'unassigned')})"


def _unreadable(text: str, file: str) -> list[Problem]:
    """Characters a storyboard cannot hold (NUL and other controls), each at its line and column."""
    problems: list[Problem] = []
    for match in _UNREADABLE.finditer(text):
        before = text[: match.start()]
        line = before.count("\n") + 1
        column = match.start() - (before.rfind("\n") + 1) + 1
        message = f"{_character(match.group())} is not allowed in a YAML file; remove it"
        problems.append(Problem(file, line, column, "", message))
        if len(problems) == MAX_PROBLEMS_OF_A_KIND:
            break
    return problems


def load_yaml(text: str, file: str) -> tuple[YamlDocument, list[Problem]]:
    """Compose one YAML document safely; problems name file:line:column."""
    unreadable = _unreadable(text, file)
    if unreadable:
        return YamlDocument(None, None), unreadable
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
    except _TooLarge as error:
        line, column = error.mark.line + 1, error.mark.column + 1
        return YamlDocument(None, None), [Problem(file, line, column, "", error.message)]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        started = (error.context_mark.line + 1, error.context_mark.column + 1) if error.context_mark else None
        if line is not None and (said := explain(text, line, column, error.problem or "", error.context, started)):
            return YamlDocument(None, None), [Problem(file, said[0], said[1], "", f"YAML syntax error: {said[2]}")]
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
    finally:
        loader.dispose()
    if root is None:
        return YamlDocument(None, None), []
    builder = _Builder(file)
    try:
        data = builder.build(root, [])
    except _TooLarge as error:
        line, column = error.mark.line + 1, error.mark.column + 1
        return YamlDocument(None, root), [Problem(file, line, column, "", error.message)]
    return YamlDocument(data, root, file), builder.problems


def read_limited(path: Path, what: str = "file") -> bytes:
    """A regular file's bytes, at most MAX_FILE_BYTES; anything else is a UserError (a device or a
    pipe would never end, a huge file would only be refused after minutes of parsing)."""
    file = str(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise UserError(Problem(file, None, None, "", "no such file")) from None
    except OSError as error:
        raise UserError(Problem(file, None, None, "", f"cannot read: {error.strerror or error}")) from None
    if stat.S_ISDIR(status.st_mode):
        raise UserError(Problem(file, None, None, "", f"is a directory, not a {what}"))
    if not stat.S_ISREG(status.st_mode):
        raise UserError(Problem(file, None, None, "", f"is not a regular file; a {what} is a plain text file"))
    too_large = f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; a {what} is a text file of a few hundred KB"
    if status.st_size > MAX_FILE_BYTES:
        raise UserError(Problem(file, None, None, "", too_large))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise UserError(Problem(file, None, None, "", f"cannot read: {error.strerror or error}")) from None
    if len(data) > MAX_FILE_BYTES:  # it grew since the stat
        raise UserError(Problem(file, None, None, "", too_large))
    return data


def read_yaml(path: Path) -> YamlDocument:
    """Load a YAML file whose every problem (unreadable, syntax, duplicate key, tag) is a UserError."""
    try:
        text = read_limited(path, "YAML file").decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(Problem(str(path), None, None, "", f"cannot read: {error}")) from None
    document, problems = load_yaml(text, str(path))
    if problems:
        raise UserError(problems)
    return document
