"""Shots with both ends fixed, end to end on the tiny models: `end_at` chains two shots, `end_image` ends a continuation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from wanflow.cache import ArtifactStore
from wanflow.media.ffmpeg import read_frames
from wanflow.plan import make_plan
from wanflow.run.flow import RunSummary, render_film
from wanflow.run.outputs import write_run_json
from wanflow.storyboard import load_film

SPEC = """\
wanflow: 1
title: Both ends
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 64x48, steps: 2, tiny: true }
defaults: { duration: 0.3 }
scenes:
  - id: one
    shots:
      - id: door
        subject: a keeper
        action: opens the door
        image: start.png
        end_at: hall
      - id: hall
        subject: a long hall
        action: lamps light up one by one
      - id: stairs
        subject: the keeper
        action: climbs to the top
        continue_from: hall
        end_image: panel.png
"""


def test_end_at_chains_two_shots_and_every_end_frame_shows(
    prefect_server, tiny_models_root: Path, tmp_path: Path
) -> None:
    Image.fromarray(np.full((48, 64, 3), 60, dtype=np.uint8)).save(tmp_path / "start.png")
    Image.fromarray(np.full((48, 64, 3), 220, dtype=np.uint8)).save(tmp_path / "panel.png")
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    state = render_film(spec=str(spec), profile="test", out=str(out), return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    assert {shot.shot_id: shot.status for shot in summary.shots} == dict.fromkeys(
        ("door", "hall", "stairs"), "rendered"
    )
    hall, door = (next(s for s in summary.shots if s.shot_id == name) for name in ("hall", "door"))
    assert hall.ended is not None and door.started is not None and hall.ended <= door.started  # door waited for hall
    assert summary.film is not None

    # door ended on hall's rendered first frame: the very picture the generator was given
    plan = make_plan(load_film(spec), "test")
    store = ArtifactStore(tmp_path / ".wanflow" / "cache")
    end_png = store.scratch_dir() / f"{plan.job('door').keys.latents}-end.png"
    hall_first = read_frames(store.get_file("clips", plan.job("hall").keys.clip), [0])[0]
    with Image.open(end_png) as picture:
        assert np.array_equal(np.asarray(picture.convert("RGB")), hall_first)

    write_run_json(out, summary)
    ends = {shot["shot_id"]: shot["end_frame"] for shot in json.loads((out / "run.json").read_text("utf-8"))["shots"]}
    assert ends == {"door": "first frame of hall", "hall": None, "stairs": str(tmp_path / "panel.png")}
    manifest = {shot["id"]: shot for shot in json.loads((out / "manifest.json").read_text("utf-8"))["shots"]}
    assert manifest["door"]["end_at"] == "hall" and manifest["stairs"]["end_image"] == str(tmp_path / "panel.png")
    html = (out / "storyboard.html").read_text(encoding="utf-8")
    assert (
        'alt="door start frame"' in html
        and 'alt="door end frame"' in html
        and "ends on the first frame of hall" in html
    )
    assert 'alt="stairs end frame"' in html and "end image panel.png" in html
