"""Ordinary prose gets no warning: a corpus of shots written the way people write them
(tests/grammar/data/prose_corpus.yaml), full of words that are terms only when they stand alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wanflow.grammar import compile_film
from wanflow.storyboard import load_film

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "prose_corpus.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_ordinary_prose_gets_no_warning(tmp_path: Path, lang: str) -> None:
    """One storyboard per language, every shot compiled; the prose never warns."""
    shots: list[dict[str, Any]] = [
        {"id": f"s{index}", **{key: value for key, value in shot.items() if key != "lang"}}
        for index, shot in enumerate(CORPUS)
        if shot["lang"] == lang
    ]
    spec = {"wanflow": 1, "title": "prose", "lang": lang, "scenes": [{"id": "sc", "shots": shots}]}
    path = tmp_path / "film.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    compiled = compile_film(load_film(path))
    warnings = [f"{shot.shot_id} {w.code} {w.field}: {w.message}" for shot in compiled for w in shot.warnings]
    assert warnings == []


def test_the_corpus_is_large_enough_in_both_languages() -> None:
    langs = [shot["lang"] for shot in CORPUS]
    assert len(CORPUS) >= 30 and langs.count("zh") >= 15 and langs.count("en") >= 15
