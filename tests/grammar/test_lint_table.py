"""The lint over a table of shots (tests/grammar/data/lint_shots.yaml), each loaded and compiled for real:
every contradiction and official rule is flagged, and every sound shot, the official examples
among them, gets no warning at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wanflow.grammar import CompiledShot, compile_shot
from wanflow.grammar.lint import EXPLANATIONS
from wanflow.storyboard import load_film

TABLE = yaml.safe_load((Path(__file__).parent / "data" / "lint_shots.yaml").read_text(encoding="utf-8"))
# What a case without its own text is about, so that only its look and camera are judged.
PLAIN = {
    "zh": {
        "subject": "一个年轻的女孩",
        "scene": "在开满野花的田野中",
        "action": "轻轻抚弄身旁的野花，微风吹动她的长发",
    },
    "en": {
        "subject": "a young girl",
        "scene": "in a field of tall grass and wild flowers",
        "action": "gently touches the flowers as the wind lifts her hair",
    },
}
TEXT_FIELDS = {"subject", "scene", "action", "prompt"}


def compile_case(folder: Path, case: dict[str, Any]) -> CompiledShot:
    """The case's shot, after a plain first shot (`continue_from: base`), as a storyboard file."""
    lang = case.get("lang", "zh")
    shot = dict(case["shot"])
    if not TEXT_FIELDS & shot.keys():
        shot |= PLAIN[lang]
    spec = {
        "wanflow": 1,
        "title": "lint",
        "lang": lang,
        "scenes": [{"id": "sc", "shots": [{"id": "base", **PLAIN[lang]}, {"id": "case", **shot}]}],
    }
    path = folder / "film.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    film = load_film(path)
    return compile_shot(film, film.shot("case"))


@pytest.mark.parametrize("case", TABLE["sound"], ids=[case["name"] for case in TABLE["sound"]])
def test_sound_shots_get_no_warning(tmp_path: Path, case: dict[str, Any]) -> None:
    compiled = compile_case(tmp_path, case)
    assert compiled.warnings == (), [f"{w.code} {w.field}: {w.message}" for w in compiled.warnings]


@pytest.mark.parametrize("case", TABLE["flagged"], ids=[case["name"] for case in TABLE["flagged"]])
def test_contradictions_and_official_rules_are_flagged(tmp_path: Path, case: dict[str, Any]) -> None:
    compiled = compile_case(tmp_path, case)
    assert [w.code for w in compiled.warnings] == case["warns"], [w.message for w in compiled.warnings]
    messages = " | ".join(f"{w.field}: {w.message}" for w in compiled.warnings)
    for words in case.get("says", []):
        assert words in messages


def test_every_rule_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "prompt-grammar.md").read_text(encoding="utf-8")
    for code in EXPLANATIONS:
        assert f"| `{code}` |" in docs, code


def test_the_table_flags_every_rule() -> None:
    flagged = {code for case in TABLE["flagged"] for code in case["warns"]}
    assert flagged == set(EXPLANATIONS)
    assert len(TABLE["sound"]) >= 40 and len(TABLE["flagged"]) >= 50
