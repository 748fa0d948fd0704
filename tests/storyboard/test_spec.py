"""The storyboard format: the issue's sketch, the example film, the cascade, characters, schema."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from PIL import Image

from wanflow.catalog import DEFAULT_NEGATIVE_PROMPT
from wanflow.errors import UserError
from wanflow.film import DEFAULT_TRANSITION_SECONDS, Look, Transition
from wanflow.grammar.files import find_grammar_dir
from wanflow.storyboard.fields import expand_characters
from wanflow.storyboard.load import film_json_schema, load_film

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"

# The sketch from the issue, verbatim.
ISSUE_SKETCH = """\
wanflow: 1                  # spec format version
title: Miller's Planet
lang: zh                    # prompt language, zh | en
defaults:                   # film-level; a scene's defaults override them; a shot overrides both
  look: { color_tone: [低饱和度] }
  negative: default         # the official Wan2.2 negative prompt, or your own text
characters:
  cooper: 身穿白色厚重宇航服、头戴面罩头盔的宇航员
scenes:
  - id: water-planet
    defaults: { look: { time_of_day: 白天, light_source: 晴天光 } }
    shots:
      - id: wade
        subject: "{cooper}"          # characters are referenced by name and expanded
        action: 朝镜头方向涉水前行，水面淹及大腿，表情严肃
        scene: 广阔的浅水域，身后停着一艘机翼扁平宽大的未来飞行器，云层密布的天空
        duration: 5                  # seconds (or frames: 81)
        look:
          lighting: [边缘光]          # 光线类型, a list
          shot_size: extreme wide shot   # zh or en term, or an alias
          composition: 平衡构图
          lens: 广角
          angle: 低角度拍摄
          shot_type: 定场镜头
          color_tone: [暖色调]
          # also: light_source, time_of_day, style (视觉风格), effect (特效镜头)
        camera: [镜头推进]            # camera moves (基础/高级运镜), or [static]
        motion: 跑步                  # 运动 (optional)
        emotion: 平静                 # 人物情绪 (optional; accept the official five and plain text)
        seed: 42                      # optional
        image: assets/start.png       # optional start frame (image-to-video)
        continue_from: previous-id    # optional: this shot starts where that one ends
        transition: dissolve          # to the next shot (cut by default)
        caption: 他们终于到了           # optional on-screen/subtitle text
        extra: 水花四溅                # optional free text appended to the prompt
        prompt: null                  # optional raw prompt: bypasses the grammar (still linted)
"""
IMAGE_LINE = "        image: assets/start.png       # optional start frame (image-to-video)\n"
CONTINUE_LINE = "        continue_from: previous-id    # optional: this shot starts where that one ends\n"
PREVIOUS_SHOT = "    shots:\n      - id: previous-id\n        subject: 海面\n"


def write_sketch(folder: Path, text: str) -> Path:
    """The sketch with what it refers to made real: a start frame and an earlier shot."""
    (folder / "assets").mkdir(exist_ok=True)
    Image.new("RGB", (64, 36), (40, 60, 90)).save(folder / "assets" / "start.png")
    path = folder / "film.yaml"
    path.write_text(text.replace("    shots:\n", PREVIOUS_SHOT, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("dropped", [CONTINUE_LINE, IMAGE_LINE], ids=["image", "continue_from"])
def test_issue_sketch_validates(tmp_path: Path, dropped: str) -> None:
    film = load_film(write_sketch(tmp_path, ISSUE_SKETCH.replace(dropped, "")))
    wade = film.shot("wade")
    assert film.title == "Miller's Planet" and film.lang == "zh"
    assert wade.subject == "身穿白色厚重宇航服、头戴面罩头盔的宇航员"
    assert wade.look == Look(
        light_source=("晴天光",),
        lighting=("边缘光",),
        time_of_day="白天",
        shot_size="极端全景",
        composition="平衡构图",
        lens="广角",
        angle=("低角度拍摄",),
        shot_type="定场镜头",
        color_tone=("暖色调",),  # a list replaces the inherited one
    )
    assert (wade.camera, wade.motion, wade.emotion, wade.seed) == (("镜头推进",), "跑步", "平静", 42)
    assert wade.duration == 5.0 and wade.frames is None
    assert wade.transition == Transition("dissolve", DEFAULT_TRANSITION_SECONDS)
    assert (wade.caption, wade.extra, wade.prompt) == ("他们终于到了", "水花四溅", None)
    assert wade.negative == DEFAULT_NEGATIVE_PROMPT
    assert wade.image_conditioned
    if dropped == CONTINUE_LINE:
        assert wade.image == tmp_path / "assets" / "start.png" and wade.continue_from is None
    else:
        assert wade.image is None and wade.continue_from == "previous-id"


def test_issue_sketch_as_written_sets_both_start_frames(tmp_path: Path) -> None:
    """Verbatim, the sketch sets image AND continue_from: the one thing a shot cannot have."""
    with pytest.raises(UserError) as caught:
        load_film(write_sketch(tmp_path, ISSUE_SKETCH))
    assert [p.field for p in caught.value.problems] == ["scenes[0].shots[1].continue_from"]
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (34, 24)


def test_example_film_resolves() -> None:
    film = load_film(EXAMPLE)
    assert film.path == EXAMPLE
    assert film.source_sha256 == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    assert film.grammar_dir == find_grammar_dir(EXAMPLE)
    assert [s.id for s in film.scenes] == ["water-planet", "subway"]
    assert [s.id for s in film.shots] == ["sea", "wade", "wave", "carriage", "city", "window", "reflection"]
    assert [s.index for s in film.shots] == list(range(7))
    sea, wade, wave, carriage, city, window, reflection = film.shots
    # film -> scene -> shot cascade
    assert sea.look.time_of_day == "白天" and sea.look.color_tone == ("低饱和度",)
    assert window.look.time_of_day == "黄昏" and window.look.color_tone == ("低饱和度", "暖色调")  # {extend: ...}
    assert wave.look == Look() and carriage.look == Look()  # `look: null` clears the inherited look
    assert (sea.duration, wade.duration, reflection.duration, city.duration, city.frames) == (3.0, 4.0, 2.5, None, 49)
    # canonical terms from en / aliases
    assert sea.look.shot_size == "极端全景" and carriage.camera == ("固定镜头",)
    assert carriage.emotion == "平静地出神" and wave.emotion == "恐惧" and wave.motion == "跑步"
    # characters, paths, continuity
    assert wade.subject.startswith("身穿白色厚重宇航服") and "{" not in reflection.subject
    assert carriage.image == EXAMPLE.parent / "assets" / "subway.png" and carriage.image.is_file()
    assert wave.continue_from == "wade" and wave.image_conditioned
    # every look category is used somewhere
    used = {name for shot in film.shots for name, value in vars(shot.look).items() if value}
    assert used == set(vars(Look()))
    assert [s.transition.type for s in film.shots] == ["dissolve", "cut", "fadeblack", "cut", "cut", "wipeleft", "cut"]
    assert [s.caption is not None for s in film.shots].count(True) == 4
    assert film.opening is not None and film.opening.duration == 2.5 and film.ending is not None
    assert film.output.fps == 24 and film.output.crf == 18 and film.output.fade_out == 1.0
    (track,) = film.soundtrack
    assert track.path == EXAMPLE.parent / "assets" / "soundtrack.wav" and track.path.is_file() and track.volume == 0.6
    assert film.profiles["quick"].text_backend == "ti2v-5b" and film.profiles["quick"].max_frames == 49
    assert all(s.negative == DEFAULT_NEGATIVE_PROMPT for s in film.shots)


CASCADE = """\
wanflow: 1
title: Cascade
lang: en
defaults:
  look: {lighting: [soft lighting, backlighting], style: watercolor, shot_size: wide shot}
  camera: [push in]
  motion: running
  negative: 模糊
  frames: 81
  transition: dissolve
  backend: ti2v-5b
  lora: [adapters/a.safetensors]
characters: {ann: a girl in a yellow raincoat}
output: {size: 1280x720, quality: low, fit: blur, burn_captions: true, interpolate: true}
profiles:
  draft: {steps: 10}
  mine: {text: t2v-a14b, image: i2v-a14b, size: 832x480, tiny: true}
scenes:
  - id: one
    title: First
    defaults:
      look: {lighting: {extend: [rim light]}, time_of_day: dusk}
      camera: []
      duration: 2
      lora: {extend: [{file: adapters/b.safetensors, scale: 0.5, expert: low}]}
    shots:
      - id: a
        subject: "{ann} says {{ann}} and {{ 7*7 }}"
        look: {style: null}
        transition: {type: wipeleft, duration: 1.5}
      - id: b
        lang: zh
        look: null
        motion: null
        negative: ""
        frames: 33
        lora: []
        trim: {start: 0.5, end: 1.5}
        hold: 1
        speed: 2
      - id: c
        negative: default
        transition: cut
        camera: static
        backend: null
"""


def test_cascade_nearest_wins_lists_replace_or_extend(tmp_path: Path) -> None:
    (tmp_path / "adapters").mkdir()
    for name in ("a", "b"):
        (tmp_path / "adapters" / f"{name}.safetensors").write_bytes(b"\0")
    spec = tmp_path / "cascade.yaml"
    spec.write_text(CASCADE, encoding="utf-8")
    film = load_film(spec)
    a, b, c = film.shots
    assert a.look == Look(
        lighting=("柔光", "背光", "边缘光"), time_of_day="黄昏", shot_size="全景"
    )  # style: null clears
    assert b.look == Look()
    assert c.look.style == "水彩画"
    assert a.camera == () and c.camera == ("固定镜头",)  # [] clears; one string is a one-item list
    assert (a.motion, b.motion) == ("跑步", None)
    assert (a.negative, b.negative, c.negative) == ("模糊", "", DEFAULT_NEGATIVE_PROMPT)
    assert (a.duration, a.frames, b.duration, b.frames) == (2.0, None, None, 33)  # the nearest level sets the length
    assert a.transition == Transition("wipeleft", 1.5) and b.transition == Transition("dissolve", 0.5)
    assert c.transition == Transition("cut", 0.0)
    assert (a.backend, c.backend) == ("ti2v-5b", None)
    assert [(lora.path.name, lora.scale, lora.expert) for lora in a.loras] == [
        ("a.safetensors", 1.0, "both"),
        ("b.safetensors", 0.5, "low"),
    ]
    assert b.loras == () and a.loras[0].path.is_absolute()
    assert a.subject == "a girl in a yellow raincoat says {ann} and {{ 7*7 }}"
    assert (a.lang, b.lang) == ("en", "zh")
    assert (b.trim_start, b.trim_end, b.hold, b.speed) == (0.5, 1.5, 1.0, 2.0)
    assert film.scenes[0].title == "First"
    out = film.output
    assert (out.width, out.height, out.crf, out.fit, out.burn_captions, out.interpolate) == (
        1280,
        720,
        28,
        "blur",
        True,
        True,
    )
    draft, mine = film.profiles["draft"], film.profiles["mine"]
    assert (draft.text_backend, draft.image_backend, draft.steps) == (
        "ti2v-5b",
        "ti2v-5b",
        10,
    )  # starts from the built-in
    assert (mine.text_backend, mine.image_backend, mine.width, mine.height, mine.tiny) == (
        "t2v-a14b",
        "i2v-a14b",
        832,
        480,
        True,
    )


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("{cooper}", "COOPER"),
        ("{cooper}与{brand}", "COOPER与BRAND"),
        ("{{cooper}}", "{cooper}"),
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("{% if x %}{{x}}{% endif %}", "{% if x %}{x}{% endif %}"),
        ("{ cooper }", "{ cooper }"),
        ("{}", "{}"),
        ("a } b {", "a } b {"),
    ],
)
def test_character_expansion_rule(text: str, expanded: str) -> None:
    assert expand_characters(text, {"cooper": "COOPER", "brand": "BRAND"}) == expanded


def test_anchors_merge_keys_and_dates_load(tmp_path: Path) -> None:
    spec = tmp_path / "film.yaml"
    spec.write_text(
        "wanflow: 1\ntitle: 2024-01-01\nx-look: &warm {color_tone: [warm colors], time_of_day: dusk}\n"
        "scenes:\n  - id: s\n    shots:\n      - {id: a, look: {<<: *warm, time_of_day: night time}}\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError) as caught:  # x-look is not a key of the format
        load_film(spec)
    assert [str(p) for p in caught.value.problems] == [f"{spec}:3:1: x-look: unknown key 'x-look'"]
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("x-look: &warm", "defaults: {look: &warm"), encoding="utf-8"
    )
    spec.write_text(spec.read_text(encoding="utf-8").replace("dusk}\n", "dusk}}\n"), encoding="utf-8")
    film = load_film(spec)
    assert film.title == "2024-01-01"
    assert film.shot("a").look == Look(color_tone=("暖色调",), time_of_day="夜晚")


def test_schema_is_valid_and_accepts_the_example_film() -> None:
    schema = film_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    film = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(film)) == []
    film["scenes"][0]["shots"][0]["lightng"] = ["柔光"]
    assert [e.validator for e in validator.iter_errors(film)] == ["additionalProperties"]
    shot_size = schema["$defs"]["LookSpec"]["properties"]["shot_size"]["anyOf"][0]
    assert "特写" in shot_size["anyOf"][0]["enum"] and "close-up" in shot_size["anyOf"][0]["enum"]
    assert "特写" in shot_size["examples"]
    json.dumps(schema)  # plain JSON
