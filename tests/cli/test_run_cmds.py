"""`wanflow run` and `wanflow plan` as a user types them: one preparation, nothing started when
nothing changed, nothing cut short when piped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import wanflow.run.prepare
from wanflow.cli.app import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"

SPEC = """\
wanflow: 1
title: CLI run
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    shots:
      - { id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }
      - { id: onward, subject: the astronaut, action: keeps walking, duration: 0.5, continue_from: wade }
"""


@pytest.fixture
def storyboard(tmp_path: Path, tiny_models_root: Path) -> Path:
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[object]:
    calls: list[object] = []
    original = getattr(wanflow.run.prepare, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(wanflow.run.prepare, name, counted)
    return calls


def test_run_parses_the_storyboard_once_and_plans_once(
    prefect_server, storyboard: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads, plans = _counting(monkeypatch, "load_film"), _counting(monkeypatch, "make_plan")
    result = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(storyboard.parent / "out")])
    assert result.exit_code == 0, result.output
    assert (len(loads), len(plans)) == (1, 1)  # the CLI prepared it; the flow used what it was handed


def test_a_run_with_nothing_to_do_starts_no_prefect_and_loads_no_model(prefect_server, storyboard: Path) -> None:
    out = storyboard.parent / "out"
    first = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(out)])
    assert first.exit_code == 0, first.output
    (out / "run.json").unlink()
    again = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(out)])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert "Flow run" not in again.output  # no flow run: nothing needed Prefect
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {shot["status"] for shot in run["shots"]} == {"cached"}
    assert run["loads"] == [] and Path(run["film"]).is_file()


def test_a_plan_no_worker_can_run_is_refused_before_prefect_starts(storyboard: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANFLOW_CARD_GB", "24")
    out = storyboard.parent / "out"
    result = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "--gpus", "0", "-o", str(out)])
    assert result.exit_code == 2
    assert "no worker can run t2v-a14b" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_the_plan_table_is_whole_when_piped(tiny_models_root: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [sys.executable, "-c", "from wanflow.cli.app import main; main()", "plan", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert list(rows) == ["sea", "wade", "wave", "carriage", "city", "window", "reflection"]  # one line each
    assert "…" not in result.stdout
    cells = [cell.strip() for cell in rows["carriage"].split("│")[1:-1]]
    assert cells[:4] == ["carriage", "i2v-a14b (tiny)", "240x144", "49@16"]  # framed from its 832x480 image
    assert cells[-1] == "render" or cells[-1] == "cached"
    assert "carriage: start image subway.png is 832x480: renders at 240x144" in result.stdout
