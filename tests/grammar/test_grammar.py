"""The prompt compiler: real templates, the real vocabulary, exact prompts and lint."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from wanflow.errors import UserError
from wanflow.film import Film, Look, Scene, Shot
from wanflow.grammar.compile import Phrase, compile_film, compile_shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir

NEGATIVE = "色调艳丽，过曝，静态"
VOCABULARY = load_vocabulary(packaged_grammar_dir())


def make_shot(shot_id: str = "s1", **fields: object) -> Shot:
    fields.setdefault("negative", NEGATIVE)
    fields.setdefault("lang", "zh")
    return Shot(id=shot_id, scene_id="sc", index=0, line=7, **fields)  # type: ignore[arg-type]


def make_film(*shots: Shot, grammar_dir: Path | None = None) -> Film:
    return Film(
        path=Path("/storyboard/film.yaml"),
        source_sha256="0" * 64,
        title="test",
        lang="zh",
        scenes=(Scene("sc", None, shots),),
        grammar_dir=grammar_dir,
    )


def compile_one(shot: Shot, lang: str | None = None, grammar_dir: Path | None = None):  # noqa: ANN201
    return compile_shot(make_film(shot, grammar_dir=grammar_dir), shot, lang)  # type: ignore[arg-type]


FOX = dict(subject="一只红狐狸", scene="在雪林中", action="缓缓走过")
CLEAN = make_shot(
    look=Look(style="3D卡通", time_of_day="黄昏", shot_size="全景", color_tone=("暖色调",)),
    camera=("镜头向右移动",),
    **FOX,
)


def _shot_with(category: str, zh: str) -> Shot:
    info = VOCABULARY.category(category)
    value: object = (zh,) if info.multiple else zh
    if info.look:
        return make_shot(look=Look(**{category: value}), **FOX)
    return make_shot(**{category: value}, **FOX)


ALL_TERMS = [(name, term.zh) for name in VOCABULARY.categories for term in VOCABULARY.terms(name)]


@pytest.mark.parametrize(("category", "zh"), ALL_TERMS, ids=[f"{c}-{z}" for c, z in ALL_TERMS])
def test_every_term_reaches_the_prompt_in_both_languages(category: str, zh: str) -> None:
    term = VOCABULARY.term(category, zh)
    source = VOCABULARY.category(category).field_path
    shot = _shot_with(category, zh)
    chinese = compile_one(shot)
    assert chinese.mode == "t2v" and chinese.lang == "zh"
    assert zh in chinese.prompt.removesuffix("。").split("，")
    assert Phrase(zh, source) in chinese.phrases
    english = compile_one(shot, "en")
    assert english.lang == "en"
    assert term.text("en") in english.prompt.removesuffix(".").split(", ")
    assert Phrase(term.text("en"), source) in english.phrases


def test_official_order_aesthetics_first_style_leading() -> None:
    compiled = compile_one(CLEAN)
    assert compiled.prompt == "3D卡通，黄昏，全景，暖色调，一只红狐狸，在雪林中，缓缓走过，镜头向右移动。"
    assert [phrase.source for phrase in compiled.phrases] == [
        "look.style",
        "look.time_of_day",
        "look.shot_size",
        "look.color_tone",
        "subject",
        "scene",
        "action",
        "camera",
    ]
    assert compiled.negative == NEGATIVE
    assert compiled.warnings == ()


def test_english_switches_terms_and_keeps_free_text() -> None:
    shot = dataclasses.replace(CLEAN, subject="a red fox", scene="in a snowy forest", action="walks slowly.")
    assert compile_one(shot, "en").prompt == (
        "3D cartoon, dusk, wide shot, warm colors, a red fox, in a snowy forest, walks slowly, camera moves right."
    )
    assert compile_one(dataclasses.replace(shot, lang="en")).lang == "en"
    assert "一只红狐狸" in compile_one(CLEAN, "en").prompt  # never translated


def test_full_official_example_shape() -> None:
    look = Look(
        light_source=("日光",),
        lighting=("边缘光", "低对比度"),
        shot_size="中近景",
        composition="左侧重构图",
        shot_type="干净的单人镜头",
        color_tone=("暖色调",),
        time_of_day="白天",
    )
    shot = make_shot(
        look=look, subject="一个女孩", scene="海边", action="奔跑", motion="跑步", emotion="高兴", extra="电影质感"
    )
    prompt = compile_one(shot).prompt
    assert prompt == (
        "日光，边缘光，低对比度，白天，中近景，左侧重构图，干净的单人镜头，暖色调，"
        "一个女孩，海边，奔跑，跑步，高兴，电影质感。"
    )


def test_compilation_is_deterministic() -> None:
    shots = [
        CLEAN,
        dataclasses.replace(CLEAN, id="s2", camera=("镜头推进", "固定镜头"), look=Look(lighting=("硬光", "柔光"))),
        dataclasses.replace(CLEAN, id="s3", image=Path("/storyboard/start.png")),
    ]
    film = make_film(*shots)
    runs = [
        json.dumps([dataclasses.asdict(c) for c in compile_film(film, lang)], ensure_ascii=False)
        for lang in ("zh", "zh", "en", "en")
    ]
    assert runs[0] == runs[1] and runs[2] == runs[3] and runs[0] != runs[2]


@pytest.mark.parametrize(
    "text",
    ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{{ ''.__class__.__mro__ }}", "{# note #}", "{%raw%}"],
)
def test_user_text_is_data_never_template_code(text: str) -> None:
    for field in ("subject", "scene", "action", "extra"):
        compiled = compile_one(make_shot(**{field: f"一只猫 {text} 在跳"}))
        assert f"一只猫 {text} 在跳" in compiled.prompt
        assert "49" not in compiled.prompt and "xxx" not in compiled.prompt
    assert compile_one(make_shot(emotion=text)).prompt == f"{text}。"


def test_plain_text_emotion_is_emitted_verbatim() -> None:
    compiled = compile_one(make_shot(emotion="wistful", **FOX))
    assert compiled.prompt.endswith("缓缓走过，wistful。")
    assert Phrase("wistful", "emotion") in compiled.phrases


def test_image_to_video_omits_the_look_and_warns_per_field() -> None:
    shot = dataclasses.replace(CLEAN, image=Path("/storyboard/start.png"), motion="跑步")
    compiled = compile_one(shot)
    assert compiled.mode == "i2v"
    assert compiled.prompt == "一只红狐狸，缓缓走过，跑步，镜头向右移动。"
    ignored = [w.field for w in compiled.warnings if w.code == "W004-ignored-for-i2v"]
    assert ignored == ["look.time_of_day", "look.shot_size", "look.color_tone", "look.style", "scene"]
    assert all("ignored for image-to-video" in w.message for w in compiled.warnings)
    continuing = compile_one(dataclasses.replace(shot, image=None, continue_from="s0"), "en")
    assert continuing.mode == "i2v" and "3D cartoon" not in continuing.prompt


def test_raw_prompt_bypasses_the_grammar_but_is_linted() -> None:
    raw = "  一只红狐狸在雪林中缓缓走过，镜头缓慢向右移动，柔和的黄昏光线洒在雪地上。 "
    compiled = compile_one(dataclasses.replace(CLEAN, prompt=raw))
    assert compiled.prompt == raw.strip()
    assert compiled.phrases == (Phrase(raw.strip(), "prompt"),)
    (warning,) = compiled.warnings
    assert warning.code == "W005-ignored-by-raw-prompt"
    assert "look.color_tone" in warning.message and "camera" in warning.message
    short = compile_one(make_shot(prompt="狐狸"))
    assert [w.code for w in short.warnings] == ["W003-prompt-length"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (dict(look=Look(lighting=("柔光", "硬光"))), "look.lighting", "柔光 (soft lighting) contradicts 硬光"),
        (dict(look=Look(color_tone=("暖色调", "冷色调"))), "look.color_tone", "[colour-temperature]"),
        (dict(look=Look(lighting=("低对比度", "高对比度"))), "look.lighting", "[contrast]"),
        (dict(camera=("镜头推进", "镜头拉远")), "camera", "[push-pull]"),
        (dict(camera=("镜头向左移动", "镜头向右移动")), "camera", "[left-right]"),
        (dict(camera=("固定镜头", "手持镜头", "环绕运镜")), "camera", "手持镜头 (handheld camera) and 环绕运镜"),
        (
            dict(look=Look(light_source=("晴天光",), time_of_day="夜晚")),
            "look.light_source, look.time_of_day",
            "[sun-at-night]",
        ),
        (
            dict(look=Look(style="黑白动画", color_tone=("高饱和度",))),
            "look.style, look.color_tone",
            "[black-and-white-colour]",
        ),
    ],
)
def test_contradictions_are_flagged(changes: dict[str, object], field: str, words: str) -> None:
    compiled = compile_one(make_shot(**FOX, **changes))
    (warning,) = [w for w in compiled.warnings if w.code == "W001-contradiction"]
    assert warning.field == field and words in warning.message


def test_compatible_terms_are_not_contradictions() -> None:
    shot = make_shot(
        **FOX,
        look=Look(lighting=("柔光", "边缘光"), color_tone=("暖色调", "低饱和度")),
        camera=("镜头推进", "镜头上摇"),
    )
    assert compile_one(shot).warnings == ()


def test_too_many_aesthetic_keywords() -> None:
    look = Look(
        light_source=("日光",),
        lighting=("柔光", "侧光", "边缘光"),
        time_of_day="白天",
        shot_size="中景",
        composition="中心构图",
        lens="中焦距",
        angle=("高角度拍摄",),
        shot_type="干净的单人镜头",
        color_tone=("暖色调",),
    )
    assert compile_one(make_shot(look=look, **FOX)).warnings == ()  # 11 terms: as many as an official example
    more = dataclasses.replace(look, color_tone=("暖色调", "低饱和度"))
    (warning,) = compile_one(make_shot(look=more, **FOX)).warnings
    assert warning.code == "W002-too-many-look-terms" and "12 aesthetic keywords" in warning.message
    assert warning.field.startswith("look.light_source, look.lighting")


def test_english_prompts_keep_to_what_the_official_english_examples_stack() -> None:
    """The English rewriter's "at most 4" is what it adds; its own examples carry 4, 5 and 10 (W008 is 10)."""
    look = Look(lighting=("边缘光",), shot_size="中近景", light_source=("日光",), composition="左侧重构图")
    english = dataclasses.replace(CLEAN, look=look, subject="a young girl", scene="in a field of tall grass", camera=())
    assert compile_one(english, "en").warnings == ()  # the official English example 1: 4 settings
    five = dataclasses.replace(look, time_of_day="白天")
    assert compile_one(dataclasses.replace(english, look=five), "en").warnings == ()  # as many as example 3
    ten = dataclasses.replace(
        five,
        lighting=("边缘光", "柔光"),
        light_source=("日光", "荧光"),
        lens="长焦",
        angle=("高角度拍摄",),
        color_tone=("冷色调",),
    )
    assert compile_one(dataclasses.replace(english, look=ten), "en").warnings == ()  # as many as example 2
    eleven = dataclasses.replace(ten, shot_type="干净的单人镜头")
    (warning,) = compile_one(dataclasses.replace(english, look=eleven), "en").warnings
    assert warning.code == "W008-too-many-en-look-terms" and "more than 10" in warning.message
    assert compile_one(dataclasses.replace(english, look=eleven)).warnings == ()  # Chinese: 11 like its example 2


def test_prompt_length_far_outside_the_recommendation() -> None:
    (short,) = compile_one(make_shot(subject="猫")).warnings
    assert short.code == "W003-prompt-length" and "only 2 characters" in short.message
    (long,) = compile_one(make_shot(subject="猫" * 450)).warnings
    assert long.code == "W003-prompt-length" and "more than 400" in long.message
    (words,) = compile_one(make_shot(subject="a cat"), "en").warnings
    assert "only 2 words" in words.message
    assert compile_one(make_shot(subject="cat " * 120), "en").warnings == ()


def test_a_non_canonical_term_in_the_film_is_a_user_error() -> None:
    with pytest.raises(UserError) as caught:
        compile_one(make_shot(look=Look(lighting=("soft",))))
    (problem,) = caught.value.problems
    assert problem.file == "/storyboard/film.yaml" and problem.line == 7 and problem.field == "s1.look.lighting"


def test_the_storyboard_grammar_overrides_file_by_file(tmp_path: Path) -> None:
    grammar = tmp_path / "prompt_grammar"
    (grammar / "templates").mkdir(parents=True)
    (grammar / "templates" / "t2v.zh.j2").write_text(
        "{{ subject }}{% for term in look.lighting %}，{{ term }}{% endfor %}，电影感。", encoding="utf-8"
    )
    shot = make_shot(subject="一只猫在窗台上晒太阳打盹", look=Look(lighting=("柔光", "侧光")))
    compiled = compile_one(shot, grammar_dir=grammar)
    assert compiled.prompt == "一只猫在窗台上晒太阳打盹，柔光，侧光，电影感。"
    assert [(p.text, p.source) for p in compiled.phrases] == [
        ("一只猫在窗台上晒太阳打盹", "subject"),
        ("柔光", "look.lighting"),
        ("侧光", "look.lighting"),
        ("电影感", "template"),
    ]
    assert (
        compile_one(shot, "en", grammar_dir=grammar).prompt == "soft lighting, side lighting, 一只猫在窗台上晒太阳打盹."
    )

    vocabulary = (packaged_grammar_dir() / "vocabulary.yaml").read_text(encoding="utf-8")
    (grammar / "vocabulary.yaml").write_text(
        vocabulary.replace("en: soft lighting", "en: gentle light"), encoding="utf-8"
    )
    assert "gentle light" in compile_one(shot, "en", grammar_dir=grammar).prompt


def test_template_errors_name_the_template_and_line(tmp_path: Path) -> None:
    templates = tmp_path / "prompt_grammar" / "templates"
    templates.mkdir(parents=True)
    (templates / "t2v.zh.j2").write_text("{{ subject }}\n{{ no_such_variable }}", encoding="utf-8")
    (templates / "t2v.en.j2").write_text("{% for %}", encoding="utf-8")
    (templates / "i2v.zh.j2").write_text("{{ look.style }}", encoding="utf-8")
    for lang, image, line in (("zh", None, 2), ("en", None, 1), ("zh", Path("/a.png"), 1)):
        with pytest.raises(UserError) as caught:
            compile_one(make_shot(subject="猫", image=image), lang, grammar_dir=tmp_path / "prompt_grammar")
        (problem,) = caught.value.problems
        assert problem.file.startswith(str(templates.resolve())) and problem.line == line, problem
