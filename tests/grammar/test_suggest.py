"""Typo suggestions: Chinese by characters and by sound, pinyin typed in letters, and the near
misses of open fields that the lint names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.suggest import chinese_distance, is_near_miss, latin_distance, reads_as
from wanflow.grammar.vocabulary import UnknownTerm, Vocabulary

VOCABULARY: Vocabulary = load_vocabulary(packaged_grammar_dir())


@pytest.mark.parametrize(
    ("category", "typed", "meant"),
    [
        ("shot_size", "全境", "全景 (wide shot)"),  # same sound
        ("shot_size", "中境", "中景 (medium shot)"),
        ("shot_size", "极端全境", "极端全景 (extreme wide shot)"),
        ("time_of_day", "黄婚", "黄昏 (dusk)"),
        ("time_of_day", "离明", "黎明 (dawn)"),  # l/n-blind input
        ("lighting", "边沿光", "边缘光 (edge lighting)"),
        ("lighting", "低对比", "低对比度 (low contrast)"),  # a character short
        ("light_source", "阴天灯", "阴天光 (overcast lighting)"),  # one wrong character
        ("lens", "常焦", "长焦 (long-focus lens)"),  # 长 reads chang and zhang
        ("composition", "中心构土", "中心构图 (center composition)"),
        ("angle", "过肩", "过肩镜头角度拍摄 (over-the-shoulder shot)"),  # a part of it
        ("angle", "俯式角度", "俯视角度拍摄 (overhead shot)"),
        ("angle", "航排", "航拍 (aerial shot)"),
        ("shot_type", "定厂镜头", "定场镜头 (establishing shot)"),
        ("color_tone", "冷色", "冷色调 (cool colors)"),
        ("style", "水彩", "水彩画 (watercolor)"),
        ("style", "3D卡同", "3D卡通 (3D cartoon)"),
        ("effect", "延迟拍摄", "延时拍摄 (time-lapse)"),
        ("camera", "镜头推近", "镜头推进 (camera pushes in)"),
        ("camera", "环绕云镜", "环绕运镜 (orbiting shot)"),
        ("camera", "镜头右一", "镜头向右移动 (camera moves right)"),
        ("shot_size", "quanjing", "全景 (wide shot)"),  # pinyin typed in letters
        ("lens", "chang jiao", "长焦 (long-focus lens)"),
        ("camera", "jingtou tuijin", "镜头推进 (camera pushes in)"),
    ],
)
def test_closed_fields_suggest_for_chinese_typos(category: str, typed: str, meant: str) -> None:
    with pytest.raises(UnknownTerm) as caught:
        VOCABULARY.resolve(category, typed)
    assert caught.value.suggestions[0] == meant


def test_a_chinese_typo_is_reported_with_its_suggestion(tmp_path: Path) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(
        "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots:\n      - id: a\n        look: {shot_size: 全境}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "7:27: scenes[0].shots[0].look.shot_size: unknown shot size '全境'; did you mean 全景 (wide shot)?" in (
        result.stderr
    )


def test_english_suggestions_are_unchanged() -> None:
    with pytest.raises(UnknownTerm) as caught:
        VOCABULARY.resolve("shot_size", "wide-angle lens")
    assert caught.value.suggestions == ["广角 (wide-angle)", "全景 (wide shot)"]


@pytest.mark.parametrize(
    ("category", "typed", "meant"),
    [
        ("emotion", "恐俱", "恐惧"),
        ("emotion", "控巨", "恐惧"),  # two homophones
        ("emotion", "悲上", "悲伤"),
        ("emotion", "高心", "高兴"),  # in/ing
        ("emotion", "惊呀", "惊讶"),
        ("emotion", "愤努", "愤怒"),
        ("emotion", "suprised", "惊讶"),
        ("emotion", "angre", "愤怒"),
        ("motion", "跑部", "跑步"),
        ("motion", "花雪", "滑雪"),
        ("motion", "basketbal", "篮球"),
    ],
)
def test_open_field_near_misses_name_the_term(category: str, typed: str, meant: str) -> None:
    term = VOCABULARY.near_term(category, typed)
    assert term is not None and term.zh == meant


@pytest.mark.parametrize(
    ("category", "words"),
    [
        ("emotion", "平静"),
        ("emotion", "平静地出神"),
        ("emotion", "惊喜"),  # a pleasant surprise: another word that shares a character
        ("emotion", "开心"),  # a synonym, not a typo
        ("emotion", "害怕"),
        ("emotion", "wistful"),
        ("emotion", "madness"),  # one letter from sadness, but the first one
        ("emotion", "tear"),  # too short to call a typo of fear
        ("motion", "跳舞"),
        ("motion", "游泳"),
        ("motion", "walking"),
    ],
)
def test_other_words_are_not_near_misses(category: str, words: str) -> None:
    assert VOCABULARY.near_term(category, words) is None


def test_distances() -> None:
    assert chinese_distance("全境", "全景") == 0.25
    assert chinese_distance("高心", "高兴") == 0.5
    assert chinese_distance("全景", "中景") == 1.0
    assert chinese_distance("过肩", "过肩角度") == 2.0
    assert latin_distance("angre", "anger") == 1
    assert latin_distance("closup", "close up") == 2
    assert reads_as("quanjing", "全景") and reads_as("changjiao", "长焦") and reads_as("zhangjiao", "长焦")
    assert not reads_as("quan", "全景") and not reads_as("", "全景") and not reads_as("close", "close")
    assert is_near_miss("恐俱", "恐惧") and not is_near_miss("恐惧", "恐惧") and not is_near_miss("fear", "恐惧")


def test_pypinyin_is_imported_only_for_a_typo() -> None:
    """Validating and compiling a storyboard without typos stays as fast as before (0.15 s less)."""
    example = Path(__file__).resolve().parents[2] / "specs" / "film.yaml"
    code = (
        "import sys\n"
        "from wanflow.grammar import compile_film\n"
        "from wanflow.storyboard import load_film\n"
        f"film = load_film({str(example)!r})\n"
        "compile_film(film, 'zh'), compile_film(film, 'en')\n"
        "print('pypinyin' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert completed.stdout.strip() == "False", completed.stderr
