"""Make the example film's assets: a start frame (a subway carriage at dusk) and a soundtrack.

Both are drawn and synthesised here, deterministically, so the repository carries no
third-party media. Run from anywhere: `python scripts/make_example_assets.py`.
"""

from __future__ import annotations

import math
import os
import tempfile
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ASSETS = Path(__file__).resolve().parent.parent / "specs" / "assets"
WIDTH, HEIGHT = 832, 480  # an official Wan2.2 480p size
SAMPLE_RATE = 22050
SECONDS = 40.0


def lerp(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def draw_subway_at_dusk() -> Image.Image:
    """A carriage seen down its length: dusk windows both sides, benches, poles, one passenger."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    cx, cy = WIDTH // 2, int(HEIGHT * 0.46)  # vanishing point

    # walls, ceiling and floor as perspective quads
    draw.rectangle([0, 0, WIDTH, HEIGHT], fill=(58, 60, 70))
    draw.polygon([(0, 0), (WIDTH, 0), (cx + 70, cy - 60), (cx - 70, cy - 60)], fill=(196, 198, 190))  # ceiling
    draw.polygon([(0, HEIGHT), (WIDTH, HEIGHT), (cx + 70, cy + 50), (cx - 70, cy + 50)], fill=(92, 86, 80))  # floor
    draw.rectangle([cx - 70, cy - 60, cx + 70, cy + 50], fill=(70, 72, 82))  # the far door
    draw.rectangle([cx - 30, cy - 45, cx + 30, cy + 20], fill=(250, 170, 110))  # its window, dusk

    # dusk windows on both walls: orange at the horizon to violet above, a dark skyline
    for side in (-1, 1):
        for k in range(3):
            near, far = 0.95 - k * 0.3, 0.95 - k * 0.3 - 0.22
            x0, x1 = cx + side * near * (WIDTH / 2), cx + side * far * (WIDTH / 2)
            top0, top1 = cy - near * 300, cy - far * 300
            bottom0, bottom1 = cy - near * 40, cy - far * 40
            quad = [(x0, top0), (x1, top1), (x1, bottom1), (x0, bottom0)]
            sky = Image.new("RGB", (WIDTH, HEIGHT))
            sky_draw = ImageDraw.Draw(sky)
            for row in range(HEIGHT):
                t = min(1.0, max(0.0, (row - (cy - 300)) / 300))
                sky_draw.line([(0, row), (WIDTH, row)], fill=lerp((72, 52, 120), (252, 150, 84), t))
            for b in range(14):  # city skyline
                bx = (b * 67 + 13 * k) % WIDTH
                bh = 30 + (b * 37 + 11 * k) % 70
                sky_draw.rectangle([bx, cy - 40 - bh * near, bx + 40, HEIGHT], fill=(34, 30, 52))
            mask = Image.new("L", (WIDTH, HEIGHT))
            ImageDraw.Draw(mask).polygon(quad, fill=255)
            image.paste(sky, (0, 0), mask)
            draw.line(quad + [quad[0]], fill=(150, 152, 160), width=4)

    # benches along both walls
    for side in (-1, 1):
        draw.polygon(
            [
                (cx + side * WIDTH * 0.5, HEIGHT * 0.78),
                (cx + side * 90, cy + 30),
                (cx + side * 80, cy + 45),
                (cx + side * WIDTH * 0.5, HEIGHT),
            ],
            fill=(44, 96, 128),
        )
    # fluorescent strips on the ceiling
    for side in (-1, 1):
        draw.line([(cx + side * 260, 0), (cx + side * 40, cy - 62)], fill=(255, 255, 236), width=10)
    # poles and hand straps
    for x in (WIDTH * 0.22, WIDTH * 0.78):
        draw.rectangle([x - 5, 0, x + 5, HEIGHT], fill=(208, 210, 214))
    for i in range(7):
        x = WIDTH * 0.2 + i * WIDTH * 0.1
        draw.line([(x, 34), (x, 72)], fill=(120, 120, 126), width=3)
        draw.ellipse([x - 10, 70, x + 10, 90], outline=(235, 235, 240), width=4)

    # the passenger: a woman sitting still on the right-hand bench, lit warm by the dusk
    px, seat = int(WIDTH * 0.75), int(HEIGHT * 0.64)
    draw.rectangle([px - 86, seat - 6, px + 10, seat + 26], fill=(40, 40, 56))  # lap, towards the aisle
    draw.rectangle([px - 86, seat + 10, px - 58, seat + 110], fill=(40, 40, 56))  # shins
    draw.ellipse([px - 96, seat + 100, px - 52, seat + 118], fill=(24, 22, 26))  # shoes
    draw.rounded_rectangle([px - 44, seat - 110, px + 40, seat + 12], radius=24, fill=(150, 46, 52))  # coat
    draw.rounded_rectangle([px - 70, seat - 40, px - 30, seat - 4], radius=10, fill=(120, 34, 40))  # hands on lap
    draw.ellipse([px - 26, seat - 172, px + 26, seat - 112], fill=(232, 188, 160))  # face
    draw.chord([px - 30, seat - 180, px + 30, seat - 104], 180, 360, fill=(30, 24, 28))  # hair
    draw.rectangle([px - 30, seat - 144, px - 22, seat - 92], fill=(30, 24, 28))
    draw.rectangle([px + 22, seat - 144, px + 30, seat - 92], fill=(30, 24, 28))

    warm = Image.new("RGB", (WIDTH, HEIGHT), (255, 150, 80))
    image = Image.blend(image, warm, 0.12)  # the dusk colour over everything
    return image.filter(ImageFilter.GaussianBlur(0.8))


def ambient_chord() -> np.ndarray:
    """A slow A-minor(add9) pad: detuned sine pairs, a gentle swell, a long fade out."""
    t = np.arange(int(SAMPLE_RATE * SECONDS)) / SAMPLE_RATE
    notes = (110.0, 164.81, 220.0, 261.63, 329.63, 493.88)
    signal = np.zeros_like(t)
    for index, frequency in enumerate(notes):
        swell = 0.6 + 0.4 * np.sin(2 * math.pi * t / (9.0 + 2.3 * index) + index)  # each voice breathes
        for detune in (-0.6, 0.6):
            signal += swell * np.sin(2 * math.pi * (frequency + detune) * t) / (1 + index * 0.35)
    envelope = np.minimum(1.0, t / 4.0) * np.minimum(1.0, (SECONDS - t) / 8.0)
    signal *= envelope
    return signal / np.max(np.abs(signal)) * 0.5


def write_wav(samples: np.ndarray, path: Path) -> None:
    pcm = np.round(samples * 32767).astype("<i2")
    temporary = path.with_name(f".{path.name}.tmp")
    with wave.open(str(temporary), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(SAMPLE_RATE)
        stream.writeframes(pcm.tobytes())
    os.replace(temporary, path)


def save_png(image: Image.Image, path: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(handle)
    image.save(temporary, optimize=True)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    save_png(draw_subway_at_dusk(), ASSETS / "subway.png")
    write_wav(ambient_chord(), ASSETS / "soundtrack.wav")
    for name in ("subway.png", "soundtrack.wav"):
        print(f"wrote {ASSETS / name} ({(ASSETS / name).stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
