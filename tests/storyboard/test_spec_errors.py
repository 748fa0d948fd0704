"""A corpus of storyboard mistakes: each reported as `file:line:column: field: message`, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.errors import UserError
from wanflow.storyboard.load import load_film

HEAD = "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots:\n      - id: a\n"  # shot `a` is on line 6

# (case id, file text, every expected problem without the leading "film.yaml:")
CASES: list[tuple[str, str, list[str]]] = [
    (
        "unknown-key",
        HEAD + "        look: {lightng: [柔光]}\n",
        ["7:16: scenes[0].shots[0].look.lightng: unknown key 'lightng'; did you mean 'lighting'?"],
    ),
    (
        "unknown-shot-size",
        HEAD + "        look:\n          shot_size: closeup\n",
        ["8:22: scenes[0].shots[0].look.shot_size: unknown shot size 'closeup'; did you mean 近景 (close-up)?"],
    ),
    (
        "unknown-lighting-in-list",
        HEAD + "        look: {lighting: [柔光, rimlight]}\n",
        [
            "7:31: scenes[0].shots[0].look.lighting[1]: unknown lighting 'rimlight'; did you mean 边缘光 (edge lighting)?"
        ],
    ),
    (
        "term-of-another-field",
        HEAD + "        look: {shot_size: wide-angle lens}\n",
        [
            "7:27: scenes[0].shots[0].look.shot_size: unknown shot size 'wide-angle lens'; did you mean 广角 (wide-angle) "
            "or 全景 (wide shot)? ('wide-angle lens' is a term of lens: 广角 (wide-angle lens))"
        ],
    ),
    (
        "duplicate-key",
        HEAD + "        duration: 3\n        duration: 4\n",
        ["8:9: scenes[0].shots[0].duration: duplicate key 'duration' (first set on line 7)"],
    ),
    (
        "duplicate-shot-id",
        HEAD + "      - id: b\n  - id: t\n    shots:\n      - id: a\n",
        ["10:13: scenes[1].shots[0].id: duplicate shot id 'a' (first used on line 6)"],
    ),
    (
        "duplicate-scene-id",
        HEAD + "  - id: s\n    shots: [{id: b}]\n",
        ["7:9: scenes[1].id: duplicate scene id 's' (first used on line 4)"],
    ),
    (
        "continue-from-unknown",
        HEAD + "      - id: b\n        continue_from: aa\n",
        ["8:24: scenes[0].shots[1].continue_from: unknown shot 'aa'; did you mean 'a'?"],
    ),
    (
        "continue-from-later-and-self",
        HEAD + "        continue_from: b\n      - id: b\n        continue_from: b\n",
        [
            "7:24: scenes[0].shots[0].continue_from: 'b' comes later in the film; continue_from must name an earlier shot",
            "9:24: scenes[0].shots[1].continue_from: a shot cannot continue from itself",
        ],
    ),
    (
        "image-and-continue-from",
        HEAD + "      - id: b\n        image: start.png\n        continue_from: a\n",
        ["9:24: scenes[0].shots[1].continue_from: a shot starts from an image or continues another shot, not both"],
    ),
    (
        "end-at-unknown-and-self",
        HEAD
        + "        image: start.png\n        end_at: bb\n      - id: b\n        image: start.png\n        end_at: b\n",
        [
            "8:17: scenes[0].shots[0].end_at: unknown shot 'bb'; did you mean 'b'?",
            "11:17: scenes[0].shots[1].end_at: a shot cannot end on its own first frame",
        ],
    ),
    (
        "end-image-and-end-at",
        HEAD
        + "        image: start.png\n        end_image: start.png\n        end_at: b\n      - id: b\n        image: start.png\n",
        ["9:17: scenes[0].shots[0].end_at: a shot ends on an image or on another shot's first frame, not both"],
    ),
    (
        "end-without-start",
        HEAD + "        end_image: start.png\n",
        [
            "7:20: scenes[0].shots[0].end_image: a shot that ends on a frame needs a start frame too: set image: or continue_from:"
        ],
    ),
    (
        "end-at-a-shot-rendered-after-it",
        HEAD + "        image: start.png\n        end_at: b\n      - id: b\n        continue_from: a\n",
        [
            "8:17: scenes[0].shots[0].end_at: 'b' is rendered after 'a' (it continues from it): "
            "'a' cannot end on its rendered first frame"
        ],
    ),
    (
        "end-image-missing",
        HEAD + "        image: start.png\n        end_image: frames/last.png\n",
        ["8:20: scenes[0].shots[0].end_image: image not found: frames/last.png (looked for {dir}/frames/last.png)"],
    ),
    (
        "missing-image",
        HEAD + "        image: frames/missing.png\n",
        ["7:16: scenes[0].shots[0].image: image not found: frames/missing.png (looked for {dir}/frames/missing.png)"],
    ),
    (
        "image-not-an-image",
        HEAD + "        image: film.yaml\n",
        ["7:16: scenes[0].shots[0].image: image must be a .png / .jpg / .jpeg / .webp / .bmp file, not 'film.yaml'"],
    ),
    (
        "duration-and-frames",
        HEAD + "        duration: 3\n        frames: 81\n",
        ["8:17: scenes[0].shots[0].frames: set duration or frames, not both"],
    ),
    (
        "bad-transition",
        HEAD + "        transition: disolve\n",
        [
            "7:21: scenes[0].shots[0].transition: unknown transition 'disolve'; did you mean 'dissolve'? (one of: cut, "
            "dissolve, fadeblack, fadewhite, wipeleft, wiperight, wipeup, wipedown, slideleft, slideright, slideup, "
            "slidedown, circleopen, circleclose, radial, pixelize)"
        ],
    ),
    (
        "transition-longer-than-shot",
        HEAD + "        duration: 2\n        transition: {type: fadeblack, duration: 2}\n",
        ["8:21: scenes[0].shots[0].transition: the fadeblack (2s) must be shorter than the shot (2s)"],
    ),
    (
        "unknown-character",
        "characters: {cooper: 宇航员}\n" + HEAD + '        subject: "{coper}在水中"\n',
        [
            "8:18: scenes[0].shots[0].subject: unknown character {coper}; did you mean 'cooper'? "
            "(characters: cooper; write {{coper}} for literal braces)"
        ],
    ),
    (
        "wrong-version",
        HEAD.replace("wanflow: 1", "wanflow: 2"),
        ["1:10: wanflow: unsupported format version 2; this wanflow reads version 1"],
    ),
    (
        "missing-version",
        HEAD.replace("wanflow: 1\n", ""),
        ["1:1: wanflow: missing: a storyboard starts with `wanflow: 1` (the format version)"],
    ),
    (
        "yaml-syntax-error",
        HEAD + "        look: {shot_size: 近景\n",
        [
            "8:1: YAML syntax error: while parsing a flow mapping (from line 7, column 15), expected ',' or '}', but got '<stream end>'"
        ],
    ),
    (
        "python-tag",
        HEAD + "        subject: !!python/object/apply:os.system [echo hi]\n",
        [
            "7:18: scenes[0].shots[0].subject: YAML tag '!!python/object/apply:os.system' is not allowed; write plain text, numbers, lists and mappings"
        ],
    ),
    ("empty-file", "# nothing yet\n", ["the file is empty; a storyboard starts with `wanflow: 1`"]),
    ("list-root", "- wanflow: 1\n", ["1:1: the top level must be a mapping (wanflow:, title:, scenes:, ...)"]),
    (
        "bad-size",
        HEAD + "output: {size: 1280by720}\n",
        ["7:16: output.size: size '1280by720' is not WIDTHxHEIGHT, e.g. \"1280x720\""],
    ),
    (
        "odd-size",
        HEAD + "output: {size: 1281x720}\n",
        ["7:16: output.size: size '1281x720': width and height must be positive even numbers (H.264 needs them)"],
    ),
    (
        "bad-backend",
        HEAD + "        backend: wan-14b\n",
        ["7:18: scenes[0].shots[0].backend: 'wan-14b' is not one of: ti2v-5b, t2v-a14b, i2v-a14b"],
    ),
    (
        "inherited-backend-needs-image",
        HEAD.replace("title: t\n", "title: t\ndefaults: {backend: i2v-a14b}\n"),
        [
            "7:9: scenes[0].shots[0].backend: i2v-a14b (set in the defaults) needs a start frame: set image: or continue_from:"
        ],
    ),
    (
        "negative-numbers",
        HEAD + "        hold: -1\n        seed: -5\n        speed: 0\n",
        [
            "7:15: scenes[0].shots[0].hold: must be 0 or more, got -1",
            "8:15: scenes[0].shots[0].seed: must be 0 or more, got -5",
            "9:16: scenes[0].shots[0].speed: must be 0.1 or more, got 0",
        ],
    ),
    (
        "wrong-types",
        HEAD + "output: {fps: fast, burn_captions: yes please}\n",
        [
            "7:15: output.fps: expected a whole number, got 'fast'",
            "7:36: output.burn_captions: expected true or false, got 'yes please'",
        ],
    ),
    (
        "missing-required",
        "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots:\n      - subject: 海\n",
        ["6:9: scenes[0].shots[0].id: missing (required)"],
    ),
    (
        "bad-id",
        HEAD.replace("id: a", "id: shot one"),
        [
            "6:13: scenes[0].shots[0].id: 'shot one' is not a valid id: use letters, digits, '-', '_' and '.', starting with a letter or digit"
        ],
    ),
    (
        "lora-not-safetensors",
        HEAD + "        lora: [start.png]\n",
        ["7:16: scenes[0].shots[0].lora[0]: LoRA file must be a .safetensors file, not 'start.png'"],
    ),
    (
        "trim-backwards",
        HEAD + "        trim: {start: 2, end: 1}\n",
        ["7:31: scenes[0].shots[0].trim.end: end (1) must be after start (2)"],
    ),
    (
        "profile-both-backend-forms",
        HEAD + "profiles:\n  mine: {backend: ti2v-5b, text: t2v-a14b}\n",
        ["8:19: profiles.mine.backend: set backend, or text and image, not both"],
    ),
    (
        "profile-without-backends",
        HEAD + "profiles:\n  mine: {steps: 10}\n",
        ["8:9: profiles.mine: name its backends: backend: (both), or text: and image:"],
    ),
    (
        "bad-character-name",
        "characters: {dr who: 医生}\n" + HEAD,
        ["1:14: characters.dr who: 'dr who' is not a valid name: use letters, digits, '_' and '-'"],
    ),
    (
        "no-shots",
        "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots: []\n",
        ["5:12: scenes[0].shots: needs at least 1 item(s)"],
    ),
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (32, 18)).save(tmp_path / "start.png")
    return tmp_path


def problems_of(text: str | bytes) -> list[str]:
    path = Path("film.yaml")
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    with pytest.raises(UserError) as caught:
        load_film(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_mistake_is_reported_exactly(in_tmp: Path, text: str, expected: list[str]) -> None:
    expected = [
        ("film.yaml:" if line[0].isdigit() else "film.yaml: ") + line.replace("{dir}", str(in_tmp)) for line in expected
    ]
    assert problems_of(text) == expected


def test_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 15
    assert len({case[0] for case in CASES}) == len({case[1] for case in CASES}) == len(CASES)


def test_non_utf8_file(in_tmp: Path) -> None:
    assert problems_of("wanflow: 1\ntitle: café\n".encode("latin-1")) == [
        "film.yaml:2:11: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


def test_missing_file_and_directory(in_tmp: Path) -> None:
    for path, message in (
        (Path("nope.yaml"), "nope.yaml: no such file"),
        (Path("."), ".: is a directory, not a storyboard file"),
    ):
        with pytest.raises(UserError) as caught:
            load_film(path)
        assert [str(p) for p in caught.value.problems] == [message]


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(in_tmp: Path) -> None:
    text = (
        "wanflow: 1\ntitle: t\ncharacters: {cooper: 宇航员}\nscenes:\n  - id: s\n    shots:\n"
        "      - id: a\n"  # 7
        "        subject: '{bob}'\n"  # 8
        "        look: {shot_size: clsoeup, lightng: []}\n"  # 9
        "        duration: -2\n"  # 10
        "      - id: a\n"  # 11
        "        continue_from: zz\n"  # 12
        "        transition: wobble\n"  # 13
        "        seed: 1\n"  # 14
        "        seed: 2\n"  # 15
        "output: {fit: stretch}\n"  # 16
    )
    problems = problems_of(text)
    assert [p.split(": ")[0] for p in problems] == [
        "film.yaml:8:18",
        "film.yaml:9:27",
        "film.yaml:9:36",
        "film.yaml:10:19",
        "film.yaml:11:13",
        "film.yaml:12:24",
        "film.yaml:13:21",
        "film.yaml:15:9",
        "film.yaml:16:15",
    ]


def test_cli_exit_code_2_and_one_line_per_problem(in_tmp: Path) -> None:
    Path("bad.yaml").write_text(HEAD + "        backend: wan-14b\n        look: {lightng: []}\n", encoding="utf-8")
    Path("empty.yaml").write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "bad.yaml", "empty.yaml"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: bad.yaml:7:18: scenes[0].shots[0].backend: 'wan-14b' is not one of: ti2v-5b, t2v-a14b, i2v-a14b",
        "error: bad.yaml:8:16: scenes[0].shots[0].look.lightng: unknown key 'lightng'; did you mean 'lighting'?",
        "error: empty.yaml: the file is empty; a storyboard starts with `wanflow: 1`",
    ]
    assert "Traceback" not in result.output
