"""A storyboard panel for a shot with no start picture: its words and framing, drawn with Pillow.

What a story artist would pin on the wall: the shot's id, its framing (shot size, angle, lens),
what is seen (subject, scene, action, motion, emotion), the look and the camera, in the shot's
language, over a sketch of the framing: a figure at the size the shot size gives it (a
close-up's face fills the frame, an extreme wide shot's figure is small), one per person the
shot type counts, placed by the composition. The paper's colour follows the time of day.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from wanflow.film import Lang, Look, Shot
from wanflow.grammar.vocabulary import Vocabulary
from wanflow.media.cards import wrap_text
from wanflow.media.fonts import load_font, load_label_font

FRAMING_FIELDS = ("shot_size", "angle", "lens")  # the header's words; the other look fields are the footer's
LABELS: dict[Lang, dict[str, str]] = {
    "zh": {
        "subject": "主体",
        "scene": "场景",
        "action": "动作",
        "motion": "运动",
        "emotion": "情绪",
        "prompt": "提示词",
        "camera": "运镜",
        "colon": "：",
        "still": "固定镜头",
    },
    "en": {
        "subject": "Subject",
        "scene": "Scene",
        "action": "Action",
        "motion": "Motion",
        "emotion": "Emotion",
        "prompt": "Prompt",
        "camera": "Camera",
        "colon": ": ",
        "still": "fixed camera",
    },
}
# (paper, ink) by time of day; daylight paper otherwise.
PAPERS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "黄昏": ((236, 204, 158), (62, 38, 22)),
    "日落": ((238, 196, 150), (62, 34, 20)),
    "黎明": ((228, 214, 224), (48, 40, 64)),
    "日出": ((240, 218, 196), (58, 40, 32)),
    "夜晚": ((30, 36, 60), (222, 226, 238)),
}
DAY_PAPER = ((236, 233, 224), (36, 38, 46))
# A standing figure's height in frame heights at each shot size (7.5 heads tall).
FIGURE_HEIGHT: dict[str, float] = {
    "极端全景": 0.16,
    "全景": 0.78,
    "广角": 0.5,
    "中全景": 1.25,
    "中景": 1.8,
    "中近景": 2.5,
    "近景": 3.4,
    "特写": 7.5,
}
PEOPLE = {"干净的单人镜头": 1, "双人镜头": 2, "三人镜头": 3, "群像镜头": 5}
PLACE = {"左侧重构图": 0.34, "右侧重构图": 0.66}
SAFE = 0.12  # the margin the words keep from each edge: a push in (1.3x) ends with them in view


@dataclass(frozen=True)
class Panel:
    """A panel's words, already in the shot's language."""

    shot_id: str
    framing: str  # shot size, angle and lens
    lines: tuple[str, ...]  # what is seen, each "label: text"
    footer: tuple[str, ...]  # the look's other terms; the camera
    time_of_day: str | None = None  # canonical term: the paper's colour
    figure: float | None = None  # a figure's height in frame heights; None: no figure
    people: int = 1
    place: float = 0.5  # the figures' centre, a share of the frame's width


def shot_panel(shot: Shot, vocabulary: Vocabulary) -> Panel:
    """The shot's panel: its fields, their terms named in its language."""
    labels = LABELS[shot.lang]
    look = {name: _terms(getattr(shot.look, name)) for name in (f.name for f in dataclasses.fields(Look))}

    def named(category: str, values: tuple[str, ...]) -> list[str]:
        return [_term_text(vocabulary, category, value, shot.lang) for value in values]

    framing = [text for name in FRAMING_FIELDS for text in named(name, look[name])]
    others = [text for name, values in look.items() if name not in FRAMING_FIELDS for text in named(name, values)]
    seen = [
        (key, value)
        for key, value in (("subject", shot.subject), ("scene", shot.scene), ("action", shot.action))
        if value
    ]
    seen += [
        (key, _term_text(vocabulary, key, value, shot.lang))
        for key, value in (("motion", shot.motion), ("emotion", shot.emotion))
        if value
    ]
    if not seen and shot.prompt:
        seen = [("prompt", shot.prompt)]
    camera = named("camera", shot.camera) or [labels["still"]]
    size = look["shot_size"][0] if look["shot_size"] else None
    kind = look["shot_type"][0] if look["shot_type"] else None
    composition = look["composition"][0] if look["composition"] else None
    return Panel(
        shot_id=shot.id,
        framing=" · ".join(framing),
        lines=tuple(labels[key] + labels["colon"] + value for key, value in seen),
        footer=tuple(
            part for part in (" · ".join(others), labels["camera"] + labels["colon"] + " · ".join(camera)) if part
        ),
        time_of_day=look["time_of_day"][0] if look["time_of_day"] else None,
        figure=FIGURE_HEIGHT.get(size or "", 0.78) if shot.subject else None,
        people=PEOPLE.get(kind or "", 1),
        place=PLACE.get(composition or "", 0.5),
    )


def draw_panel(panel: Panel, width: int, height: int) -> Image.Image:
    """The panel at width x height, in the film's font (it draws Chinese and Latin alike)."""
    paper, ink = PAPERS.get(panel.time_of_day or "", DAY_PAPER)
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    if panel.figure is not None:
        _figures(draw, panel, width, height, _mix(paper, ink, 0.16))
    x, y = round(width * SAFE), round(height * SAFE)  # a push in's last frame still shows the words whole
    title = _font(max(8, height // 12), panel.shot_id)
    draw.text((x, y), panel.shot_id, font=title, fill=ink)
    header = max(8, height // 20)
    if panel.framing:
        framing = _font(header, panel.framing)
        draw.text((width - x, y + title.size - header), panel.framing, font=framing, fill=ink, anchor="ra")
    top = y + int(title.size * 1.35)
    draw.line((x, top, width - x, top), fill=_mix(paper, ink, 0.5), width=max(1, height // 180))
    footer_font = _font(max(7, height // 24), " ".join(panel.footer))
    step = int(footer_font.size * 1.3)
    footer = [line for part in panel.footer for line in wrap_text(part, footer_font, width - 2 * x)][-3:]
    footer_top = height - y - len(footer) * step
    for index, line in enumerate(footer):
        draw.text((x, footer_top + index * step), line, font=footer_font, fill=_mix(paper, ink, 0.75))
    _body(draw, panel, (x, top + y // 4, width - x, footer_top - y // 4), ink)
    return image


def _body(draw: ImageDraw.ImageDraw, panel: Panel, box: tuple[int, int, int, int], ink: tuple[int, int, int]) -> None:
    """What is seen, in the largest size that fits the box (down to a floor, then cut short)."""
    left, top, right, bottom = box
    texts = panel.lines
    size = max(8, (bottom - top) // 6)
    while True:
        font = _font(size, "".join(texts))
        lines = [line for text in texts for line in wrap_text(text, font, right - left)]
        step = int(font.size * 1.3)
        if len(lines) * step <= bottom - top or size <= 8:
            break
        size -= 1
    fits = max(0, (bottom - top) // step)
    if len(lines) > fits:
        lines = lines[:fits]
        if lines:
            lines[-1] = lines[-1][:-1] + "…"
    for index, line in enumerate(lines):
        draw.text((left, top + index * step), line, font=font, fill=ink)


def _figures(draw: ImageDraw.ImageDraw, panel: Panel, width: int, height: int, shade: tuple[int, int, int]) -> None:
    """Simple standing figures, as tall as the shot size makes them, side by side."""
    tall = (panel.figure or 0.78) * height
    head = tall / 7.5
    top = height * 0.86 - tall if tall <= height * 0.8 else height * 0.12
    spread = head * 2.6
    first = panel.place * width - spread * (panel.people - 1) / 2
    for person in range(panel.people):
        x = first + person * spread
        draw.ellipse((x - head * 0.4, top, x + head * 0.4, top + head), fill=shade)
        draw.rounded_rectangle((x - head, top + head * 1.1, x + head, top + head * 4.0), radius=head * 0.4, fill=shade)
        for side in (-1, 1):
            leg = (
                x + side * head * 0.5 - head * 0.35,
                top + head * 3.9,
                x + side * head * 0.5 + head * 0.35,
                top + tall,
            )
            draw.rectangle((min(leg[0], leg[2]), leg[1], max(leg[0], leg[2]), leg[3]), fill=shade)


def _terms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _term_text(vocabulary: Vocabulary, category: str, value: str, lang: Lang) -> str:
    """A canonical term as the dictionary names it in `lang`; plain words as written."""
    if lang == "zh":
        return value
    try:
        return vocabulary.term(category, value).en
    except (KeyError, ValueError):
        return value


def _cjk(text: str) -> bool:
    return any(ord(char) >= 0x2E80 for char in text)


def _font(size: int, text: str) -> ImageFont.FreeTypeFont:
    """The film's Chinese font for text that needs it; any font for Latin text."""
    return load_font(size) if _cjk(text) else load_label_font(size)


def _mix(paper: tuple[int, int, int], ink: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(p + (i - p) * amount) for p, i in zip(paper, ink, strict=True))  # type: ignore[return-value]
