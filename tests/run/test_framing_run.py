"""The plan's framing is what renders: a portrait start image and its continuation, on the tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from wanflow.backends.pool import ModelPool
from wanflow.cache import ArtifactStore
from wanflow.media.ffmpeg import probe
from wanflow.plan import make_plan
from wanflow.run.phases import encode_prompts, render_shot
from wanflow.storyboard import load_film
from wanflow.take import RenderSettings

SPEC = """\
wanflow: 1
title: Framing run
lang: en
profiles:
  small: { text: t2v-a14b, image: i2v-a14b, size: 96x64, steps: 2, tiny: true }
defaults: { duration: 0.3 }
scenes:
  - id: one
    shots:
      - id: tall
        subject: a lighthouse keeper
        action: climbs the stairs
        image: tall.png
      - id: onward
        subject: the keeper
        action: keeps climbing
        continue_from: tall
"""


def test_clips_render_at_the_sizes_the_plan_framed(tmp_path: Path, tiny_models_root: Path) -> None:
    Image.fromarray(np.full((520, 300, 3), 120, dtype=np.uint8)).save(tmp_path / "tall.png")
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    plan = make_plan(load_film(spec), "small")
    plan.check()
    planned = {job.shot_id: (job.settings.width, job.settings.height) for job in plan.jobs}
    assert planned == {"tall": (48, 96), "onward": (48, 96)}  # portrait, within 96x64's area

    store = ArtifactStore(tmp_path / "cache")
    pool = ModelPool(RenderSettings())
    encode_prompts(list(plan.jobs), store, pool)
    tall = render_shot(plan.job("tall"), store, pool, upstream_clip=None)
    onward = render_shot(plan.job("onward"), store, pool, upstream_clip=tall.clip)
    for work, job in ((tall, plan.job("tall")), (onward, plan.job("onward"))):
        clip = probe(work.clip)
        assert (clip.width, clip.height, clip.frames) == (job.settings.width, job.settings.height, job.settings.frames)
        assert store.get_file("clips", job.keys.clip) == work.clip  # the plan's key is the run's
