"""The Wan2.2 vocabulary file: complete, resolvable by every spelling, and strict about its format."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from wanflow.errors import UserError
from wanflow.grammar.files import find_grammar_dir, load_vocabulary, packaged_grammar_dir
from wanflow.grammar.lexicon import ProseLexicon
from wanflow.grammar.vocabulary import UnknownCategory, UnknownTerm, Vocabulary, normalise

# The official Wan2.2 prompt dictionary, written out independently of vocabulary.yaml.
OFFICIAL = {
    "light_source": "日光 人工光 月光 实用光 火光 荧光 阴天光 混合光 晴天光",
    "lighting": "柔光 硬光 顶光 侧光 背光 底光 边缘光 剪影 低对比度 高对比度",
    "time_of_day": "白天 夜晚 黄昏 日落 黎明 日出",
    "shot_size": "特写 近景 中景 中近景 中全景 全景 广角 极端全景",
    "composition": "中心构图 平衡构图 右侧重构图 左侧重构图 对称构图 短边构图",
    "lens": "中焦距 广角 长焦 望远 超广角-鱼眼",
    "angle": "过肩镜头角度拍摄 高角度拍摄 低角度拍摄 倾斜角度拍摄 航拍 俯视角度拍摄",
    "shot_type": "干净的单人镜头 双人镜头 三人镜头 群像镜头 定场镜头",
    "color_tone": "暖色调 冷色调 高饱和度 低饱和度 混合色调",
    "style": "毛毡风格 3D卡通 像素风格 木偶动画 3D游戏 黏土风格 二次元 水彩画 黑白动画 油画风格",
    "effect": "移轴摄影 延时拍摄",
    "camera": "镜头推进 镜头拉远 镜头向右移动 镜头向左移动 镜头上摇 镜头下摇 手持镜头 复合运镜 跟随镜头 环绕运镜 固定镜头",
    "motion": "街舞 跑步 滑滑板 踢足球 网球 乒乓球 滑雪 篮球 橄榄球 顶碗舞 侧手翻",
    "emotion": "愤怒 恐惧 高兴 悲伤 惊讶",
}
LIST_FIELDS = {"light_source", "lighting", "angle", "color_tone", "effect", "camera"}
LOOK_FIELDS = {
    "light_source",
    "lighting",
    "time_of_day",
    "shot_size",
    "composition",
    "lens",
    "angle",
    "shot_type",
    "color_tone",
    "style",
    "effect",
}


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return load_vocabulary(packaged_grammar_dir())


def test_the_file_holds_the_whole_official_dictionary(vocabulary: Vocabulary) -> None:
    assert vocabulary.categories == tuple(OFFICIAL)
    for name, terms in OFFICIAL.items():
        assert [term.zh for term in vocabulary.terms(name)] == terms.split(), name
    assert sum(len(vocabulary.terms(name)) for name in vocabulary.categories) == 95 + 3 + 1
    rewriter = {
        term.zh for name in vocabulary.categories for term in vocabulary.terms(name) if term.source == "rewriter"
    }
    assert rewriter == {"极端全景", "混合色调", "镜头下摇"}
    assert vocabulary.term("camera", "固定镜头").source == "guide"  # the official image-to-video formula


def test_categories_say_where_they_live_and_how_many_terms_they_take(vocabulary: Vocabulary) -> None:
    for name in vocabulary.categories:
        category = vocabulary.category(name)
        assert category.look == (name in LOOK_FIELDS)
        assert category.multiple == (name in LIST_FIELDS)
        assert category.zh and category.en and category.family in vocabulary.families
    assert vocabulary.category("lighting").zh == "光线类型"
    assert vocabulary.category("lighting").field_path == "look.lighting"
    assert vocabulary.category("camera").field_path == "camera"


def test_wide_angle_is_a_shot_size_and_a_lens(vocabulary: Vocabulary) -> None:
    assert vocabulary.resolve("shot_size", "广角").en == "wide-angle"
    assert vocabulary.resolve("lens", "广角").en == "wide-angle lens"
    assert vocabulary.resolve("lens", "wide-angle").zh == "广角"


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_every_term_resolves_by_every_spelling(vocabulary: Vocabulary, name: str) -> None:
    for term in vocabulary.terms(name):
        assert vocabulary.resolve(name, term.en.upper()) is term
        assert vocabulary.resolve(name, term.text("en").title()) is term
        for spelling in term.spellings:
            assert vocabulary.resolve(name, spelling) is term


@pytest.mark.parametrize(
    ("category", "written", "zh"),
    [
        ("shot_size", "Close-Up", "近景"),
        ("shot_size", "close up", "近景"),
        ("shot_size", "CU", "近景"),
        ("shot_size", "ECU", "特写"),
        ("shot_size", "mcu", "中近景"),
        ("shot_size", "wide", "全景"),
        ("lighting", "rim light", "边缘光"),
        ("lighting", "Rim Lighting", "边缘光"),
        ("lighting", "edge_lighting", "边缘光"),
        ("camera", "dolly in", "镜头推进"),
        ("camera", "Push-In", "镜头推进"),
        ("camera", "orbit", "环绕运镜"),
        ("camera", "arc shot", "环绕运镜"),
        ("camera", "static", "固定镜头"),
        ("camera", "locked off", "固定镜头"),
        ("lens", "超广角鱼眼", "超广角-鱼眼"),
        ("lens", "Fish-Eye", "超广角-鱼眼"),
        ("angle", "dutch angle", "倾斜角度拍摄"),
        ("color_tone", "WARM COLOURS", "暖色调"),
        ("time_of_day", "  Dusk ", "黄昏"),
        ("style", "3d cartoon", "3D卡通"),
        ("style", "３Ｄ卡通", "3D卡通"),  # full-width letters
    ],
)
def test_aliases_case_spacing_and_hyphens_resolve(vocabulary: Vocabulary, category: str, written: str, zh: str) -> None:
    assert vocabulary.resolve(category, written).zh == zh


@pytest.mark.parametrize(
    ("category", "written", "expected"),
    [
        ("shot_size", "closup", "近景 (close-up)"),
        ("shot_size", "extreme closup", "特写 (extreme close-up)"),
        ("lighting", "rimlite", "边缘光 (edge lighting)"),
        ("lighting", "rim", "边缘光 (edge lighting)"),
        ("camera", "dolly inn", "镜头推进 (camera pushes in)"),
    ],
)
def test_unknown_terms_suggest_the_closest(vocabulary: Vocabulary, category: str, written: str, expected: str) -> None:
    with pytest.raises(UnknownTerm) as caught:
        vocabulary.resolve(category, written)
    assert caught.value.category == category and caught.value.value == written
    assert expected in caught.value.suggestions
    assert expected in str(caught.value)


def test_a_term_of_another_field_says_where_it_belongs(vocabulary: Vocabulary) -> None:
    with pytest.raises(UnknownTerm) as caught:
        vocabulary.resolve("lens", "close-up")
    assert caught.value.elsewhere == ["shot_size: 近景 (close-up)"]


def test_plain_emotion_text_is_unknown_so_the_spec_decides(vocabulary: Vocabulary) -> None:
    with pytest.raises(UnknownTerm):
        vocabulary.resolve("emotion", "wistful")


def test_unknown_category_suggests(vocabulary: Vocabulary) -> None:
    with pytest.raises(UnknownCategory) as caught:
        vocabulary.resolve("lightning", "soft")
    assert caught.value.suggestions[0] == "lighting"


def test_conflict_groups_cover_the_natural_contradictions(vocabulary: Vocabulary) -> None:
    ids = [group.id for group in vocabulary.conflicts]
    assert len(ids) == len(set(ids))
    for pair in [
        ("柔光", "硬光"),
        ("暖色调", "冷色调"),
        ("高饱和度", "低饱和度"),
        ("低对比度", "高对比度"),
        ("白天", "夜晚"),
        ("黄昏", "黎明"),
        ("镜头推进", "镜头拉远"),
        ("镜头向左移动", "镜头向右移动"),
        ("固定镜头", "手持镜头"),
        ("固定镜头", "环绕运镜"),
    ]:
        assert any(
            any(term.zh == pair[0] for term in a) and any(term.zh == pair[1] for term in b)
            for group in vocabulary.conflicts
            for i, a in enumerate(group.sides)
            for j, b in enumerate(group.sides)
            if i != j
        ), pair


def _write_grammar(root: Path, vocabulary_text: str) -> Path:
    grammar = root / "prompt_grammar"
    grammar.mkdir(parents=True)
    (grammar / "vocabulary.yaml").write_text(vocabulary_text, encoding="utf-8")
    return grammar


def _packaged_text() -> str:
    return (packaged_grammar_dir() / "vocabulary.yaml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    grammar = _write_grammar(tmp_path, "version: 1\ncategories: [\n")
    with pytest.raises(UserError) as caught:
        load_vocabulary(grammar)
    problem = caught.value.problems[0]
    assert problem.file == str((grammar / "vocabulary.yaml").resolve()) and problem.line is not None


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("{zh: 柔光, en: soft lighting, ", "{zh: 柔光, ", "{zh: 柔光, ", "en"),
        ("aliases: [hard light, hard]", "aliases: [hard light, soft]", "{zh: 硬光", "already means"),
        ("      - lighting: [硬光]", "      - lighting: [硬硬光]", "[硬硬光]", "not a term"),
        ("  emotion:\n", "  emotions:\n", "  emotions:", "emotion"),
        (
            "    list: true\n    terms:\n      - {zh: 暖色调",
            "    list: false\n    terms:\n      - {zh: 暖色调",
            "  color_tone:",
            "list: true",
        ),
        ("version: 1", "version: 1\nversion: 2", "version: 2", "duplicate key"),
    ],
)
def test_a_bad_vocabulary_is_a_user_error_at_its_line(
    tmp_path: Path, old: str, new: str, needle: str, words: str
) -> None:
    text = _packaged_text()
    assert old in text
    text = text.replace(old, new, 1)
    grammar = _write_grammar(tmp_path, text)
    with pytest.raises(UserError) as caught:
        load_vocabulary(grammar)
    problems = caught.value.problems
    assert any(words in problem.message or words in problem.field for problem in problems), problems
    assert any(problem.line == _line_of(text, needle) for problem in problems), (problems, _line_of(text, needle))


def test_load_is_memoised_and_sees_edits(tmp_path: Path) -> None:
    grammar = _write_grammar(tmp_path, _packaged_text())
    first = load_vocabulary(grammar)
    assert load_vocabulary(grammar) is first
    path = grammar / "vocabulary.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("en: moonlight", "en: moon glow"), encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert load_vocabulary(grammar).term("light_source", "月光").en == "moon glow"


def test_a_grammar_folder_without_vocabulary_uses_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "prompt_grammar" / "templates").mkdir(parents=True)
    vocabulary = load_vocabulary(tmp_path / "prompt_grammar")
    assert vocabulary.path == (packaged_grammar_dir() / "vocabulary.yaml").resolve()


def test_find_grammar_dir_walks_up_to_the_git_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    spec = repo / "specs" / "act1" / "film.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text("wanflow: 1\n", encoding="utf-8")
    (repo / ".git").mkdir()
    (tmp_path / "prompt_grammar").mkdir()  # outside the repository: never used
    assert find_grammar_dir(spec) == packaged_grammar_dir()
    (repo / "prompt_grammar").mkdir()
    assert find_grammar_dir(spec) == (repo / "prompt_grammar").resolve()
    (repo / "specs" / "prompt_grammar").mkdir()
    assert find_grammar_dir(spec) == (repo / "specs" / "prompt_grammar").resolve()
    assert find_grammar_dir(repo / "specs") == (repo / "specs" / "prompt_grammar").resolve()


# Every spelling the official material uses, by source (tests/data/official_spellings.yaml).
OFFICIAL_SOURCES = yaml.safe_load((Path(__file__).parent / "data" / "official_spellings.yaml").read_text("utf-8"))
OFFICIAL_SPELLINGS = [
    (source, field, spelling, zh, bool(entry.get("emitted")))
    for source, entry in OFFICIAL_SOURCES.items()
    for field, spellings in entry.items()
    if isinstance(spellings, dict)
    for spelling, zh in spellings.items()
]


@pytest.mark.parametrize(
    ("source", "field", "spelling", "zh", "emitted"),
    OFFICIAL_SPELLINGS,
    ids=[f"{source}-{field}-{spelling}" for source, field, spelling, *_ in OFFICIAL_SPELLINGS],
)
def test_every_official_spelling_resolves(
    vocabulary: Vocabulary, source: str, field: str, spelling: str, zh: str, emitted: bool
) -> None:
    assert OFFICIAL_SOURCES[source]["source"]
    assert vocabulary.resolve(field, spelling).zh == zh
    if emitted:  # the English rewriter's forms are what English prompts write
        assert normalise(vocabulary.term(field, zh).text("en")) == normalise(spelling)


def test_the_official_spellings_cover_the_dictionary_and_the_issue(vocabulary: Vocabulary) -> None:
    written = {(field, spelling) for _, field, spelling, *_ in OFFICIAL_SPELLINGS}
    for name in vocabulary.categories:
        for term in vocabulary.terms(name):
            assert (name, term.zh) in written, term
    for field, spelling in [
        ("angle", "过肩角度"),
        ("angle", "俯视角度"),
        ("camera", "镜头左移"),
        ("time_of_day", "Dawn time"),
        ("time_of_day", "Sunrise time"),
        ("shot_size", "Close-up shot"),
        ("shot_size", "Medium close-up shot"),
        ("shot_size", "Extreme close-up shot"),
        ("lens", "long lens shot"),
        ("angle", "high-angle shot"),
        ("angle", "over-the-shoulder angle"),
        ("camera", "fixed camera"),
        ("camera", "镜头下摇"),
        ("camera", "camera tilts downward"),
        ("camera", "镜头后拉"),
    ]:
        assert (field, spelling) in written


def test_the_fixed_camera_is_the_image_to_video_formulas_own(vocabulary: Vocabulary) -> None:
    fixed = vocabulary.term("camera", "固定镜头")
    assert (fixed.source, fixed.text("en"), fixed.label) == ("guide", "fixed camera", "固定镜头 (fixed camera)")
    assert vocabulary.resolve("camera", "static camera") is fixed


def test_english_prompt_forms_keep_the_dictionary_names_in_messages(vocabulary: Vocabulary) -> None:
    close_up = vocabulary.term("shot_size", "近景")
    assert (close_up.text("en"), close_up.label) == ("close-up shot", "近景 (close-up)")
    assert vocabulary.term("lens", "长焦").text("en") == "long lens shot"
    assert vocabulary.term("shot_size", "全景").text("en") == "wide shot"  # no rewriter form: the dictionary's


def test_a_lint_setting_naming_no_term_is_a_user_error(tmp_path: Path) -> None:
    text = _packaged_text().replace("still_camera: [固定镜头]", "still_camera: [固定镜]")
    grammar = _write_grammar(tmp_path, text)
    with pytest.raises(UserError) as caught:
        load_vocabulary(grammar)
    (problem,) = caught.value.problems
    assert "'固定镜' is not a camera term" in problem.message and problem.line == _line_of(text, "[固定镜]")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("    镜头推进: [镜头~推近,", "    镜头推近: [镜头~推近,", "camera: '镜头推近' is not a term"),
        ("逆光: 背光, 轮廓光", "逆光: 背光, 背光灯: 背光光, 轮廓光", "lighting: '背光光' is not a term"),
        ("逆光: 背光, 轮廓光", "逆光: 背光, backlit: 背光, 轮廓光", "'backlit' is already a lighting spelling"),
        ("    白天: [正午,", "    白天: [" + "正" * 61 + ", 正午,", "at most 60 characters"),
        ("    白天: [正午,", "    白天: [正午 ~ ~ 中午,", "`~` only between words"),
    ],
)
def test_a_bad_prose_phrase_or_meaning_is_a_user_error(tmp_path: Path, old: str, new: str, says: str) -> None:
    text = _packaged_text()
    assert text.count(old) == 1
    grammar = _write_grammar(tmp_path, text.replace(old, new))
    with pytest.raises(UserError) as caught:
        load_vocabulary(grammar)
    (problem,) = caught.value.problems
    assert says in problem.message and problem.line == _line_of(text.replace(old, new), new.strip()[:4])


def test_prose_and_meanings_are_optional(tmp_path: Path) -> None:
    text = _packaged_text()
    start, end = text.index("\nprose:\n"), text.index("\n# Lint thresholds")
    vocabulary = load_vocabulary(_write_grammar(tmp_path, text[:start] + "\n" + text[end:]))
    assert vocabulary.prose.read("镜头缓缓推近她的脸") == [] and vocabulary.meanings == {}


def test_a_prose_phrase_is_literal_text_with_bounded_gaps() -> None:
    """A vocabulary from someone else cannot ask for an expensive regular expression."""
    lexicon = ProseLexicon({("camera", "镜头推进"): ("(a+)+$ ~ x*", "镜头~推近")})
    assert lexicon.read("a" * 5000 + "!") == []
    (match,) = lexicon.read("the (a+)+$ slowly x* goes")
    assert match.words == "(a+)+$ slowly x*"
    assert [m.words for m in lexicon.read("镜头缓缓地推近")] == ["镜头缓缓地推近"]
    assert lexicon.read("镜头缓缓地慢慢推近") == []  # a gap is at most three characters
