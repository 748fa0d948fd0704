"""The key reference of docs/spec-format.md, generated from the JSON Schema `validate` checks against.

Every level of the format, every key it accepts, what the key takes and what it means: the
table a hand-written page lets drift. `python -m wanflow.storyboard.keyref` writes it between
the page's `<!-- keys:start -->` and `<!-- keys:end -->` marks; a test holds the page to it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from wanflow.storyboard.load import film_json_schema

# (heading, the schema definition of that level; "" is the film itself)
LEVELS = (
    ("The film (top level)", ""),
    ("A scene (an item of `scenes:`)", "SceneSpec"),
    ("A shot (an item of a scene's `shots:`)", "ShotSpec"),
    ("`defaults:` (the film's and a scene's)", "DefaultsSpec"),
    ("`look:`", "LookSpec"),
    ("`transition:` (or just its type)", "TransitionSpec"),
    ("`trim:`", "TrimSpec"),
    ("An item of `lora:` (or just its file)", "LoraSpec"),
    ("`output:`", "OutputSpec"),
    ("`titles:`", "TitlesSpec"),
    ("A title card (`opening:`, `ending:`; or just its text)", "TitleCardSpec"),
    ("An item of `soundtrack:` (or just its file)", "AudioSpec"),
    ("A profile (`profiles: NAME:`)", "ProfileSpecModel"),
)
START, END = "<!-- keys:start -->", "<!-- keys:end -->"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "spec-format.md"
_NAMES = {"integer": "whole number", "number": "number", "string": "text", "boolean": "true / false", "null": "null"}


def key_reference() -> str:
    """The markdown between the marks: one table per level."""
    schema = film_json_schema()
    definitions = schema["$defs"]
    parts = [
        "## Every key",
        "",
        "Generated from the JSON Schema (`wanflow schema`) by `python -m wanflow.storyboard.keyref`;",
        "the sections above say more about each.",
    ]
    for heading, name in LEVELS:
        level = definitions[name] if name else schema
        required = set(level.get("required", ()))
        parts += ["", f"### {heading}", "", "| key | takes | meaning |", "|---|---|---|"]
        for key, field in level["properties"].items():
            meaning = (field.get("description") or "").replace("|", "\\|").replace("\n", " ")
            marked = f"**required**. {meaning}" if key in required else meaning
            parts.append(f"| `{key}` | {_takes(field, definitions)} | {marked.strip()} |")
    return "\n".join(parts) + "\n"


def _takes(field: dict[str, Any], definitions: dict[str, Any]) -> str:
    """What a key takes, in words: `number`, `text or list of text`, `mapping (look:)`."""
    kinds = [part for option in field.get("anyOf", [field]) for part in _kind(option, definitions).split(" or ")]
    return " or ".join(kind for kind in dict.fromkeys(kinds) if kind and kind != "any") or "any"


def _kind(field: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "examples" in field:  # a vocabulary term (see film_json_schema)
        return "a term (`wanflow vocab`)"
    if "anyOf" in field:
        return _takes(field, definitions)
    if "$ref" in field:
        return "mapping"
    if "const" in field:
        return f"`{field['const']}`"
    if "enum" in field:
        shown = field["enum"][:6]
        return " \\| ".join(f"`{value}`" for value in shown) + (" \\| ..." if len(field["enum"]) > 6 else "")
    kind = field.get("type")
    if kind == "array":
        return f"list of {_kind(field.get('items', {}), definitions) or 'values'}"
    if kind == "object":
        return "mapping"
    if kind == "null":
        return ""
    return _NAMES.get(kind, "")


def replace_section(page: str) -> str:
    """`page` with the text between the marks replaced by the current reference."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), flags=re.S)
    return pattern.sub(lambda _match: f"{START}\n{key_reference()}{END}", page, count=1)


if __name__ == "__main__":  # python -m wanflow.storyboard.keyref: write the reference into the page
    PAGE.write_text(replace_section(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the key reference into {PAGE}")
