"""`wanflow plan` through the real CLI: every take on its own row, counted in what will render."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.plan import take_seed

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path, tiny_models_root: Path) -> Path:
    shutil.copytree(REPO / "specs" / "assets", tmp_path / "assets")
    text = (REPO / "specs" / "film.yaml").read_text(encoding="utf-8")
    path = tmp_path / "film.yaml"
    path.write_text(text.replace("      - id: city\n", "      - id: city\n        takes: 2\n"), encoding="utf-8")
    return path


def _rows(output: str) -> dict[str, list[list[str]]]:
    """shot id -> its table rows (cells stripped)."""
    rows: dict[str, list[list[str]]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) > 3 and cells[0] not in ("", "shot"):
            rows.setdefault(cells[0], []).append(cells)
    return rows


def test_plan_shows_every_take_with_its_seed(spec: Path) -> None:
    result = runner.invoke(app, ["plan", str(spec), "--cache", str(spec.parent / "cache")], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [row[1:3] for row in rows["sea"]] == [["1", "42"]]
    assert [row[1:3] for row in rows["city"]] == [
        ["1 (film)", rows["city"][0][2]],
        ["2", str(take_seed(int(rows["city"][0][2]), 2))],
    ]
    assert "7 shots, 8 takes (8 to render)" in result.stdout


def test_plan_takes_option_counts_every_take(spec: Path) -> None:
    result = runner.invoke(
        app, ["plan", str(spec), "--takes", "3", "--cache", str(spec.parent / "cache")], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert [len(rows) for rows in _rows(result.stdout).values()] == [3] * 7
    assert "7 shots, 21 takes (21 to render)" in result.stdout
    bad = runner.invoke(app, ["plan", str(spec), "--takes", "17"])
    assert bad.exit_code == 2 and "--takes: must be 1 .. 16, not 17" in bad.stderr
