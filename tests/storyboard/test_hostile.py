"""Hostile storyboard repositories, through the real CLI: each is answered with exit code 2 and one
message, no traceback, and nothing outside the repository is read (an audit hook watches every
file the command opens). Beside them, what confinement allows: folders the user names."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from wanflow import settings
from wanflow.cli.app import app
from wanflow.confine import ALLOW_ENV

runner = CliRunner()
SECRET = "SECRET-7f3a"
SPEC = """\
wanflow: 1
title: T
lang: en
{top}scenes:
  - id: a
    shots:
      - id: s1
        subject: a cat
        duration: 2
{shot}"""

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
        path = args[0]
        _opened.append(os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else str(path))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only inside `watching_reads`


@contextmanager
def watching_reads() -> Iterator[list[str]]:
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


@dataclass
class Repo:
    root: Path  # the storyboard repository (a git root)
    outside: Path  # secrets beside it

    @property
    def spec(self) -> Path:
        return self.root / "specs" / "film.yaml"

    def write(self, top: str = "", shot: str = "") -> Path:
        self.spec.write_text(SPEC.format(top=top, shot=shot), encoding="utf-8")
        return self.spec

    def link(self, name: str, target: Path | str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.setenv(ALLOW_ENV, "")  # --allow-read adds to it; set here, it is restored after each test
    settings.reload()
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / ".git").mkdir(parents=True)
    (root / "specs").mkdir()
    outside.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(outside / "secret.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(root / "specs" / "start.png")
    (root / "specs" / "music.wav").write_bytes(b"RIFF")
    (root / "specs" / "style.safetensors").write_bytes(b"{}")
    (outside / "secret.wav").write_bytes(b"RIFF" + SECRET.encode())
    (outside / "secret.safetensors").write_bytes(SECRET.encode())
    (outside / "passwd").write_text(f"root:x:0:0:{SECRET}\n", encoding="utf-8")
    (outside / "film.yaml").write_text(SPEC.format(top=f"# {SECRET}\n", shot=f"        extra: {SECRET}\n"))
    grammar = outside / "grammar"
    (grammar / "templates").mkdir(parents=True)
    (grammar / "templates" / "t2v.en.j2").write_text(SECRET, encoding="utf-8")
    return Repo(root, outside)


def refused(repo: Repo, *argv: str) -> str:
    """Run the CLI; assert exit 2, one message, no traceback, no secret and no read outside; the message."""
    with watching_reads() as opened:
        result = runner.invoke(app, [*argv])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and SECRET not in result.output
    outside = str(repo.outside)
    assert [path for path in opened if path.startswith(outside)] == []
    return lines[0].removeprefix("error: ")


def test_the_watch_sees_what_a_command_reads(repo: Repo) -> None:
    """The audit hook behind `refused` records the files a command opens (here: the storyboard)."""
    spec = repo.write(shot=f"        image: {repo.outside / 'secret.png'}\n")
    with watching_reads() as opened:
        result = runner.invoke(app, ["plan", str(spec), "--allow-read", str(repo.outside)])
    assert str(spec) in opened and str(repo.outside / "secret.png") in opened, result.output


# ---- paths that lead outside ------------------------------------------------------------------

Setup = Callable[[Repo], tuple[str, str]]  # builds the repository, returns the spec's (top, shot) text

ESCAPES: list[tuple[str, Setup, str]] = [
    ("an absolute image path", lambda r: ("", f"        image: {r.outside / 'secret.png'}\n"), "image"),
    ("an image up and out", lambda r: ("", "        image: ../../outside/secret.png\n"), "image"),
    ("an image from home", lambda r: ("", "        image: ~/secret.png\n"), "image"),
    (
        "an image linked outside",
        lambda r: (r.link("specs/start-link.png", r.outside / "secret.png"), ("", "        image: start-link.png\n"))[
            1
        ],
        "image",
    ),
    (
        "a folder linked outside",
        lambda r: (r.link("specs/assets", r.outside), ("", "        image: assets/secret.png\n"))[1],
        "image",
    ),
    ("a soundtrack outside", lambda r: ("soundtrack: [../../outside/secret.wav]\n", ""), "audio file"),
    (
        "a LoRA linked outside",
        lambda r: (
            r.link("specs/look.safetensors", r.outside / "secret.safetensors"),
            ("", "        lora: look.safetensors\n"),
        )[1],
        "LoRA file",
    ),
]


@pytest.mark.parametrize(("setup", "what"), [case[1:] for case in ESCAPES], ids=[case[0] for case in ESCAPES])
def test_a_file_outside_the_repository_is_refused_unread(repo: Repo, setup: Setup, what: str) -> None:
    spec = repo.write(*setup(repo))
    message = refused(repo, "validate", str(spec))
    assert f": {what} '" in message and f"is outside the storyboard repository {repo.root}" in message


def test_the_message_does_not_tell_whether_an_outside_file_exists(repo: Repo) -> None:
    there = refused(repo, "validate", str(repo.write(shot="        image: ../../outside/secret.png\n")))
    absent = refused(repo, "validate", str(repo.write(shot="        image: ../../outside/absent.png\n")))
    assert there.replace("secret", "X") == absent.replace("absent", "X")


def test_a_folder_the_user_allows_is_read(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = repo.write(shot=f"        image: {repo.outside / 'secret.png'}\n")
    result = runner.invoke(app, ["validate", str(spec), "--allow-read", str(repo.outside)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv(ALLOW_ENV, str(repo.outside))
    settings.reload()
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    monkeypatch.setenv(ALLOW_ENV, str(repo.outside / "nope"))
    settings.reload()
    assert refused(repo, "validate", str(spec)) == f"{ALLOW_ENV}: {repo.outside / 'nope'} is not a folder"


def test_a_storyboard_file_linked_outside_is_refused_unread(repo: Repo) -> None:
    repo.spec.symlink_to(repo.outside / "film.yaml")
    assert refused(repo, "validate", str(repo.spec)).endswith(
        f"the storyboard file leads outside the storyboard repository {repo.root} "
        f"(allow a folder with --allow-read DIR or {ALLOW_ENV})"
    )


def test_a_grammar_linked_outside_is_refused_unread_whether_or_not_it_exists(repo: Repo) -> None:
    repo.link("prompt_grammar", repo.outside / "grammar")
    there = refused(repo, "validate", str(repo.write()))
    (repo.root / "prompt_grammar").unlink()
    repo.link("prompt_grammar", repo.outside / "nothing")
    absent = refused(repo, "validate", str(repo.write()))
    assert "prompt_grammar: leads outside the storyboard repository" in there
    assert there.replace("grammar", "X") == absent.replace("nothing", "X").replace("grammar", "X")


def test_vocab_in_a_repository_whose_grammar_links_outside_reads_nothing_there(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.link("prompt_grammar", repo.outside / "grammar")
    monkeypatch.chdir(repo.root / "specs")
    assert "prompt_grammar: leads outside the storyboard repository" in refused(repo, "vocab")


def test_a_vocabulary_linked_outside_is_refused_unread(repo: Repo) -> None:
    repo.link("prompt_grammar/vocabulary.yaml", repo.outside / "passwd")
    spec = repo.write()
    assert "vocabulary.yaml leads outside" in refused(repo, "validate", str(spec))


def test_templates_linked_outside_are_refused_unread(repo: Repo) -> None:
    repo.link("prompt_grammar/templates", repo.outside / "grammar" / "templates")
    assert "templates are read only from inside" in refused(repo, "compile", str(repo.write()))


def test_a_template_linked_outside_is_refused_unread(repo: Repo) -> None:
    repo.link("prompt_grammar/templates/leak.j2", repo.outside / "passwd")
    (repo.root / "prompt_grammar" / "templates" / "t2v.en.j2").write_text("{% include 'leak.j2' %}")
    message = refused(repo, "compile", str(repo.write()))
    assert message.startswith(f"{repo.root / 'prompt_grammar' / 'templates' / 't2v.en.j2'}:1: template error")


@pytest.mark.parametrize("in_git", [True, False], ids=["git root", "no git"])
def test_the_grammar_search_stops_at_the_repository(tmp_path: Path, in_git: bool) -> None:
    """A prompt_grammar/ above the repository (or above the spec's folder, outside git) is no part of it."""
    (tmp_path / "prompt_grammar" / "templates").mkdir(parents=True)
    (tmp_path / "prompt_grammar" / "templates" / "t2v.en.j2").write_text(SECRET, encoding="utf-8")
    story = tmp_path / "story"
    (story / "specs").mkdir(parents=True)
    if in_git:
        (story / ".git").mkdir()
    spec = story / "specs" / "film.yaml" if in_git else story / "film.yaml"
    spec.write_text(SPEC.format(top="", shot=""), encoding="utf-8")
    result = runner.invoke(app, ["compile", str(spec)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and "a cat." in result.output


def test_a_link_in_the_repository_does_not_send_the_cache_or_the_film_outside(
    repo: Repo, tiny_models_root: Path
) -> None:
    spec = repo.write()
    repo.link(".wanflow", repo.outside)  # the default cache is .wanflow/cache at the repository root
    message = refused(repo, "run", str(spec), "--out", str(repo.root / "out"))
    assert message.startswith(f"wanflow: cache: {repo.root / '.wanflow' / 'cache'} is inside the storyboard")
    (repo.root / ".wanflow").unlink()
    repo.link("out", repo.outside)
    message = refused(repo, "run", str(spec), "--out", str(repo.root / "out"))
    assert message.startswith(
        f"wanflow: --out: {repo.root / 'out'} is inside the storyboard repository but leads outside"
    )
    assert sorted(p.name for p in repo.outside.iterdir()) == [
        "film.yaml", "grammar", "passwd", "secret.png", "secret.safetensors", "secret.wav"
    ]  # fmt: skip


# ---- bombs and absurd values ---------------------------------------------------------------------

VALUES: list[tuple[str, str, str, str]] = [  # (name, top text, shot text, what the message says)
    ("a billion seconds", "", "      - id: s2\n        duration: 1000000000\n", "duration: must be 15 or less"),
    ("a million frames", "", "        frames: 1000001\n", "frames: must be 241 or less"),
    ("frames not 4n+1", "", "        frames: 82\n", "82 frames is not 4n+1"),
    (
        "a hundred million steps",
        "profiles: {big: {backend: ti2v-5b, steps: 100000000}}\n",
        "",
        "steps: must be 1000 or less",
    ),
    (
        "a 100000x100000 clip",
        "profiles: {big: {backend: ti2v-5b, size: 100000x100000}}\n",
        "",
        "a generated clip is 32 to 2048",
    ),
    ("a 100000x100000 film", "output: {size: 100000x100000}\n", "", "a film is 32 to 4096"),
    ("a crawling speed", "", "        speed: 0.0000001\n", "speed: must be 0.1 or more"),
    ("a billion-second hold", "", "        hold: 1000000000\n", "hold: must be 60 or less"),
    ("an endless trim", "", "        trim: {start: 1000000000}\n", "start: must be 15 or less"),
    ("an endless title card", "titles: {opening: {text: x, duration: 1000000}}\n", "", "duration: must be 60 or less"),
    (
        "a soundtrack starting in a year",
        "soundtrack: [{file: music.wav, start: 31536000}]\n",
        "",
        "start: must be 30000 or less",
    ),
    ("a deafening volume", "soundtrack: [{file: music.wav, volume: 1000000000}]\n", "", "volume: must be 10 or less"),
    (
        "an infinite LoRA",
        "",
        "        lora: [{file: style.safetensors, scale: .inf}]\n",
        "scale: input should be a finite number",
    ),
    ("a 300-character id", "", "      - id: " + "a" * 300 + "\n", "300 characters long; at most 64"),
    ("an id with a newline", "", '      - id: "a\\n"\n', "'a\\n' is not a valid id"),
    ("an id with a slash", "", "      - id: a/b\n", "'a/b' is not a valid id"),
    ("ids that differ in case", "", "      - id: S1\n", "differs from 's1' (line 7) only in case"),
    ("a 5000-digit seed", "", "        seed: " + "9" * 5000 + "\n", "a number of 5000 digits is far out of range"),
    (
        "a 100000-character subject",
        "",
        "      - id: s2\n        subject: " + "x" * 100000 + "\n",
        "100000 characters long; at most 4000",
    ),
    (
        "a thousand lighting terms",
        "",
        "        look: {lighting: [" + ", ".join(["柔光"] * 1000) + "]}\n",
        "holds 1000 items; at most 32",
    ),
    ("an escape sequence", "", '        action: "\\e[2J"\n', "control character U+001B (ESCAPE) in text"),
    ("a NUL escape in a path", "", '        image: "start.png\\0.png"\n', "control character U+0000 (NUL) in text"),
    ("500 nested brackets", "x: " + "[" * 500 + "]" * 500 + "\n", "", "nested more than 32 levels deep"),
    (
        "an alias bomb",
        "",
        "        extra: [&l0 [lol], "
        + ", ".join(f"&l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9))
        + "]\n",
        "extra: expected text, got a list",  # aliases share what they name: nothing is expanded
    ),
]


@pytest.mark.parametrize(("top", "shot", "says"), [case[1:] for case in VALUES], ids=[case[0] for case in VALUES])
def test_an_absurd_value_is_refused_at_its_line(repo: Repo, top: str, shot: str, says: str) -> None:
    spec = repo.write(top=top, shot=shot)
    message = refused(repo, "validate", str(spec))
    assert message.startswith(f"{spec}:") and says in message


def test_a_nul_byte_is_refused_at_its_line_and_column(repo: Repo) -> None:
    repo.spec.write_bytes(SPEC.format(top="", shot="        action: sle\0eps\n").encode())
    assert refused(repo, "validate", str(repo.spec)) == (
        f"{repo.spec}:10:20: control character U+0000 (NUL) is not allowed in a YAML file; remove it"
    )


def test_bytes_that_are_not_utf8_are_refused_at_their_line_and_column(repo: Repo) -> None:
    repo.spec.write_bytes(SPEC.format(top="", shot="        action: caf\xe9\n").encode("latin-1"))
    assert refused(repo, "validate", str(repo.spec)) == (
        f"{repo.spec}:10:20: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    )


def test_a_pipe_as_storyboard_is_refused_without_waiting(repo: Repo) -> None:
    os.mkfifo(repo.spec)
    assert refused(repo, "validate", str(repo.spec)).endswith(
        "is not a regular file; a storyboard file is a plain text file"
    )


def test_a_50_mb_storyboard_is_refused_at_once(repo: Repo) -> None:
    with repo.spec.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    started = time.monotonic()
    assert refused(repo, "validate", str(repo.spec)).endswith(
        "is larger than 4 MB; a storyboard file is a text file of a few hundred KB"
    )
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("shots", "says"),
    [(200_000, "holds more than 100000 values"), (3000, "3000 shots; a storyboard holds at most 2000")],
)
def test_a_storyboard_of_too_many_shots_is_refused_within_10_s(repo: Repo, shots: int, says: str) -> None:
    shot_list = ", ".join(f"{{id: {n}}}" for n in range(shots))
    repo.spec.write_text(f"wanflow: 1\ntitle: T\nscenes: [{{id: a, shots: [{shot_list}]}}]\n", encoding="utf-8")
    assert repo.spec.stat().st_size < 4 * 1024 * 1024  # under the size bound: refused for its shots
    started = time.monotonic()
    assert says in refused(repo, "validate", str(repo.spec))
    assert time.monotonic() - started < 10


def test_plan_refuses_a_shot_longer_than_its_backend_renders(repo: Repo, tiny_models_root: Path) -> None:
    """14 s passes validate (at 16 fps it is 225 frames), but at TI2V-5B's 24 fps it is 337."""
    spec = repo.write(top="profiles: {five: {backend: ti2v-5b, tiny: true, size: 128x96}}\n")
    spec.write_text(spec.read_text(encoding="utf-8").replace("duration: 2", "duration: 14"), encoding="utf-8")
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    message = refused(repo, "plan", str(spec), "--profile", "five")
    assert message.endswith(
        "shots.s1.frames: 337 frames is more than the 241 one generation makes; shorten the shot or split it in two"
    )


def test_plan_refuses_what_the_tiny_preview_models_cannot_place(repo: Repo, tiny_models_root: Path) -> None:
    spec = repo.write(shot="      - id: s2\n        frames: 241\n")
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    message = refused(repo, "plan", str(spec))  # preview: tiny models, 32 rotary positions per axis
    assert message.endswith(
        "241 frames of 256x144 are more positions than this model's rotary embedding holds (32 per axis): at most 125 frames and 512 pixels a side"
    )


def test_template_denial_of_service_through_the_cli(repo: Repo) -> None:
    templates = repo.root / "prompt_grammar" / "templates"
    templates.mkdir(parents=True)
    (templates / "t2v.en.j2").write_text(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert "range of 100000 numbers" in refused(repo, "compile", str(repo.write()))
    (templates / "t2v.en.j2").write_text("{{ 'x' * 10**10 }}")
    assert "the result of '*' grows past" in refused(repo, "compile", str(repo.write()))
