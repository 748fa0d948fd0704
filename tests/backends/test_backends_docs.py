"""The README's Python snippet runs as written and renders real mp4 files."""

from __future__ import annotations

import re
from pathlib import Path

import imageio.v3 as iio
import pytest

DOC = Path(__file__).resolve().parents[2] / "README.md"


def test_docs_snippet_renders_each_backend(
    tiny_models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    match = re.search(r"<!-- snippet: tiny-render -->\n```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match is not None
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), str(DOC), "exec"), {})
    for name, fps in (("ti2v-5b", 24), ("t2v-a14b", 16), ("i2v-a14b", 16)):
        frames = iio.imread(tmp_path / f"{name}.mp4")
        assert frames.shape[0] == 17 and frames.shape[1:3] == (64, 64)
        assert iio.immeta(tmp_path / f"{name}.mp4")["fps"] == fps


def test_bench_tiny_mode_runs() -> None:
    import sys

    sys.path.insert(0, str(DOC.parent / "benchmarks"))
    from bench_backends import main

    rows = main(["--tiny", "--steps", "2"])
    assert [row["backend"] for row in rows] == ["ti2v-5b", "t2v-a14b", "i2v-a14b"]
    assert all(row["seconds"] > 0 for row in rows)
