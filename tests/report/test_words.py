"""The report speaks the film's language and keeps two warnings of one rule apart."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from wanflow.grammar.compile import compile_shot
from wanflow.report.words import film_vocabulary, look_words, warning_line
from wanflow.storyboard.load import load_film

SPEC = """\
wanflow: 1
title: words
lang: {lang}
scenes:
  - id: a
    shots:
      - id: wave
        image: boat.png
        action: the boat rocks
        scene: a grey harbour
        look: {{lighting: [rim light, soft lighting], shot_size: close-up, time_of_day: dusk}}
"""


def _film(tmp_path: Path, lang: str):
    Image.new("RGB", (64, 48), "red").save(tmp_path / "boat.png")
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC.format(lang=lang), encoding="utf-8")
    return load_film(spec)


def test_an_english_film_shows_its_look_in_english(tmp_path: Path) -> None:
    film = _film(tmp_path, "en")
    (shot,) = film.shots
    assert shot.look.shot_size == "近景"  # stored canonical
    words = look_words(shot, film_vocabulary(film))
    assert words["shot_size"] == "close-up" and words["time_of_day"] == "dusk"
    assert words["lighting"] == "edge lighting, soft lighting"
    zh = _film(tmp_path, "zh")
    assert look_words(zh.shots[0], film_vocabulary(zh))["lighting"] == "边缘光、柔光"


def test_two_warnings_of_one_rule_read_apart(tmp_path: Path) -> None:
    film = _film(tmp_path, "en")
    warnings = compile_shot(film, film.shots[0]).warnings
    ignored = [warning_line(w) for w in warnings if w.code.startswith("W004")]
    assert len(ignored) >= 2 and len(set(ignored)) == len(ignored)
    assert any(line.startswith("W004 look.lighting: ignored for image-to-video") for line in ignored)
    assert any(line.startswith("W004 scene: ") for line in ignored)
