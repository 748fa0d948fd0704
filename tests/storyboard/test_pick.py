"""`pick_take`: one line of the storyboard changes, every comment and every other byte stays."""

from __future__ import annotations

import codecs
import difflib
import shutil
from pathlib import Path

import pytest

from wanflow.errors import UserError
from wanflow.storyboard.load import load_film
from wanflow.storyboard.pick import pick_take

REPO = Path(__file__).resolve().parents[2]
CITY_FRAMES = "        frames: 49                 # frames instead of seconds\n"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """specs/film.yaml with `takes: 2` on shot `city`, beside its assets."""
    shutil.copytree(REPO / "specs" / "assets", tmp_path / "assets")
    text = (REPO / "specs" / "film.yaml").read_text(encoding="utf-8")
    assert CITY_FRAMES in text
    spec = tmp_path / "film.yaml"
    spec.write_text(text.replace(CITY_FRAMES, CITY_FRAMES + "        takes: 2\n"), encoding="utf-8")
    return spec


def _changes(before: str, after: str) -> list[str]:
    """The lines a unified diff shows as removed or added."""
    diff = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _comments(text: str) -> list[str]:
    return [line[line.index("#") :] for line in text.splitlines() if "#" in line]


def test_pick_adds_one_line_under_the_shots_id_and_keeps_every_comment(example: Path) -> None:
    before = example.read_text(encoding="utf-8")
    pick = pick_take(example, "city", 2)
    after = example.read_text(encoding="utf-8")
    assert _changes(before, after) == ["+        take: 2\n"]
    assert after.splitlines()[pick.line - 2 : pick.line] == ["      - id: city", "        take: 2"]
    assert _comments(after) == _comments(before) and len(_comments(before)) == 14
    assert (pick.previous, pick.inserted, pick.continuations) == (1, True, ())
    assert load_film(example).shot("city").take == 2

    again = pick_take(example, "city", 1)  # now the key is there: its value changes, in place
    assert _changes(after, example.read_text(encoding="utf-8")) == ["-        take: 2\n", "+        take: 1\n"]
    assert (again.line, again.inserted) == (pick.line, False)
    assert pick_take(example, "city", 1).changed is False  # already so: the file is not written
    assert sorted(p.name for p in example.parent.iterdir()) == ["assets", "film.yaml"]  # no temporary file left


def test_pick_names_the_continuations_that_render_again(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    example.write_text(text.replace("      - id: wade\n", "      - id: wade\n        takes: 3\n"), encoding="utf-8")
    assert pick_take(example, "wade", 3).continuations == ("wave",)


@pytest.mark.parametrize(
    ("shot", "take", "message"),
    [
        (
            "ghost",
            1,
            "SHOT: no shot 'ghost' in the storyboard (shots: sea, wade, wave, carriage, city, window, reflection)",
        ),
        ("citi", 2, "SHOT: no shot 'citi' in the storyboard; did you mean 'city'?"),
        (
            "city",
            3,
            "shots.city.take: take 3 is not one of the shot's 2 takes; choose 1 .. 2, or set takes: 3 on the shot and render them first",
        ),
        ("city", 0, "shots.city.take: take 0 is not one of the shot's 2 takes; choose 1 .. 2"),
        (
            "sea",
            2,
            "shots.sea.take: take 2 is not one of the shot's 1 take; choose 1 .. 1, or set takes: 2 on the shot and render them first",
        ),
    ],
)
def test_a_bad_pick_is_one_problem_and_leaves_the_file_untouched(
    example: Path, shot: str, take: int, message: str
) -> None:
    before = example.read_bytes()
    with pytest.raises(UserError) as caught:
        pick_take(example, shot, take)
    [problem] = caught.value.problems
    assert str(problem).split(": ", 1)[1] == message and problem.file == str(example)
    assert example.read_bytes() == before
    assert sorted(p.name for p in example.parent.iterdir()) == ["assets", "film.yaml"]


def test_an_invalid_storyboard_is_reported_as_validate_reports_it(example: Path) -> None:
    example.write_text(example.read_text(encoding="utf-8").replace("shot_size: 全景", "shot_size: closeup", 1))
    before = example.read_bytes()
    with pytest.raises(UserError, match="unknown shot size 'closeup'"):
        pick_take(example, "city", 2)
    assert example.read_bytes() == before


HEAD = "wanflow: 1\ntitle: layouts\nscenes:\n"

# (layout, file text, the one line the diff shows added (+) or changed (-/+))
LAYOUTS = [
    (
        "four-spaces",
        HEAD.replace("scenes:\n", "scenes:\n    -   id: a\n        shots:\n")
        + "            -   id: b\n                subject: x\n                takes: 2\n",
        ["+                take: 2\n"],
    ),
    (
        "unindented-lists",
        HEAD + "- id: a\n  shots:\n  - id: b   # the shot\n    # what it shows\n    subject: 'quoted'\n    takes: 2\n",
        ["+    take: 2\n"],
    ),
    (
        "existing-take-with-comment",
        HEAD
        + "  - id: a\n    shots:\n      - id: b\n        take: 1     # keep me\n        subject: x\n        takes: 2\n",
        ["-        take: 1     # keep me\n", "+        take: 2     # keep me\n"],
    ),
    (
        "take-on-the-dash-line",
        HEAD + "  - id: a\n    shots:\n      - take: 1\n        id: b\n        subject: x\n        takes: 2\n",
        ["-      - take: 1\n", "+      - take: 2\n"],
    ),
    (
        "flow-mapping-shot",
        HEAD + "  - id: a\n    shots:\n      - {id: b, subject: x, takes: 2}\n",
        ["-      - {id: b, subject: x, takes: 2}\n", "+      - {id: b, take: 2, subject: x, takes: 2}\n"],
    ),
    (
        "styles-ruamel-would-rewrite",
        HEAD
        + "  - id: a\n    defaults:\n      look: ~\n    shots:\n      - id: b\n        subject: x\n"
        + "        camera: [镜头推进,\n                 手持镜头]\n        negative: |\n          模糊\n        takes: 2\n"
        + "      - <<: &rest {subject: y}\n        id: c\n",
        ["+        take: 2\n"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in LAYOUTS], ids=[case[0] for case in LAYOUTS])
def test_pick_keeps_every_layout_it_meets(tmp_path: Path, text: str, expected: list[str]) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(text, encoding="utf-8")
    pick_take(spec, "b", 2)
    after = spec.read_text(encoding="utf-8")
    assert _changes(text, after) == expected
    assert _comments(after) == _comments(text)
    assert load_film(spec).shot("b").take == 2


def test_pick_keeps_line_endings_and_a_byte_order_mark(tmp_path: Path) -> None:
    text = HEAD + "  - id: a\n    shots:\n      - id: b\n        subject: x\n        takes: 2\n"
    spec = tmp_path / "film.yaml"
    spec.write_bytes(codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8"))
    pick_take(spec, "b", 2)
    expected = text.replace("      - id: b\n", "      - id: b\n        take: 2\n").replace("\n", "\r\n")
    assert spec.read_bytes() == codecs.BOM_UTF8 + expected.encode("utf-8")


def test_a_shot_pick_cannot_write_in_one_line_is_refused(tmp_path: Path) -> None:
    text = HEAD + "  - id: a\n    shots:\n      - {id: b, subject: x,\n         takes: 2}\n"
    spec = tmp_path / "film.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(
        UserError, match="flow mapping written over several lines.*write it under the shot's id by hand"
    ):
        pick_take(spec, "b", 2)
    assert spec.read_text(encoding="utf-8") == text


def test_shots_ending_on_a_rendered_first_frame_render_again_too() -> None:
    from factories import film, shot

    from wanflow.storyboard.pick import _continuations

    shots = [
        shot(0, image=Path("/spec/a.png"), end_at="s2"),  # ends on s2's rendered first frame
        shot(1, continue_from="s0"),
        shot(2, action="text to video"),
        shot(3, image=Path("/spec/b.png"), end_at="s1"),
    ]
    assert _continuations(film(shots), "s2") == ("s0", "s1", "s3")
