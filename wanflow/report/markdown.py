"""Markdown from text a storyboard chose (a title, a file name), for the Prefect UI's artifacts.

The UI renders artifact markdown: a title like `[film](javascript:...)` would be a live link,
and a newline a heading. So text is escaped to show as written (one line, every markdown
character backslash-escaped), and a link's target is only ever a `file:` URI built from a path.
"""

from __future__ import annotations

import re
from pathlib import Path

from wanflow.errors import shown

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=&:\"'])")


def markdown_text(text: object) -> str:
    """`text` shown as written, on one line, in any markdown context."""
    return _MARKDOWN.sub(r"\\\1", shown(str(text)))


def markdown_file_link(label: object, path: str | Path) -> str:
    """`[label](file:///...)`: the label escaped, the target the path's percent-encoded file URI."""
    return f"[{markdown_text(label)}]({Path(path).absolute().as_uri()})"
