"""The CLI is thin: the quick commands never pay for torch or Prefect, and no command module does the work itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "diffusers", "transformers", "safetensors", "prefect", "distributed")
PROBE = """
import sys
from wanflow.cli.app import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("loaded:", sorted(name for name in {heavy!r} if name in sys.modules))
"""


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "specs/film.yaml"],
        ["compile", "specs/film.yaml"],
        ["plan", "specs/film.yaml", "--profile", "preview"],
    ],
)
def test_quick_commands_import_no_torch_and_no_prefect(command: list[str], tmp_path: Path) -> None:
    """Indirect imports included: the whole process is asked what it loaded."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE.format(heavy=HEAVY),
            *command,
            *(["--cache", str(tmp_path)] if command[0] == "plan" else []),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded: []", result.stdout


# What a command module may not do itself: touch files, start processes, or plan and render
# (it parses options, calls one function of a stage, and prints what it returns).
FORBIDDEN_CALLS = {
    "write_text", "write_bytes", "mkdir", "unlink", "rmdir", "rmtree", "rename", "replace", "symlink_to",
    "open", "Popen", "run", "posix_spawn", "render_prepared", "render_film", "prepare_run",
}  # fmt: skip


def test_command_modules_only_parse_call_and_print() -> None:
    offences = []
    for module in sorted((ROOT / "wanflow" / "cli").glob("*_cmds.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in FORBIDDEN_CALLS and not _is_str_replace(node):
                    offences.append(f"{module.name}:{node.lineno} calls {name}")
    assert offences == []


def _is_str_replace(node: ast.Call) -> bool:
    """`text.replace(a, b)` on a string is printing, not a file's rename."""
    return isinstance(node.func, ast.Attribute) and node.func.attr == "replace" and len(node.args) == 2
