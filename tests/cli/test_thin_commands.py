"""The CLI is thin: the quick commands never pay for torch or Prefect, and no command module does the work itself."""

from __future__ import annotations

import ast
import os
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


# What planning a real model or an animatic must not import either: GGUF's reader (and numpy
# with it) comes with the quantized experts, never with their estimated sizes.
PLANNING_HEAVY = (*HEAVY, "gguf")
PLAN_PROBE = """
import sys
from wanflow.cli.app import app
code = app(sys.argv[1:], standalone_mode=False)
print("exit:", code)
print("loaded:", sorted(name for name in {heavy!r} if name in sys.modules))
"""


def _plan(profile: str, tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`wanflow plan specs/film.yaml --profile PROFILE` with no models installed (an empty models root)."""
    (tmp_path / "models").mkdir(exist_ok=True)
    env = {name: value for name, value in os.environ.items() if name not in ("CUDA_VISIBLE_DEVICES", "WANFLOW_CARD")}
    env.update(WANFLOW_MODELS=str(tmp_path / "models"), **environment)
    command = ["plan", "specs/film.yaml", "--profile", profile, "--cache", str(tmp_path / "cache")]
    return subprocess.run(
        [sys.executable, "-c", PLAN_PROBE.format(heavy=PLANNING_HEAVY), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "environment",
    [
        pytest.param({"CUDA_VISIBLE_DEVICES": ""}, id="every-card-hidden"),
        pytest.param({}, id="no-nvidia-driver"),
    ],
)
def test_planning_real_models_that_are_not_installed_imports_no_torch(
    environment: dict[str, str], tmp_path: Path
) -> None:
    """The final profile's memory plans are estimated from shipped numbers, and no card is asked
    for where CUDA can see none: the missing models are said in about a second."""
    from wanflow.backends.peaks import card_may_be_visible

    if not environment and card_may_be_visible():
        pytest.skip("this machine has an NVIDIA driver: asking its card for free memory imports torch")
    result = _plan("final", tmp_path, environment)
    assert result.stdout.splitlines()[-2:] == ["exit: 2", "loaded: []"], (result.stdout, result.stderr)
    assert "model t2v-a14b is not installed" in result.stderr


def test_planning_an_animatic_imports_no_torch(tmp_path: Path) -> None:
    """Drawn takes hold no model: the animatic looks for no card, on any machine."""
    result = _plan("animatic", tmp_path, {})
    assert result.stdout.splitlines()[-2:] == ["exit: None", "loaded: []"], (result.stdout, result.stderr)


def test_preparing_an_animatic_run_imports_no_torch(tmp_path: Path) -> None:
    """`wanflow run --profile animatic` plans as `prepare_run` does (its `plan` phase) before drawing."""
    code = f"""
import sys
from pathlib import Path
from wanflow.run.prepare import RunRequest, prepare_run
request = RunRequest(
    spec=Path("specs/film.yaml"), profile="animatic", out=Path({str(tmp_path / "out")!r}),
    cache=Path({str(tmp_path / "cache")!r}),
)
prepared = prepare_run(request, log=lambda line: None)
assert all(job.settings.animatic for job in prepared.takes) and prepared.takes
print("loaded:", sorted(name for name in {PLANNING_HEAVY!r} if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
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
