"""Templates from someone else's storyboard: read only from the grammar folder, bounded in time and
size, and every failure a UserError at the template's file and line (real Jinja, real files)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wanflow.errors import UserError
from wanflow.film import Film, Scene, Shot
from wanflow.grammar.compile import compile_shot
from wanflow.grammar.sandbox import MAX_RANGE, MAX_TEMPLATE_BYTES, TIME_LIMIT

SECRET = "root:x:0:0:SECRET"


@pytest.fixture
def grammar(tmp_path: Path) -> Path:
    """A storyboard repository's prompt_grammar/ and, beside the repository, a secret file."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_text(SECRET + "\n", encoding="utf-8")
    templates = tmp_path / "repo" / "prompt_grammar" / "templates"
    templates.mkdir(parents=True)
    return templates.parent


def compile_with(grammar: Path, template: str, **others: str):  # noqa: ANN201
    """Compile one English text-to-video shot with `template` as t2v.en.j2 (and other template files)."""
    for name, text in {"t2v.en.j2": template, **others}.items():
        (grammar / "templates" / name).write_text(text, encoding="utf-8")
    shot = Shot(id="s1", scene_id="a", index=0, line=7, lang="en", subject="a cat", action="sleeps")
    film = Film(
        path=grammar.parent / "film.yaml",
        source_sha256="0" * 64,
        title="t",
        lang="en",
        scenes=(Scene("a", None, (shot,)),),
        grammar_dir=grammar,
    )
    return compile_shot(film, shot)


def refused(grammar: Path, template: str, **others: str) -> tuple[str, int | None, str]:
    """(file name, line, message) of the one problem the template is refused with."""
    with pytest.raises(UserError) as caught:
        compile_with(grammar, template, **others)
    (problem,) = caught.value.problems
    assert SECRET not in str(problem)
    return Path(problem.file).name, problem.line, problem.message


def test_a_template_renders_as_before(grammar: Path) -> None:
    compiled = compile_with(grammar, "{{ subject }}, {{ (action ~ '!')|upper }} {{ [subject, action]|join('/') }}")
    assert compiled.prompt == "a cat, SLEEPS! a cat/sleeps"


# ---- files ------------------------------------------------------------------------------------


def test_a_template_linked_to_a_file_outside_is_not_read(grammar: Path) -> None:
    (grammar / "templates" / "leak.j2").symlink_to(grammar.parents[1] / "outside" / "passwd")
    name, line, message = refused(grammar, "a\n{% include 'leak.j2' %}\n")
    assert (name, line) == ("t2v.en.j2", 2)
    assert "leak.j2 leads outside" in message


def test_the_main_template_itself_linked_outside_is_not_read(grammar: Path) -> None:
    (grammar / "templates" / "t2v.en.j2").symlink_to(grammar.parents[1] / "outside" / "passwd")
    shot = Shot(id="s1", scene_id="a", index=0, line=7, lang="en", subject="a cat")
    film = Film(grammar.parent / "film.yaml", "0" * 64, "t", "en", (Scene("a", None, (shot,)),), grammar_dir=grammar)
    with pytest.raises(UserError) as caught:
        compile_shot(film, shot)
    assert "leads outside" in str(caught.value) and SECRET not in str(caught.value)


def test_a_link_to_nothing_reads_like_a_link_outside(grammar: Path) -> None:
    """The message does not tell whether the outside path exists."""
    outside = grammar.parents[1] / "outside"
    (grammar / "templates" / "a.j2").symlink_to(outside / "passwd")
    (grammar / "templates" / "b.j2").symlink_to(outside / "no-such-file")
    first = refused(grammar, "{% include 'a.j2' %}")[2]
    second = refused(grammar, "{% include 'b.j2' %}")[2]
    assert first.replace("a.j2", "X") == second.replace("b.j2", "X")


def test_a_subfolder_linked_outside_is_not_read(grammar: Path) -> None:
    (grammar / "templates" / "parts").symlink_to(grammar.parents[1] / "outside")
    assert "leads outside" in refused(grammar, "{% include 'parts/passwd' %}")[2]


def test_a_link_inside_the_templates_folder_is_read(grammar: Path) -> None:
    (grammar / "templates" / "real.j2").write_text("{{ subject }}", encoding="utf-8")
    (grammar / "templates" / "alias.j2").symlink_to("real.j2")
    assert compile_with(grammar, "{% include 'alias.j2' %}").prompt == "a cat"


def test_dotdot_and_special_files_are_refused(grammar: Path) -> None:
    assert "no template '../../../outside/passwd'" in refused(grammar, "{% include '../../../outside/passwd' %}")[2]
    os.mkfifo(grammar / "templates" / "pipe.j2")  # reading it would wait forever
    assert "not a regular file" in refused(grammar, "{% include 'pipe.j2' %}")[2]


def test_a_templates_folder_linked_outside_is_refused(grammar: Path) -> None:
    (grammar / "templates").rmdir()
    (grammar / "templates").symlink_to(grammar.parents[1] / "outside")
    shot = Shot(id="s1", scene_id="a", index=0, line=7, lang="en", subject="a cat")
    film = Film(grammar.parent / "film.yaml", "0" * 64, "t", "en", (Scene("a", None, (shot,)),), grammar_dir=grammar)
    with pytest.raises(UserError) as caught:
        compile_shot(film, shot)
    assert str(caught.value).endswith("templates are read only from inside the grammar folder")


def test_a_huge_or_binary_template_is_refused(grammar: Path) -> None:
    assert "larger than 64 KB" in refused(grammar, "x" * (MAX_TEMPLATE_BYTES + 1))[2]
    (grammar / "templates" / "bin.j2").write_bytes(b"\xff\xfe")
    assert "not UTF-8" in refused(grammar, "{% include 'bin.j2' %}")[2]


# ---- work ---------------------------------------------------------------------------------------

BOMBS = [
    ("nested ranges", "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}", "range of"),
    ("one range too many", f"{{% for a in range({MAX_RANGE + 1}) %}}{{% endfor %}}", "range of"),
    ("a long string", "{{ 'x' * 10**10 }}", "the result of '*'"),
    (
        "a huge number",
        "{% set ns = namespace(n=2) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
        "bits",
    ),
    ("format_map", "{{ '{a}'.format_map({'a': 1}) }}", "'format_map' is not available"),
    ("a wide format", "{{ '{:>999999999}'.format(1) }}", "'format' is not available"),
    ("a wide percent", "{{ '%999999999s' % 'x' }}", "wider than"),
    ("a widening filter", "{{ 'x'|center(999999999) }}", "No filter named 'center'"),
    (
        "a doubling macro",
        "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f('x', 60) }}",
        "the result of '~'",
    ),
    (
        "a doubling namespace",
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "the result of '~'",
    ),
    (
        "a macro's output",
        "{% macro m() %}{% for i in range(1000) %}{% for j in range(1000) %}{{ 'x' * 1000 }}"
        "{% endfor %}{% endfor %}{% endmacro %}{{ m() }}",
        "a block's output",
    ),
    ("a growing replace", "{{ ('x' * 10000)|replace('x', 'y' * 10000) }}", "the result of 'replace'"),
    ("a growing join", "{{ ('x' * 10000)|list|join('y' * 10000) }}", "the result of 'join'"),
    ("nested lists", "{{ ([('x' * 5000)|list] * 100)|sum(start=[])|length }}", "the result of '*'"),
    ("lipsum", "{{ lipsum(100000) }}", "'lipsum' is undefined"),
    ("an include of itself", "{% include 't2v.en.j2' %}", "RecursionError"),
    ("a python internal", "{{ ''.__class__.__mro__ }}", "unsafe"),
    ("division by zero", "{{ 1 // 0 }}", "ZeroDivisionError"),
    ("a syntax error", "{% for %}", "Expected an expression"),
]


@pytest.mark.parametrize(("template", "says"), [bomb[1:] for bomb in BOMBS], ids=[bomb[0] for bomb in BOMBS])
def test_a_template_that_asks_too_much_is_refused_at_its_line(grammar: Path, template: str, says: str) -> None:
    started = time.monotonic()
    name, line, message = refused(grammar, "{# line 1 #}\n" + template)
    assert time.monotonic() - started < TIME_LIMIT + 1
    assert (name, line) == ("t2v.en.j2", 2)
    assert says in message and message.startswith("template error while compiling shot 's1'")


def test_loops_without_ranges_are_stopped_by_the_clock(grammar: Path) -> None:
    loops = (
        "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    name, line, message = refused(grammar, loops)
    assert TIME_LIMIT <= time.monotonic() - started < TIME_LIMIT + 1
    assert (name, line) == ("t2v.en.j2", 1) and f"ran for more than {TIME_LIMIT:g} s" in message


def test_a_failure_in_an_included_template_names_that_template(grammar: Path) -> None:
    include = "a\nb\n{{ ''.format_map({}) }}\n"
    assert refused(grammar, "{% include 'part.j2' %}", **{"part.j2": include})[:2] == ("part.j2", 3)
    assert refused(grammar, "{% include 'part.j2' %}", **{"part.j2": "x\n{% for %}"})[:2] == ("part.j2", 2)


def test_the_output_is_bounded(grammar: Path) -> None:
    loop = "{% for i in range(1000) %}{% for j in range(1000) %}{{ 'x' * 100 }}{% endfor %}{% endfor %}"
    name, line, message = refused(grammar, loop)
    assert name == "t2v.en.j2" and "the template's output grows past" in message
