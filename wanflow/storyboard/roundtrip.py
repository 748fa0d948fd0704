"""Round-trip YAML edits (ruamel.yaml): set one key of one mapping, keep every other line as written.

A storyboard lives in git and people read its diffs, so a command that edits one must change
only the line it means to. ruamel.yaml keeps comments, key order, quotes and flow mappings,
but re-emits the whole document in its own style (`~` becomes empty, line endings become
`\\n`, a flow list written over two lines becomes one). So the edit is made by ruamel.yaml on
the parsed document, the line it renders is found by comparing its output before and after the
edit, and only that line is spliced into the file's own text, where ruamel.yaml found the key:
every other line keeps its bytes.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError


class EditRefused(Exception):
    """The edit cannot be made without touching other lines; the message says why."""


@dataclass(frozen=True)
class Edit:
    text: str  # the whole new text
    line: int  # 1-based line of the edited key in the new text
    inserted: bool  # the key was added (else its value was replaced)


def set_key(text: str, find: Callable[[Any], CommentedMap], key: str, value: object, after: str) -> Edit:
    """Set `key: value` in the mapping `find(document)` returns; a new key goes right after `after`.

    The line comes from ruamel.yaml (the file's own indentation, the key's comment kept) and goes
    where ruamel.yaml found the key in the file (a new key: on the line after `after`), so the
    rest of the file keeps its bytes whatever ruamel.yaml would make of it. Raises EditRefused
    when that cannot be done in one line, and YAMLError for text that is not YAML.
    """
    yaml = _yaml()
    document = yaml.load(text)
    mapping = find(document)
    if key in mapping and mapping[key] == value and type(mapping[key]) is type(value):
        return Edit(text, mapping.lc.key(key)[0] + 1, inserted=False)  # already so: nothing to write
    yaml.indent(**_indentation(document))
    flow, inserted = bool(mapping.fa.flow_style()), key not in mapping
    if flow:  # a flow mapping is rewritten whole: it must sit on one line
        start, end = mapping.lc.line, mapping.lc.line + 1
    elif inserted:
        anchor = after if after in mapping.lc.data else next(iter(mapping.lc.data))
        start = end = mapping.lc.key(anchor)[0] + 1
    else:
        start = mapping.lc.key(key)[0]
        end = start + 1
    before = _dump(yaml, document)
    if inserted:
        mapping.insert(list(mapping).index(after) + 1 if after in mapping else 0, key, value)
    else:
        mapping[key] = value
    matcher = difflib.SequenceMatcher(None, before, _dump(yaml, document), autojunk=False)
    changes = [change for change in matcher.get_opcodes() if change[0] != "equal"]
    expected = end - start
    if len(changes) != 1 or changes[0][2] - changes[0][1] != expected or changes[0][4] - changes[0][3] != 1:
        raise EditRefused(f"ruamel.yaml would change more than the line of {key}")
    _, old, _, new, _ = changes[0]
    original = text.splitlines(keepends=True)
    rendered = matcher.b[new]
    if flow and (start >= len(original) or before[old].split() != original[start].split()):
        raise EditRefused("the shot is a flow mapping written over several lines")
    if not flow:
        _check_indentation(rendered, mapping, key)
    newline = _newline(original[min(start, len(original) - 1)] if original else "\n")
    if start == len(original) and original and not original[-1].endswith(("\n", "\r")):
        original[-1] += newline  # a key added after a last line that has no line break
    replacement = rendered.rstrip("\n") + newline
    return Edit("".join([*original[:start], replacement, *original[end:]]), start + 1, inserted)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 1 << 30  # never fold a long line (a Chinese prompt) that the file keeps on one
    return yaml


def _dump(yaml: YAML, document: Any) -> list[str]:
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue().splitlines(keepends=True)


def _indentation(document: Any) -> dict[str, int]:
    """The file's own block indentation, read from where ruamel.yaml found its nodes.

    mapping: a nested mapping's keys past its parent key; sequence: a list item's content past
    its parent key; offset: the dash past its parent key (`scenes:` / `  - id:` is 4 and 2).
    """
    found: dict[str, int] = {}

    def visit(node: Any) -> None:
        if not isinstance(node, CommentedMap) or node.fa.flow_style():
            return
        for name, child in node.items():
            if name not in node.lc.data:  # merged in by `<<:`, written elsewhere
                continue
            key_line, key_column = node.lc.key(name)
            if isinstance(child, CommentedMap) and child and not child.fa.flow_style():
                line, column = child.lc.key(next(iter(child)))
                if line > key_line:
                    found.setdefault("mapping", column - key_column)
            elif isinstance(child, CommentedSeq) and child and not child.fa.flow_style():
                if child.lc.line > key_line:
                    found.setdefault("offset", child.lc.col - key_column)
                    found.setdefault("sequence", child.lc.item(0)[1] - key_column)
                for item in child:
                    visit(item)
            visit(child)

    visit(document)
    return {"mapping": found.get("mapping", 2), "sequence": found.get("sequence", 2), "offset": found.get("offset", 0)}


def _check_indentation(line: str, mapping: CommentedMap, key: str) -> None:
    """A key of a block mapping lands in the column of the mapping's other keys."""
    if mapping.fa.flow_style():
        return
    columns = {mapping.lc.key(name)[1] for name in mapping if name != key and name in mapping.lc.data}
    column = len(line) - len(line.lstrip(" -"))
    if columns and column not in columns:
        raise EditRefused("the file's indentation is not one ruamel.yaml can reproduce")


def _newline(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n"


__all__ = ["Edit", "EditRefused", "YAMLError", "set_key"]
