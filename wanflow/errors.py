"""The one way bad input is reported: a list of problems, each naming file, line and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


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
