"""PyYAML's syntax errors said in words: which line is indented wrong, and what it should line up with.

The parser reports tokens ("expected <block end>, but found '?'"); people make indentation
mistakes. The common ones are recognised from the error and the lines above it: a key at a
column where no mapping around it has its keys, a key indented deeper than the key before it
(read as the rest of that key's value), a tab, a quote never closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"^(?P<indent> *)(?P<dashes>(?:- +)*)(?P<key>[^\s#:'\"\-][^:#]*?|'[^']*'|\"[^\"]*\"):(?:\s|$)")


@dataclass(frozen=True)
class _KeyLine:
    line: int  # 1-based
    column: int  # 1-based column of the key
    key: str
    dash_columns: tuple[int, ...]  # 1-based columns of the `- ` in front of it
    has_value: bool  # text follows the colon


def _key_line(number: int, text: str) -> _KeyLine | None:
    match = _KEY.match(text)
    if match is None:
        return None
    indent = len(match["indent"])
    dashes = tuple(indent + 1 + m.start() for m in re.finditer(r"-", match["dashes"]))
    rest = text[match.end() :].split(" #")[0].strip()
    return _KeyLine(number, indent + len(match["dashes"]) + 1, match["key"].strip("'\""), dashes, bool(rest))


def _keys_above(lines: list[str], line: int) -> list[_KeyLine]:
    """The keys on the lines above `line` (1-based), nearest first."""
    found = []
    for number in range(line - 1, 0, -1):
        key = _key_line(number, lines[number - 1])
        if key is not None:
            found.append(key)
    return found


def _levels(keys: list[_KeyLine]) -> list[_KeyLine]:
    """The enclosing keys of the nearest key: itself, then each nearest key at a smaller column."""
    levels: list[_KeyLine] = []
    for key in keys:
        if not levels or key.column < levels[-1].column:
            levels.append(key)
    return levels


def explain(
    text: str, line: int, column: int, problem: str, context: str | None, started: tuple[int, int] | None
) -> tuple[int, int, str] | None:
    """(line, column, message) in words for a syntax error PyYAML placed at `line`:`column`, or None.

    `context` and `started`: what the parser was reading when it failed, and where that began."""
    lines = text.splitlines()
    if context and "quoted scalar" in context and started is not None:
        return started[0], started[1], "the quoted text that starts here is never closed; end it with the same quote"
    if "'\\t'" in problem:
        return line, column, "a tab in the indentation; YAML indents with spaces only"
    if not 0 < line <= len(lines):
        return None
    here = _key_line(line, lines[line - 1])
    above = _keys_above(lines, line)
    quote = 'a `: ` inside a value; put the value in quotes ("...")'
    if here is None or not above:
        return (line, column, quote) if "mapping values are not allowed" in problem else None
    name = f"`{here.key}:` at line {line}"
    if "mapping values are not allowed" in problem:
        previous = above[0]
        if here.column > previous.column and previous.has_value and previous.line == _previous_text_line(lines, line):
            return (
                line,
                here.column,
                f"{name} is indented deeper (column {here.column}) than `{previous.key}:` on line {previous.line} "
                f"(column {previous.column}), so YAML reads it as more of `{previous.key}`'s value; keys of one "
                f"mapping line up: move it to column {previous.column}, or under a key of its own",
            )
        return line, column, quote
    if "expected <block end>" in problem:
        levels = _levels(above)
        said = ", ".join(f"`{k.key}:` (line {k.line}) at column {k.column}" for k in levels[:4])
        hint = " (a shot's keys line up under its `id`)" if any(k.key == "shots" for k in levels) else ""
        if here.dash_columns:
            items = next((k for k in above if k.dash_columns and k.dash_columns[-1] != here.dash_columns[-1]), None)
            where = f"; the items above start at column {items.dash_columns[-1]} (line {items.line})" if items else ""
            return (
                line,
                here.dash_columns[-1],
                f"the list item `- {here.key}:` at line {line} starts at column {here.dash_columns[-1]}, where no list "
                f"around it has its items{where}. Items of one list line up: move its `- ` to that column",
            )
        dash = next((k for k in above if here.column in k.dash_columns), None)
        like = f" (column {here.column} is where the `- ` of a list item sits, as on line {dash.line})" if dash else ""
        return (
            line,
            here.column,
            f"{name} starts at column {here.column}, where no mapping around it has its keys{like}: {said}. "
            f"Keys of one mapping line up; move it to the column of the mapping it belongs to{hint}",
        )
    return None


def _previous_text_line(lines: list[str], line: int) -> int:
    for number in range(line - 1, 0, -1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return 0
