"""`takes:` and `take:` in a storyboard: the cascade, the bounds, and a chosen take the shot must have."""

from __future__ import annotations

from pathlib import Path

import pytest

from wanflow.errors import UserError
from wanflow.storyboard.load import load_film

SPEC = """\
wanflow: 1
title: takes
defaults: {takes: 3}
scenes:
  - id: one
    defaults: {takes: 2}
    shots:
      - id: scene-level
        subject: a
      - id: own
        subject: b
        takes: 4
        take: 4
      - id: cleared
        subject: c
        takes: null
  - id: two
    shots:
      - id: film-level
        subject: d
        take: 3
"""


def _problems(folder: Path, text: str) -> list[str]:
    spec = folder / "film.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_film(spec)
    return [str(problem).removeprefix(f"{spec}:") for problem in caught.value.problems]


def test_takes_cascade_nearest_wins_and_take_defaults_to_one(tmp_path: Path) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    shots = {shot.id: shot for shot in load_film(spec).shots}
    assert {shot_id: (shot.takes, shot.take) for shot_id, shot in shots.items()} == {
        "scene-level": (2, 1),
        "own": (4, 4),
        "cleared": (1, 1),
        "film-level": (3, 3),
    }


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("take: 3", "take: 4"),
            ["21:15: scenes[1].shots[0].take: take 4 is not one of the shot's 3 takes; choose 1 .. 3, or set takes: 4"],
        ),
        (
            ("takes: 4\n", "takes: 1\n"),
            ["13:15: scenes[0].shots[1].take: take 4 is not one of the shot's 1 take; choose 1 .. 1, or set takes: 4"],
        ),
        (("takes: 4\n", "takes: 17\n"), ["12:16: scenes[0].shots[1].takes: must be 16 or less, got 17"]),
        (("take: 3", "take: 0"), ["21:15: scenes[1].shots[0].take: must be 1 or more, got 0"]),
        (
            ("defaults: {takes: 2}", "defaults: {takes: two}"),
            ["6:23: scenes[0].defaults.takes: expected a whole number, got 'two'"],
        ),
        (("take: 3", "take: 2.0"), ["21:15: scenes[1].shots[0].take: expected a whole number, got 2"]),
    ],
    ids=["beyond-takes", "beyond-own-takes", "too-many-takes", "take-zero", "takes-text", "take-float"],
)
def test_take_mistakes_name_their_line(tmp_path: Path, edit: tuple[str, str], expected: list[str]) -> None:
    assert _problems(tmp_path, SPEC.replace(*edit)) == expected


def test_take_is_not_a_default(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, SPEC.replace("defaults: {takes: 3}", "defaults: {takes: 3, take: 2}"))
    assert problem == "3:22: defaults.take: unknown key 'take'; did you mean 'takes'?"
