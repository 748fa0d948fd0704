"""The README is part of the product: its storyboard must load and its commands must be the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from wanflow.grammar.compile import compile_film
from wanflow.storyboard.load import load_film

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_readme_storyboard_validates_and_compiles(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "film.yaml"
    spec.parent.mkdir()
    spec.write_text(_blocks("yaml")[0], encoding="utf-8")
    film = load_film(spec)
    assert [shot.id for shot in film.shots] == ["wade", "wave"]
    wade, wave = compile_film(film)
    assert wade.mode == "t2v" and "边缘光" in wade.prompt and "全景" in wade.prompt
    assert wave.mode == "i2v" and "恐惧" in wave.prompt


def test_the_readme_has_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.endswith("wanflow run specs/film.yaml --profile preview")
    assert tests.endswith("pytest -q")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_lists_every_environment_variable() -> None:
    from wanflow.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        variable = field.validation_alias if isinstance(field.validation_alias, str) else f"WANFLOW_{name.upper()}"
        assert f"| `{variable}` |" in readme, variable
