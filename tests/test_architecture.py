"""The house's rules: stage packages import downwards only, no cycles, one job per module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def test_import_contracts_hold() -> None:
    """The import-linter contracts in pyproject.toml (stage layers, torch, Prefect, ffmpeg)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("wanflow", cache_dir=None)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} <-> {imported}")
    assert cycles == []


def test_no_module_holds_two_jobs() -> None:
    """Past ~400 lines a module does two jobs: split it by job."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in (ROOT / "wanflow").rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_tests_mirror_the_package_tree() -> None:
    """Every stage package has its test folder, so a reader finds a stage's tests by its name."""
    stages = sorted(
        p.name for p in (ROOT / "wanflow").iterdir() if (p / "__init__.py").is_file() and not p.is_symlink()
    )
    missing = [stage for stage in stages if not (ROOT / "tests" / stage).is_dir()]
    assert missing == []


def test_the_architecture_tree_names_every_module() -> None:
    """docs/ARCHITECTURE.md is how a reader finds a module's job: each module is in its tree."""
    tree = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    unnamed = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "wanflow").rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py") and path.name not in tree
    ]
    assert unnamed == []
