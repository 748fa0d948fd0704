"""The animatic's clips: camera moves measured on the decoded frames, exact starts, CJK panels."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from wanflow.catalog import BACKENDS
from wanflow.film import Look, Shot
from wanflow.fit import fit_image
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.media.animatic import AnimaticClip, draw_frames, start_picture, write_animatic
from wanflow.media.animatic_moves import CAMERA_TERMS, PUSH, View, camera_path, starting_view
from wanflow.media.animatic_panel import draw_panel, shot_panel
from wanflow.media.ffmpeg import probe, read_frames

ROOT = Path(__file__).resolve().parents[2]
SIZE = (256, 144)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(255.0**2 / error)


def sample_picture() -> Image.Image:
    """Shapes and edges to measure a move by: a gradient with discs and bars."""
    width, height = SIZE
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    pixels = np.stack([x * 200 + 30, y * 200 + 30, (1 - x) * 160 + 40], axis=-1).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for index in range(7):
        cx, cy = 20 + index * 36, 30 + (index * 53) % 90
        draw.ellipse((cx - 12, cy - 12, cx + 12, cy + 12), fill=(255 - index * 30, index * 35, 90))
        draw.rectangle((cx - 2, 0, cx + 2, height), fill=(index * 30, 20, 200 - index * 20))
    return image


def zoomed(frame: np.ndarray, zoom: float) -> np.ndarray:
    """The frame magnified `zoom` times about its centre, as a camera pushing in sees it."""
    height, width = frame.shape[:2]
    crop_w, crop_h = width / zoom, height / zoom
    box = ((width - crop_w) / 2, (height - crop_h) / 2, (width + crop_w) / 2, (height + crop_h) / 2)
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR, box=box))


def test_a_push_in_ends_on_a_measured_zoom_of_its_first_frame(tmp_path: Path) -> None:
    clip = AnimaticClip(*SIZE, frames=17, fps=16, camera=("镜头推进",))
    write_animatic(sample_picture(), clip, tmp_path / "push.mp4")
    info = probe(tmp_path / "push.mp4")
    assert (info.frames, info.fps, info.width, info.height) == (17, 16, *SIZE)
    first, last = read_frames(tmp_path / "push.mp4", [0, -1])
    scores = {round(z, 2): psnr(zoomed(first, z), last) for z in np.arange(1.0, 1.61, 0.02)}
    measured = max(scores, key=scores.__getitem__)
    assert abs(measured - PUSH) <= 0.02, scores
    assert scores[measured] >= 30
    assert psnr(first, last) < 20  # it did move


def test_a_start_pictures_first_frame_is_the_framed_picture(tmp_path: Path) -> None:
    source = Image.open(ROOT / "specs" / "assets" / "subway.png")
    framed = fit_image(source, 256, 144, "official", BACKENDS["i2v-a14b"])
    assert np.array_equal(
        np.asarray(framed),
        np.asarray(
            start_picture((256, 144), image=ROOT / "specs" / "assets" / "subway.png", spec=BACKENDS["i2v-a14b"])
        ),
    )
    write_animatic(framed, AnimaticClip(256, 144, frames=9, fps=16, camera=("镜头向左移动",)), tmp_path / "c.mp4")
    assert psnr(read_frames(tmp_path / "c.mp4", [0])[0], np.asarray(framed)) >= 35


def test_a_continuation_starts_exactly_on_its_upstreams_last_frame(tmp_path: Path) -> None:
    write_animatic(sample_picture(), AnimaticClip(*SIZE, 13, 16, camera=("手持镜头",), seed=5), tmp_path / "up.mp4")
    last = read_frames(tmp_path / "up.mp4", [-1])[0]
    picture = start_picture(SIZE, upstream_clip=tmp_path / "up.mp4", fit="official", spec=BACKENDS["i2v-a14b"])
    write_animatic(picture, AnimaticClip(*SIZE, 9, 16, camera=("镜头拉远",)), tmp_path / "down.mp4")
    assert psnr(read_frames(tmp_path / "down.mp4", [0])[0], last) >= 40


def test_every_official_camera_movement_is_drawn_and_starts_still() -> None:
    vocabulary = load_vocabulary(packaged_grammar_dir())
    official = {term.zh for term in vocabulary.terms("camera")}
    assert official <= set(CAMERA_TERMS)
    for term in CAMERA_TERMS:
        start = camera_path((term,), seed=3)(0.0, 0.0)
        assert start == pytest.approx(View()) or _close(start, View()), term
        end = camera_path((term,), seed=3)(1.0, 3.0)
        assert term == "固定镜头" or not _close(end, View()), f"{term} does not move"


def _close(a: View, b: View) -> bool:
    return all(abs(p - q) < 1e-9 for p, q in zip((a.zoom, a.x, a.y, a.turn), (b.zoom, b.x, b.y, b.turn), strict=True))


def test_compound_plays_the_listed_moves_one_after_another() -> None:
    path = camera_path(("复合运镜", "镜头推进", "镜头向右移动"))
    halfway = path(0.5, 1.0)
    assert halfway.zoom == pytest.approx(PUSH) and halfway.x == pytest.approx(0.0)  # pushed in, not yet panned
    assert path(1.0, 2.0).x > 0
    together = camera_path(("镜头推进", "镜头向右移动"))(0.5, 1.0)
    assert together.x > 0 and 1.0 < together.zoom  # without 复合运镜 the moves play at once


def test_a_closer_shot_size_starts_tighter_on_the_same_picture() -> None:
    picture = sample_picture()
    wide = draw_frames(picture, AnimaticClip(*SIZE, 1, 16, start=starting_view("全景")))[0]
    close = draw_frames(picture, AnimaticClip(*SIZE, 1, 16, start=starting_view("近景")))[0]
    assert np.array_equal(wide, np.asarray(picture))
    assert psnr(close, zoomed(wide, 1.5)) >= 30
    assert starting_view("特写").zoom > starting_view("中景").zoom > starting_view("全景").zoom
    take = starting_view("全景", variation=7)
    assert take != starting_view("全景") and abs(take.x) <= 0.5 - 0.5 / take.zoom  # in the picture


def test_an_end_picture_is_reached_at_its_frame() -> None:
    start, end = sample_picture(), Image.new("RGB", SIZE, (200, 40, 40))
    frames = draw_frames(start, AnimaticClip(*SIZE, 9, 16, end_frame=6), end=end)
    assert np.array_equal(frames[0], np.asarray(start))
    assert np.array_equal(frames[6], np.asarray(end)) and np.array_equal(frames[8], np.asarray(end))
    assert 0 < psnr(frames[5], np.asarray(end)) < math.inf


def _shot(**fields: object) -> Shot:
    return Shot(id="wade", scene_id="s", index=0, line=1, **fields)  # type: ignore[arg-type]


def test_a_panel_draws_chinese_and_names_terms_in_the_films_language() -> None:
    vocabulary = load_vocabulary(packaged_grammar_dir())
    look = Look(shot_size="特写", angle="航拍", time_of_day="夜晚")
    zh = shot_panel(
        _shot(lang="zh", subject="米勒星球", action="涉水前行", look=look, camera=("镜头推进",)), vocabulary
    )
    assert zh.framing == "特写 · 航拍" and zh.lines[0] == "主体：米勒星球" and "运镜：镜头推进" in zh.footer
    en = shot_panel(_shot(lang="en", subject="a rider", look=look, camera=("镜头推进",)), vocabulary)
    assert en.framing == "extreme close-up · aerial shot" and "Camera: camera pushes in" in en.footer
    # A font without Chinese glyphs draws every character as the same box: two panels whose
    # texts differ only in which characters they hold would then be the same picture.
    one = np.asarray(draw_panel(zh, 320, 180))
    other = np.asarray(
        draw_panel(
            shot_panel(
                _shot(lang="zh", subject="黄昏地铁", action="涉水前行", look=look, camera=("镜头推进",)), vocabulary
            ),
            320,
            180,
        )
    )
    assert not np.array_equal(one, other)
    assert one.shape == (180, 320, 3) and tuple(one[2, 160]) == (30, 36, 60)  # night paper
