"""Resolved storyboard objects built directly, for tests of the rooms after spec loading."""

from __future__ import annotations

from pathlib import Path

from wanflow.film import Film, Scene, Shot


def shot(index: int, **fields: object) -> Shot:
    return Shot(id=f"s{index}", scene_id="a", index=index, line=10 + index, lang="zh", **fields)


def film(shots: list[Shot], **fields: object) -> Film:
    return Film(
        path=Path("/spec/film.yaml"),
        source_sha256="0" * 64,
        title="测试 film",
        lang="zh",
        scenes=(Scene("a", None, tuple(shots)),),
        **fields,
    )
