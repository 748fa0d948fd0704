"""The compiled prompts of specs/film.yaml, byte for byte: a grammar change shows up as a diff.

After an intended change to the vocabulary, templates or the example film, refresh with
`WANFLOW_UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py` and review the diff like any
other: it is exactly the text the model will see.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compiled_prompts_of_the_example_film_match_their_snapshot(lang: str) -> None:
    result = CliRunner().invoke(app, ["compile", str(ROOT / "specs" / "film.yaml"), "--json", "--lang", lang])
    assert result.exit_code == 0, result.output
    snapshot = SNAPSHOTS / f"film.{lang}.json"
    if os.environ.get("WANFLOW_UPDATE_SNAPSHOTS"):
        snapshot.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == snapshot.read_text(encoding="utf-8")
