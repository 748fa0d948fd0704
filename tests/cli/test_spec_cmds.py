"""`wanflow validate`, `wanflow schema`, `wanflow init` through the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.cli.scaffold import FLOW_ENTRYPOINT, prefect_yaml, scaffold_files
from wanflow.storyboard.load import film_json_schema, load_film

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"
runner = CliRunner()


def test_validate_prints_one_ok_line_per_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{EXAMPLE}: OK, 7 shots in 2 scenes, 18.5 s + 1 shot timed in frames or by the backend\n"
    quiet = runner.invoke(app, ["validate", "--quiet", str(EXAMPLE)])
    assert (quiet.exit_code, quiet.stdout) == (0, "")


def test_the_committed_schema_is_the_one_wanflow_prints() -> None:
    """Editors read wanflow.schema.json: a stale one flags terms that wanflow accepts."""
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    committed = (REPO / "wanflow.schema.json").read_text(encoding="utf-8")
    assert committed == result.stdout, "regenerate it: wanflow schema > wanflow.schema.json"


def test_validate_reports_every_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("wanflow: 1\ntitle: t\nscenes: []\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad), str(EXAMPLE), str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{EXAMPLE}: OK, 7 shots")
    assert result.stderr.splitlines() == [
        f"error: {bad}:3:9: scenes: needs at least 1 item(s)",
        f"error: {tmp_path / 'missing.yaml'}: no such file",
    ]


def test_validate_and_run_reject_an_undecodable_start_image_alike(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.png").write_text("a text file named like a picture", encoding="utf-8")
    whole = tmp_path / "whole.png"
    from PIL import Image

    Image.new("RGB", (64, 36), "teal").save(whole)
    (tmp_path / "cut.png").write_bytes(whole.read_bytes()[:-30])  # truncated: the header still reads
    (tmp_path / "film.yaml").write_text(
        "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots:\n"
        "      - id: a\n        image: notes.png\n"
        "      - id: b\n        image: cut.png\n"
        "      - id: c\n        image: whole.png\n",
        encoding="utf-8",
    )
    validated = runner.invoke(app, ["validate", "film.yaml"])
    assert validated.exit_code == 2
    lines = validated.stderr.splitlines()
    assert [line.split(" cannot be decoded: ")[0] for line in lines] == [
        "error: film.yaml:7:16: scenes[0].shots[0].image: image notes.png is not a PNG image",
        "error: film.yaml:9:16: scenes[0].shots[1].image: image cut.png",
    ]
    ran = runner.invoke(app, ["run", "film.yaml", "--out", str(tmp_path / "out")])
    assert ran.exit_code == 2 and ran.stderr.splitlines() == lines  # the very same lines
    assert not (tmp_path / "out").exists() and "Traceback" not in ran.output


def test_validate_stays_light_for_pre_commit() -> None:
    """The whole CLI, run as a hook would: no torch, diffusers or prefect gets imported."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from wanflow.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['validate', {str(EXAMPLE)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'prefect') if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_schema_prints_a_json_schema_that_accepts_the_example() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == film_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"wanflow": 1, "title": "t", "scenes": [{"id": "s", "shots": [{"id": "a", "duraton": 3}]}]}, schema
        )


def test_init_scaffolds_a_repository_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "my-films"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    names = [
        "specs/film.yaml",
        "flows/prefect.yaml",
        "flows/automations.yaml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "wanflow.schema.json",
    ]
    said = result.stdout.splitlines()
    assert [line.removeprefix("wrote ") for line in said[: len(names)]] == [str(target / n) for n in names]
    assert said[len(names) :] == [
        f"made {target} a git repository (branch main): the storyboard repository",
        "next:",
        f"  cd {target} && wanflow validate specs/film.yaml",
        f"  cd {target} && wanflow plan specs/film.yaml --profile preview",
        f"  cd {target} && wanflow run specs/film.yaml --profile preview",
    ]
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert files == sorted(names)
    # a real git repository, whose .gitignore keeps the caches and films out
    git = shutil.which("git")
    assert git is not None
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"], cwd=target, capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    (target / "out").mkdir(), (target / "specs" / ".wanflow").mkdir()
    (target / "out" / "film.mp4").write_bytes(b"x"), (target / "specs" / ".wanflow" / "c").write_bytes(b"x")
    ignored = subprocess.run(
        [git, "check-ignore", "out/film.mp4", "specs/.wanflow/c"], cwd=target, capture_output=True, text=True
    )
    assert ignored.stdout.split() == ["out/film.mp4", "specs/.wanflow/c"]
    again = runner.invoke(app, ["init", str(target / "more")])  # inside that repository: said, not nested
    assert f"inside the git repository {target}" in again.stdout and not (target / "more" / ".git").exists()
    assert "wanflow keys" in (target / "specs" / "film.yaml").read_text(encoding="utf-8")
    listed = runner.invoke(app, ["keys"])
    assert listed.exit_code == 0 and "| `continue_from` |" in listed.stdout and "### `output:`" in listed.stdout

    spec = target / "specs" / "film.yaml"
    assert spec.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=../wanflow.schema.json\n")
    film = load_film(spec)
    assert len(film.shots) == 3 and film.shot("beam").continue_from == "keeper"
    schema = json.loads((target / "wanflow.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load(spec.read_text(encoding="utf-8")), schema)

    prefect = yaml.safe_load((target / "flows" / "prefect.yaml").read_text(encoding="utf-8"))
    assert prefect["name"] == "my-films"
    # workers run the flow where `prefect deploy` ran (tests/test_deployments.py runs it for real)
    assert prefect["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}]
    (deployment,) = prefect["deployments"]
    assert deployment["entrypoint"] == FLOW_ENTRYPOINT
    assert deployment["parameters"] == {"spec": "specs/film.yaml", "profile": "final"}
    assert deployment["work_pool"]["name"] == "wanflow-gpu"
    assert deployment["schedules"][0]["cron"] == "0 2 * * *"
    assert (target / deployment["parameters"]["spec"]).is_file()

    hooks = yaml.safe_load((target / ".pre-commit-config.yaml").read_text(encoding="utf-8"))["repos"][0]
    assert hooks["repo"] == "local" and hooks["hooks"][0]["entry"] == "wanflow validate"
    assert ".wanflow/" in (target / ".gitignore").read_text(encoding="utf-8").split()
    assert oct(spec.stat().st_mode & 0o777) == oct(0o644)


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "film.yaml").write_text("mine\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'specs' / 'film.yaml'}: already exists; wanflow init never overwrites"
    ]
    assert (tmp_path / "specs" / "film.yaml").read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["film.yaml", "specs"]


def test_repository_flows_match_what_init_writes() -> None:
    """flows/prefect.yaml is this repository's own scaffold, for specs/film.yaml."""
    ours = yaml.safe_load((REPO / "flows" / "prefect.yaml").read_text(encoding="utf-8"))
    fresh = yaml.safe_load(prefect_yaml("wanflow", ["specs/film.yaml"]))
    ours.pop("prefect-version")
    fresh.pop("prefect-version")
    assert ours == fresh
    assert set(scaffold_files("x")) >= {"flows/prefect.yaml", "specs/film.yaml"}
