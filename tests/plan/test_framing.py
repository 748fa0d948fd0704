"""`fit:` of a start image: the official Wan2.2 framing, cover and contain, in the plan and its keys."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from wanflow.catalog import BACKENDS
from wanflow.plan import make_plan
from wanflow.plan.framing import best_output_size, framed_size, max_area_size, official_size
from wanflow.storyboard import load_film


def official_best_output_size(w, h, dw, dh, expected_area):
    """wan/utils/utils.py of the official Wan2.2 repository, as written there (TI2V-5B)."""
    ratio = w / h
    ow = (expected_area * ratio) ** 0.5
    oh = expected_area / ow
    ow1 = int(ow // dw * dw)
    oh1 = int(expected_area / ow1 // dh * dh)
    ratio1 = ow1 / oh1
    oh2 = int(oh // dh * dh)
    ow2 = int(expected_area / oh2 // dw * dw)
    ratio2 = ow2 / oh2
    if max(ratio / ratio1, ratio1 / ratio) < max(ratio / ratio2, ratio2 / ratio):
        return ow1, oh1
    return ow2, oh2


def official_image2video_size(w, h, max_area, vae_stride=(4, 8, 8), patch_size=(1, 2, 2)):
    """wan/image2video.py of the official Wan2.2 repository (I2V-A14B): (width, height)."""
    aspect_ratio = h / w
    lat_h = round(np.sqrt(max_area * aspect_ratio) // vae_stride[1] // patch_size[1] * patch_size[1])
    lat_w = round(np.sqrt(max_area / aspect_ratio) // vae_stride[2] // patch_size[2] * patch_size[2])
    return lat_w * vae_stride[2], lat_h * vae_stride[1]


PICTURES = [(w, h) for w, h in itertools.product(range(96, 2400, 97), range(64, 2400, 89)) if max(w / h, h / w) <= 4]
AREAS = [1280 * 704, 1280 * 720, 832 * 480, 256 * 144, 128 * 80]


def test_the_two_official_rules_give_the_official_sizes() -> None:
    for (w, h), area in itertools.product(PICTURES, AREAS):
        assert best_output_size(w, h, 32, area) == official_best_output_size(w, h, 32, 32, area), (w, h, area)
        assert max_area_size(w, h, 16, area) == official_image2video_size(w, h, area), (w, h, area)


def test_each_model_frames_by_its_own_official_script() -> None:
    # a 16:9 photo on TI2V-5B's 1280x704 area: the official code renders 1248x704, not 1280x704
    assert official_size(BACKENDS["ti2v-5b"], (1920, 1080), 1280 * 704) == (1248, 704)
    assert official_size(BACKENDS["i2v-a14b"], (1920, 1080), 1280 * 720) == (1280, 720)
    assert official_size(BACKENDS["i2v-a14b"], (1080, 1920), 1280 * 720) == (720, 1280)
    assert official_size(BACKENDS["i2v-a14b"], (832, 480), 1280 * 720) == (1248, 720)
    # a square: both roundings are as far from 1:1, and the official code then takes height-first
    assert official_size(BACKENDS["ti2v-5b"], (1000, 1000), 1280 * 704) == (960, 928)


def test_fit_cover_and_contain_keep_the_profile_size_and_continuations_keep_their_upstreams() -> None:
    spec = BACKENDS["i2v-a14b"]
    portrait = (480, 832)
    assert framed_size(spec, "official", (1280, 720), portrait, continuation=False) == (720, 1248)
    assert framed_size(spec, "cover", (1280, 720), portrait, continuation=False) == (1280, 720)
    assert framed_size(spec, "contain", (1280, 720), portrait, continuation=False) == (1280, 720)
    assert framed_size(spec, "official", (1280, 720), (720, 1248), continuation=True) == (720, 1248)
    # an upstream the model cannot render at (TI2V-5B's 704 is a multiple of 16, 720 is not of 32)
    assert framed_size(BACKENDS["ti2v-5b"], "official", (1280, 704), (1280, 720), continuation=True) == (1248, 704)
    assert framed_size(spec, "official", (256, 144), (10000, 16), continuation=False) is None  # 0 rows high


SPEC = """\
wanflow: 1
title: Framing
lang: en
profiles:
  small: {{ text: t2v-a14b, image: i2v-a14b, size: 256x144, steps: 2, tiny: true }}
  small5b: {{ backend: ti2v-5b, size: 256x160, steps: 2, tiny: true }}
defaults: {{ duration: 0.5 {film_fit} }}
scenes:
  - id: one
    defaults: {{ {scene_fit} }}
    shots:
      - id: tall
        subject: a lighthouse keeper
        action: climbs the stairs
        image: tall.png
        {shot_fit}
      - id: onward
        subject: the keeper
        action: keeps climbing
        continue_from: tall
      - id: text
        subject: the sea
        action: waves roll in
"""


def storyboard(folder: Path, film_fit: str = "", scene_fit: str = "", shot_fit: str = "") -> Path:
    Image.fromarray(np.full((832, 480, 3), 90, dtype=np.uint8)).save(folder / "tall.png")
    spec = folder / "film.yaml"
    spec.write_text(SPEC.format(film_fit=film_fit, scene_fit=scene_fit, shot_fit=shot_fit), encoding="utf-8")
    return spec


def sizes(plan) -> dict[str, tuple[int, int]]:
    return {job.shot_id: (job.settings.width, job.settings.height) for job in plan.jobs}


def test_the_plan_frames_a_start_image_officially_by_default(tmp_path: Path, tiny_models_root: Path) -> None:
    plan = make_plan(load_film(storyboard(tmp_path)), "small")
    plan.check()
    # 480x832 within 256x144's area at I2V-A14B's stride of 16: 144x240; the continuation keeps it
    assert official_image2video_size(480, 832, 256 * 144) == (144, 240)
    assert sizes(plan) == {"tall": (144, 240), "onward": (144, 240), "text": (256, 144)}
    assert (plan.width, plan.height) == (256, 144)  # the film keeps the profile's size
    assert any("renders at 144x240" in note for note in plan.job("tall").notes)
    plan5b = make_plan(load_film(storyboard(tmp_path)), "small5b")
    assert sizes(plan5b)["tall"] == official_best_output_size(480, 832, 32, 32, 256 * 160) == (160, 256)


def test_the_nearest_fit_wins_and_changes_the_keys(tmp_path: Path, tiny_models_root: Path) -> None:
    official = make_plan(load_film(storyboard(tmp_path)), "small")
    cover = make_plan(load_film(storyboard(tmp_path, film_fit=", fit: cover")), "small")
    assert sizes(cover) == {"tall": (256, 144), "onward": (256, 144), "text": (256, 144)}
    contain = make_plan(load_film(storyboard(tmp_path, film_fit=", fit: cover", scene_fit="fit: contain")), "small")
    assert contain.job("tall").shot.fit == "contain" and sizes(contain)["tall"] == (256, 144)
    shot_level = storyboard(tmp_path, film_fit=", fit: cover", scene_fit="fit: contain", shot_fit="fit: official")
    nearest = make_plan(load_film(shot_level), "small")
    assert nearest.job("tall").shot.fit == "official" and nearest.job("onward").shot.fit == "contain"
    assert sizes(nearest)["tall"] == (144, 240)

    latents = {name: plan.job("tall").keys.latents for name, plan in (("o", official), ("cv", cover), ("ct", contain))}
    assert len(set(latents.values())) == 3  # the framing changes the pixels, so it changes the key
    assert official.job("text").keys == cover.job("text").keys  # a text shot has no start image to fit


def test_an_image_too_thin_to_frame_is_a_plan_problem(tmp_path: Path, tiny_models_root: Path) -> None:
    spec = storyboard(tmp_path)
    Image.new("RGB", (4000, 10)).save(tmp_path / "tall.png")
    plan = make_plan(load_film(spec), "small")
    [problem] = plan.problems
    assert problem.field == "shots.tall.fit" and problem.file == str(spec)
    assert "4000x10" in problem.message and "fit: cover" in problem.message
