"""On-screen text drawn with Pillow: title/end cards and burned-in caption overlays.

Drawing text ourselves (instead of ffmpeg's drawtext/libass) keeps one font lookup, one
wrapping rule for Chinese and Latin text, and no fontconfig surprises inside ffmpeg.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from wanflow.film import TitleCard
from wanflow.media.fonts import load_font


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Greedy wrap: Latin breaks at spaces, CJK may break between any two characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in _tokens(paragraph):
            candidate = line + token
            if line and font.getlength(candidate.rstrip()) > max_width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line = candidate
        lines.append(line.rstrip())
    return lines


def _tokens(text: str) -> list[str]:
    """Words with their trailing space, and every CJK character on its own."""
    tokens: list[str] = []
    word = ""
    for char in text:
        if ord(char) >= 0x2E80:  # CJK and fullwidth blocks
            if word:
                tokens.append(word)
                word = ""
            tokens.append(char)
        else:
            word += char
            if char == " ":
                tokens.append(word)
                word = ""
    if word:
        tokens.append(word)
    return tokens


def _draw_block(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    font: ImageFont.FreeTypeFont,
    *,
    centre_x: int,
    top: int,
    fill: tuple[int, ...],
    stroke: int = 0,
    stroke_fill: tuple[int, ...] = (0, 0, 0, 255),
) -> int:
    """Draw centred lines from `top`; returns the y below the block."""
    line_height = int(font.size * 1.3)
    for index, line in enumerate(lines):
        draw.text(
            (centre_x, top + index * line_height),
            line,
            font=font,
            fill=fill,
            anchor="ma",
            stroke_width=stroke,
            stroke_fill=stroke_fill,
        )
    return top + len(lines) * line_height


def block_height(lines: list[str], font: ImageFont.FreeTypeFont) -> int:
    return len(lines) * int(font.size * 1.3)


def render_title_card(card: TitleCard, width: int, height: int) -> Image.Image:
    """White centred title (and smaller subtitle) on black, sized to the film."""
    image = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    title_font = load_font(max(10, height // 9))
    sub_font = load_font(max(8, height // 18))
    max_width = int(width * 0.86)
    title_lines = wrap_text(card.text, title_font, max_width)
    sub_lines = wrap_text(card.subtitle, sub_font, max_width) if card.subtitle else []
    gap = sub_font.size // 2 if sub_lines else 0
    total = block_height(title_lines, title_font) + gap + block_height(sub_lines, sub_font)
    bottom = _draw_block(
        draw, title_lines, title_font, centre_x=width // 2, top=(height - total) // 2, fill=(255, 255, 255)
    )
    _draw_block(draw, sub_lines, sub_font, centre_x=width // 2, top=bottom + gap, fill=(200, 200, 200))
    return image


def render_caption_overlay(text: str, width: int, height: int) -> Image.Image:
    """A transparent RGBA frame with the caption near the bottom, outlined for any background."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    font = load_font(max(8, height // 16))
    lines = wrap_text(text, font, int(width * 0.9))
    top = height - int(height * 0.06) - block_height(lines, font)
    _draw_block(
        draw,
        lines,
        font,
        centre_x=width // 2,
        top=top,
        fill=(255, 255, 255, 255),
        stroke=max(1, font.size // 12),
        stroke_fill=(0, 0, 0, 255),
    )
    return image
