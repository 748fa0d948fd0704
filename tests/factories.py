"""Resolved storyboard objects built directly, for tests of the rooms after spec loading, and the
smallest storyboard a run renders (a shot and its continuation, on the tiny models)."""

from __future__ import annotations

from pathlib import Path

from wanflow.film import Film, Scene, Shot
from wanflow.take import TakeSettings


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


def take_settings(**changes: object) -> TakeSettings:
    """A tiny T2V-A14B take's settings: 64x36, 17 frames at 16 fps, 4 steps."""
    values: dict[str, object] = dict(
        backend="t2v-a14b",
        seed=7,
        width=64,
        height=36,
        frames=17,
        fps=16,
        steps=4,
        guidance_high=3.0,
        guidance_low=4.0,
        shift=12.0,
        boundary_ratio=0.875,
    )
    values.update(changes)
    return TakeSettings(**values)  # type: ignore[arg-type]


def two_shot_spec(title: str) -> str:
    """A storyboard's YAML: wade, then onward continuing from it; profile `test` on the tiny A14B models."""
    return f"""\
wanflow: 1
title: {title}
lang: en
profiles:
  test: {{ text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }}
scenes:
  - id: one
    shots:
      - {{ id: wade, subject: an astronaut, action: wades through water, duration: 0.5 }}
      - {{ id: onward, subject: the astronaut, action: keeps walking, duration: 0.5, continue_from: wade }}
"""
