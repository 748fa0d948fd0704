"""Every official Wan2.2 prompt example (tests/grammar/data/official_examples.yaml), compiled as a raw
prompt and as storyboard fields: no warning either way, and every official term it writes is in
the prompt, in an official spelling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wanflow.grammar import CompiledShot, compile_shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.reading import read_text
from wanflow.storyboard import load_film

EXAMPLES = yaml.safe_load((Path(__file__).parent / "data" / "official_examples.yaml").read_text(encoding="utf-8"))
VOCABULARY = load_vocabulary(packaged_grammar_dir())
BASE = {"zh": "一个年轻的女孩站在田野中", "en": "a young girl stands in a field"}


def compile_example(folder: Path, lang: str, shot: dict[str, Any]) -> CompiledShot:
    """The shot as a storyboard file, after a plain first shot it can continue from."""
    shot = dict(shot)
    if shot.pop("image", False):
        shot["continue_from"] = "base"
    spec = {
        "wanflow": 1,
        "title": "official",
        "lang": lang,
        "scenes": [{"id": "sc", "shots": [{"id": "base", "subject": BASE[lang]}, {"id": "example", **shot}]}],
    }
    path = folder / "film.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    film = load_film(path)
    return compile_shot(film, film.shot("example"))


def official_terms(example: dict[str, Any]) -> set[tuple[str, str]]:
    return {(field, zh) for field, zhs in example["terms"].items() for zh in zhs}


def terms_read(prompt: str) -> set[tuple[str, str]]:
    return {(found.term.category, found.term.zh) for found in read_text(VOCABULARY, prompt)}


@pytest.mark.parametrize("example", EXAMPLES, ids=[example["name"] for example in EXAMPLES])
def test_an_official_example_as_a_raw_prompt(tmp_path: Path, example: dict[str, Any]) -> None:
    shot = {"prompt": example["prompt"], "image": example["fields"].get("image", False)}
    compiled = compile_example(tmp_path, example["lang"], shot)
    assert compiled.warnings == (), [f"{w.code} {w.field}: {w.message}" for w in compiled.warnings]
    assert official_terms(example) <= terms_read(compiled.prompt)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example["name"] for example in EXAMPLES])
def test_an_official_example_as_fields(tmp_path: Path, example: dict[str, Any]) -> None:
    compiled = compile_example(tmp_path, example["lang"], example["fields"])
    assert compiled.warnings == (), [f"{w.code} {w.field}: {w.message}" for w in compiled.warnings]
    written = dict(example["fields"].get("look", {}), camera=example["fields"].get("camera", []))
    emitted = set()
    for field, values in written.items():
        for value in [values] if isinstance(values, str) else values:
            term = VOCABULARY.resolve(field, value)
            assert term.text(example["lang"]) in compiled.prompt, (field, value)  # the official spelling
            emitted.add((field, term.zh))
    assert official_terms(example) <= emitted | terms_read(compiled.prompt)


def test_every_official_example_is_here() -> None:
    """4 + 4 T2V rewriter examples, 8 + 8 distinct I2V ones and the I2V instructions' two, the showcase
    and the dictionary's shape."""
    assert len(EXAMPLES) == 28 and len({example["prompt"] for example in EXAMPLES}) == 28
