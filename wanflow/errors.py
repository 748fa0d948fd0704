"""The one way bad input is reported: a list of problems, each naming file, line and field."""

from __future__ import annotations

import re
from dataclasses import dataclass

# C0 and C1 controls (escape sequences start with one), DEL, and the bidirectional formatting
# characters, which reorder what a terminal shows (a file name that reads backwards).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]


def shown(text: str) -> str:
    """Text a storyboard chose (a file name, a title, an id), safe on one line of a terminal, a log
    or a text format: control characters, escape sequences and bidi overrides shown escaped."""
    return _CONTROL.sub(_escaped, text)


def shown_lines(text: str) -> str:
    """As `shown`, keeping newlines and tabs: for output that is several lines by design."""
    return _CONTROL_BUT_LINES.sub(_escaped, text)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        """`file:line:column: field: message`, always one line: control characters a storyboard
        smuggles into a key or a value are shown escaped, never acted on by a terminal or a log."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return shown(text)


def file_error(path: object, message: str) -> UserError:
    """A problem with a whole file (no line or field): unreadable media, a tool that failed on it."""
    return UserError(Problem(str(path), None, None, "", message))


class UserError(Exception):
    """Input the user must fix. The CLI prints every problem and exits with code 2."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="wanflow", line=None, column=None, field="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
