"""Docs that cannot drift: every YAML example in README.md and docs/*.md is read as what it shows
(a storyboard, a part of one, a Prefect deployment file, the vocabulary) and checked like the real
thing; the key reference of docs/spec-format.md is the one the schema generates."""

from __future__ import annotations

import ast
import re
import textwrap
import wave
from pathlib import Path
from typing import Any

import numpy
import pytest
import yaml
from PIL import Image
from safetensors.numpy import save_file

from wanflow.storyboard.keyref import PAGE, replace_section
from wanflow.storyboard.load import load_film
from wanflow.storyboard.models import FilmSpec, ShotSpec

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BASE = {"wanflow": 1, "title": "docs", "scenes": [{"id": "a", "shots": [{"id": "base", "subject": "a boat"}]}]}


def examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^( *)```yaml\n(.*?)^ *```", text, flags=re.S | re.M):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", textwrap.dedent(match.group(2))))
    return found


def _repository(tmp_path: Path, text: str) -> Path:
    """A storyboard repository holding every file the example names, each a real one of its kind."""
    specs = tmp_path / "specs"
    for name in set(re.findall(r"[\w./-]+\.(?:png|jpe?g|webp|bmp|wav|safetensors)\b", text)):
        path = specs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".wav"):
            with wave.open(str(path), "wb") as audio:
                audio.setnchannels(1), audio.setsampwidth(2), audio.setframerate(8000)
                audio.writeframes(b"\0\0" * 800)
        elif name.endswith(".safetensors"):
            save_file({"lora_A": numpy.zeros((2, 2), "float32")}, str(path))
        else:
            Image.new("RGB", (832, 480), "gray").save(path)
    specs.mkdir(exist_ok=True)
    return specs / "film.yaml"


def _storyboard(data: Any) -> dict[str, Any] | None:
    """The example as a whole storyboard, or None when it is not (a part of) one."""
    shot_keys, film_keys = set(ShotSpec.model_fields), set(FilmSpec.model_fields)
    if isinstance(data, dict) and "wanflow" in data:
        return data
    if isinstance(data, list) and data and all(isinstance(item, dict) and "id" in item for item in data):
        return {**BASE, "scenes": [{"id": "a", "shots": [{"id": "base", "subject": "a boat"}, *data]}]}
    if isinstance(data, dict) and set(data) <= film_keys:
        return {**BASE, **data}
    if isinstance(data, dict) and set(data) <= shot_keys:
        return {**BASE, "scenes": [{"id": "a", "shots": [{"id": "example", **data}]}]}
    return None


def _render_film_parameters() -> set[str]:
    tree = ast.parse((ROOT / "wanflow" / "run" / "flow.py").read_text(encoding="utf-8"))
    function = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "render_film")
    return {a.arg for a in function.args.args + function.args.kwonlyargs}


@pytest.mark.parametrize("where, text", examples(), ids=[where for where, _ in examples()])
def test_every_yaml_example_is_what_it_shows(where: str, text: str, tmp_path: Path) -> None:
    data = yaml.safe_load(text)
    if data is None:
        assert all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()), where
        return
    storyboard = _storyboard(data)
    if storyboard is not None:
        spec = _repository(tmp_path, text)
        body = (
            text
            if "wanflow" in (data if isinstance(data, dict) else {})
            else yaml.safe_dump(storyboard, allow_unicode=True)
        )
        if (
            isinstance(data, dict)
            and set(data) <= set(FilmSpec.model_fields)
            and "wanflow" not in data
            and "scenes" in data
        ):
            body = f"wanflow: 1\ntitle: docs\n{text}"  # a film part with its anchors: kept as written
        spec.write_text(body, encoding="utf-8")
        load_film(spec)  # a UserError fails the test with every problem of the example
    elif isinstance(data, dict) and ("deployments" in data or "pull" in data):
        parameters = _render_film_parameters()
        for deployment in data.get("deployments", []):
            assert deployment["entrypoint"] == "wanflow.run.flow:render_film", where
            assert set(deployment.get("parameters", {})) <= parameters, where
    elif isinstance(data, dict) and {"version", "families", "categories"} & set(data):
        assert isinstance(data.get("categories", {}), dict), where  # the vocabulary's own tests check it whole
    else:
        pytest.fail(f"{where}: a YAML example of no known kind; teach tests/test_docs_yaml.py what it shows")


def test_the_key_reference_is_the_one_the_schema_generates() -> None:
    """After a change to the format: `python -m wanflow.storyboard.keyref` rewrites it."""
    page = PAGE.read_text(encoding="utf-8")
    assert "<!-- keys:start -->" in page
    assert page == replace_section(page)
