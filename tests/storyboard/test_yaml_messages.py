"""YAML mistakes get messages that teach: indentation in words, on the right line; unknown keys
say what they should have been and which level they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest

from wanflow.errors import UserError
from wanflow.storyboard.load import load_film

HEAD = "wanflow: 1\ntitle: t\nlang: en\nscenes:\n  - id: a\n    shots:\n      - id: s1\n        subject: a boat\n"


def problems(tmp_path: Path, text: str) -> list[str]:
    spec = tmp_path / "film.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_film(spec)
    return [f"{p.line}:{p.column}: {p.field}: {p.message}" for p in caught.value.problems]


@pytest.mark.parametrize(
    "tail, expected",
    [
        (  # a shot key dedented onto the `- ` of the shot list: the parser's "found '?'"
            "      camera: [static]\n        action: sails\n",
            "9:7: : YAML syntax error: `camera:` at line 9 starts at column 7, where no mapping around it has its "
            "keys (column 7 is where the `- ` of a list item sits, as on line 7): `subject:` (line 8) at column 9, "
            "`shots:` (line 6) at column 5, `scenes:` (line 4) at column 1. Keys of one mapping line up; move it to "
            "the column of the mapping it belongs to (a shot's keys line up under its `id`)",
        ),
        (  # one space short
            "       camera: [static]\n",
            "9:8: : YAML syntax error: `camera:` at line 9 starts at column 8, where no mapping around it has its keys: "
            "`subject:` (line 8) at column 9, `shots:` (line 6) at column 5, `scenes:` (line 4) at column 1. Keys of one "
            "mapping line up; move it to the column of the mapping it belongs to (a shot's keys line up under its `id`)",
        ),
        (  # two spaces too many: read as more of `subject`'s value
            "          camera: [static]\n",
            "9:11: : YAML syntax error: `camera:` at line 9 is indented deeper (column 11) than `subject:` on line 8 "
            "(column 9), so YAML reads it as more of `subject`'s value; keys of one mapping line up: move it to "
            "column 9, or under a key of its own",
        ),
        (
            "    - id: s2\n",
            "9:5: : YAML syntax error: the list item `- id:` at line 9 starts at column 5, where no list around it has "
            "its items; the items above start at column 7 (line 7). Items of one list line up: move its `- ` to that column",
        ),
        (
            '        action: "sails\n        duration: 2\n',
            "9:17: : YAML syntax error: the quoted text that starts here is never closed; end it with the same quote",
        ),
        ("        action: a: b\n", '9:18: : YAML syntax error: a `: ` inside a value; put the value in quotes ("...")'),
        ("\tcamera: [static]\n", "9:1: : YAML syntax error: a tab in the indentation; YAML indents with spaces only"),
    ],
)
def test_indentation_mistakes_are_said_in_words_on_their_line(tmp_path: Path, tail: str, expected: str) -> None:
    assert problems(tmp_path, HEAD + tail) == [expected]


def test_unknown_keys_say_what_they_should_have_been(tmp_path: Path) -> None:
    text = HEAD.replace(
        "lang: en\n", "lang: en\nduration: 3\noutput: {width: 1280}\nsoundtrack:\n  - {file: a.wav, trim_start: 1}\n"
    )
    text += "        trim_start: 1\n        lightng: [rim light]\n    caption: hi\n    camera: [static]\n"
    assert [p for p in problems(tmp_path, text) if "audio file not found" not in p] == [
        "4:1: duration: unknown key 'duration'; `duration:` is a shot setting: for every shot of the film it goes under `defaults:`",
        "5:10: output.width: unknown key 'width'; did you mean `size: 1280x720`?",
        "7:19: soundtrack[0].trim_start: unknown key 'trim_start'; did you mean 'trim'?",
        "13:9: scenes[0].shots[0].trim_start: unknown key 'trim_start'; did you mean `trim: {start: ...}`?",
        "14:9: scenes[0].shots[0].lightng: unknown key 'lightng'; did you mean 'lighting'? It is a look key (under a `look:`)",
        "15:5: scenes[0].caption: unknown key 'caption'; `caption:` is indented like a scene key; shot keys sit under the shot's `id` (column 9)",
        "16:5: scenes[0].camera: unknown key 'camera'; `camera:` is indented like a scene key; shot keys sit under the "
        "shot's `id` (column 9), or under the scene's `defaults:` for all its shots",
    ]


def test_a_missing_file_gets_the_near_name_beside_it(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), "red").save(tmp_path / "boat.png")
    (tmp_path / "boats.txt").write_text("not an image")
    text = HEAD.replace("subject: a boat\n", "image: boats.png\n")
    (message,) = problems(tmp_path, text)
    assert message.endswith(
        "image: image not found: boats.png (looked for " + str(tmp_path / "boats.png") + "); did you mean 'boat.png'?"
    )


def test_an_unknown_term_with_no_near_one_points_at_wanflow_vocab(tmp_path: Path) -> None:
    text = HEAD.replace("subject: a boat\n", "subject: a boat\n        look: {light_source: qqqqq}\n")
    (message,) = problems(tmp_path, text)
    assert message.endswith("unknown light source 'qqqqq'; `wanflow vocab light_source` lists its terms")
