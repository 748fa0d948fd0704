"""`wanflow run` and `wanflow plan` as a user types them: one preparation, nothing started when
nothing changed, nothing cut short when piped, every take on its own row."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factories import two_shot_spec
from typer.testing import CliRunner

import wanflow.run.prepare
from wanflow import settings
from wanflow.cli.app import app
from wanflow.plan import take_seed

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"
runner = CliRunner()

SPEC = two_shot_spec("CLI run")


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
    (out / storyboard.stem / "run.json").unlink()
    again = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(out)])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert "phases:" not in again.output  # no phase ran: no empty `phases: `
    assert "Flow run" not in again.output  # no flow run: nothing needed Prefect
    run = json.loads((out / storyboard.stem / "run.json").read_text(encoding="utf-8"))
    assert {shot["status"] for shot in run["shots"]} == {"cached"}
    assert run["loads"] == [] and Path(run["film"]).is_file()


def test_a_plan_no_worker_can_run_is_refused_before_prefect_starts(storyboard: Path, monkeypatch) -> None:
    monkeypatch.setenv("WANFLOW_CARD_GB", "24")
    settings.reload()
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
    assert [cells[0], *cells[3:6]] == ["carriage", "i2v-a14b (tiny)", "240x144", "49@16"]  # framed from 832x480
    assert cells[-1] == "render" or cells[-1] == "cached"
    assert "carriage: start image subway.png is 832x480: renders at 240x144" in result.stdout
    assert "7 shots, 7 takes" in result.stdout and "(film) marks" not in result.stdout  # no shot has takes


def test_a_run_with_nothing_to_do_lists_every_take(prefect_server, storyboard: Path) -> None:
    storyboard.write_text(SPEC.replace("duration: 0.5, continue_from", "duration: 0.5, takes: 2, continue_from"))
    out = storyboard.parent / "out"
    first = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(out)])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, ["run", str(storyboard), "-p", "test", "-o", str(out)])
    assert again.exit_code == 0 and "nothing changed" in again.output and "Flow run" not in again.output
    onward = next(
        s
        for s in json.loads((out / storyboard.stem / "run.json").read_text(encoding="utf-8"))["shots"]
        if s["shot_id"] == "onward"
    )
    takes = out / storyboard.stem / "takes" / "onward"
    assert [(t["take"], t["status"], t["chosen"], t["clip"]) for t in onward["takes"]] == [
        (1, "cached", True, str(takes / "take-1.mp4")),
        (2, "cached", False, str(takes / "take-2.mp4")),
    ]


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
    assert "7 shots, 8 takes (8 to render); (film) marks the take the film uses" in result.stdout


def test_plan_takes_option_counts_every_take(spec: Path) -> None:
    result = runner.invoke(
        app, ["plan", str(spec), "--takes", "3", "--cache", str(spec.parent / "cache")], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert [len(rows) for rows in _rows(result.stdout).values()] == [3] * 7
    assert "7 shots, 21 takes (21 to render)" in result.stdout
    bad = runner.invoke(app, ["plan", str(spec), "--takes", "17"])
    assert bad.exit_code == 2 and "--takes: must be 1 .. 16, not 17" in bad.stderr


def test_an_unknown_profile_gets_the_near_name(spec: Path) -> None:
    result = runner.invoke(app, ["plan", str(spec), "--profile", "priview"])
    assert result.exit_code == 2
    assert (
        "--profile: unknown profile 'priview'; did you mean 'preview'? (known: animatic, draft, final, preview"
        in result.stderr
    )


def test_the_default_out_sits_beside_the_cache_at_the_repository_root(tmp_path: Path, monkeypatch) -> None:
    from wanflow.cache.store import default_cache_dir
    from wanflow.cli.common import default_out

    (tmp_path / ".git").mkdir()
    (tmp_path / "specs" / "deep").mkdir(parents=True)
    spec = tmp_path / "specs" / "deep" / "film.yaml"
    monkeypatch.delenv("WANFLOW_CACHE", raising=False)
    monkeypatch.chdir(tmp_path / "specs")  # wherever the command runs from
    assert default_out(Path("deep/film.yaml")) == tmp_path.resolve() / "out"
    assert default_cache_dir(spec).parent.parent == default_out(spec).parent
    shown = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert "default: out/ at the repository root, beside the cache" in shown
