"""`wanflow pick` through the real CLI: one line written, or one clear problem and exit code 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cli.app import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "specs" / "assets", tmp_path / "assets")
    text = (REPO / "specs" / "film.yaml").read_text(encoding="utf-8")
    path = tmp_path / "film.yaml"
    path.write_text(text.replace("      - id: city\n", "      - id: city\n        takes: 2\n"), encoding="utf-8")
    return path


def test_pick_says_what_it_wrote_and_what_the_next_run_does(spec: Path) -> None:
    result = runner.invoke(app, ["pick", str(spec), "city", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{spec}:101: city uses take 2 (was take 1)",
        f"next: wanflow run {spec} cuts the film with it (no take renders again)",
    ]
    assert spec.read_text(encoding="utf-8").splitlines()[99:101] == ["      - id: city", "        take: 2"]
    again = runner.invoke(app, ["pick", str(spec), "city", "2"])
    assert (again.exit_code, again.stdout) == (0, f"{spec}: city already uses take 2; nothing changed\n")


def test_a_bad_pick_exits_2_with_one_line_and_no_traceback(spec: Path) -> None:
    before = spec.read_bytes()
    command = [sys.executable, "-c", "from wanflow.cli.app import main; main()", "pick", str(spec)]
    for args, message in [
        (["city", "5"], f"error: {spec}:100: shots.city.take: take 5 is not one of the shot's 2 takes"),
        (["nope", "1"], f"error: {spec}: SHOT: no shot 'nope' in the storyboard"),
    ]:
        result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert spec.read_bytes() == before
