"""Typo suggestions: Chinese by characters and by sound, pinyin typed in letters, and the near
misses of open fields that the lint names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.grammar.suggest import chinese_distance, is_near_miss, latin_distance, reads_as
from wanflow.grammar.vocabulary import UnknownTerm, Vocabulary, normalise

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


@pytest.mark.parametrize(
    ("category", "typed", "meant"),
    [
        ("time_of_day", "傍晚", "黄昏 (dusk)"),  # by meaning: the official word for that time
        ("lighting", "逆光", "背光 (backlighting)"),
        ("lighting", "轮廓光", "边缘光 (edge lighting)"),
        ("camera", "zoom in", "镜头推进 (camera pushes in)"),
        ("camera", "pan left", "镜头向左移动 (camera moves left)"),  # written 镜头左移 in the I2V formula
        ("camera", "pan down", "镜头下摇 (camera tilts down)"),
        ("angle", "仰拍", "低角度拍摄 (low angle shot)"),
        ("light_source", "sunlight", "日光 (daylight)"),
        ("shot_size", "大特写", "特写 (extreme close-up)"),
        ("angle", "yangpai", "低角度拍摄 (low angle shot)"),  # the pinyin of a common word: 仰拍
        ("shot_size", "quanjin", "全景 (wide shot)"),  # pinyin with a slip
        ("angle", "hanpai", "航拍 (aerial shot)"),
        ("lens", "changjaio", "长焦 (long-focus lens)"),  # two letters swapped
        ("camera", "jingtou tuijing", "镜头推进 (camera pushes in)"),
    ],
)
def test_suggestions_by_meaning_and_by_sound_come_first(category: str, typed: str, meant: str) -> None:
    with pytest.raises(UnknownTerm) as caught:
        VOCABULARY.resolve(category, typed)
    assert caught.value.suggestions[0] == meant


@pytest.mark.parametrize(
    ("category", "typed", "elsewhere"),
    [
        ("lens", "quanjing", "shot_size: 全景 (wide shot)"),  # pinyin of a shot size, written as a lens
        ("lens", "quanjin", "shot_size: 全景 (wide shot)"),  # ... with a slip
        ("shot_size", "逆光", "lighting: 背光 (backlighting)"),  # a lighting word, written as a shot size
        ("angle", "jingtou tuijin", "camera: 镜头推进 (camera pushes in)"),
    ],
)
def test_a_word_of_another_field_says_which(category: str, typed: str, elsewhere: str) -> None:
    with pytest.raises(UnknownTerm) as caught:
        VOCABULARY.resolve(category, typed)
    assert elsewhere in caught.value.elsewhere


def test_the_field_a_pinyin_term_belongs_to_is_reported(tmp_path: Path) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(
        "wanflow: 1\ntitle: t\nscenes:\n  - id: s\n    shots:\n      - id: a\n        look: {lens: quanjing}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "unknown lens 'quanjing' ('quanjing' is a term of shot_size: 全景 (wide shot))" in result.stderr


@pytest.mark.parametrize("words", ["scarred", "sacred", "angel", "happiness", "dancer"])
def test_real_words_are_no_near_misses(words: str) -> None:
    """W009 is for strings that are no word (prompt_grammar/words.yaml lists the real words near a term)."""
    category = "motion" if words == "dancer" else "emotion"
    assert VOCABULARY.near_term(category, words) is None


def test_the_word_list_holds_the_open_fields_spellings() -> None:
    words = yaml.safe_load((packaged_grammar_dir() / "words.yaml").read_text(encoding="utf-8"))["words"]
    assert all(isinstance(word, str) and word == word.lower() for word in words)
    english = {
        word
        for name in VOCABULARY.categories
        if VOCABULARY.category(name).open
        for term in VOCABULARY.terms(name)
        for spelling in term.spellings
        if spelling.isascii()
        for word in normalise(spelling).split()
    }
    assert english <= set(words) and len(words) < 400
