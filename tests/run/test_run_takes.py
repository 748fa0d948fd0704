"""Takes end to end: real tiny diffusers models, a real Prefect server, real ffmpeg."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wanflow.cache.store import ArtifactStore
from wanflow.media.ffmpeg import probe, read_frames
from wanflow.plan.jobs import make_plan
from wanflow.run.flow import RunSummary, render_film
from wanflow.storyboard.load import load_film
from wanflow.storyboard.pick import pick_take

SPEC = """\
wanflow: 1
title: Takes test
lang: en
profiles:
  test: { text: t2v-a14b, image: i2v-a14b, size: 128x80, steps: 2, tiny: true }
scenes:
  - id: one
    defaults: { takes: 2 }            # every shot of the scene, twice
    shots:
      - id: still
        subject: a woman on a train
        action: sits still
        duration: 0.5
      - id: wade
        subject: an astronaut
        action: wades through water
        duration: 0.5
      - id: onward                    # starts on the last frame of the take of `wade` the film uses
        subject: the astronaut
        action: keeps walking
        duration: 0.5
        continue_from: wade
        takes: 1
"""


@pytest.fixture
def storyboard(tmp_path: Path, tiny_models_root: Path) -> Path:
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def _run(spec: Path) -> RunSummary:
    state = render_film(spec=str(spec), profile="test", out=str(spec.parent / "out"), return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    return summary


def _takes(summary: RunSummary) -> dict[str, list[tuple[int, str]]]:
    return {shot.shot_id: [(take.take, take.status) for take in shot.takes] for shot in summary.shots}


def _frames(path: Path) -> np.ndarray:
    return read_frames(path, list(range(probe(path).frames))).astype(np.int16)


def test_takes_render_once_each_and_a_pick_renders_nothing_but_recuts_the_film(prefect_server, storyboard) -> None:
    out = storyboard.parent / "out"
    first = _run(storyboard)
    assert _takes(first) == {
        "still": [(1, "rendered"), (2, "rendered")],
        "wade": [(1, "rendered"), (2, "rendered")],
        "onward": [(1, "rendered")],
    }
    generators = [load["model"] for load in first.loads if load["model"].startswith("generator:")]
    assert generators == ["generator:t2v-a14b", "generator:i2v-a14b"]  # takes grouped by model: one load each

    run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    still = next(shot for shot in run_json["shots"] if shot["shot_id"] == "still")
    plan = make_plan(load_film(storyboard), "test")
    assert [(t["take"], t["seed"], t["chosen"]) for t in still["takes"]] == [
        (job.take, job.settings.seed, job.chosen) for job in plan.takes_of("still")
    ]
    assert [t["clip"] for t in still["takes"]] == [str(out / "takes" / "still" / f"take-{k}.mp4") for k in (1, 2)]
    one, two = (_frames(out / "takes" / "still" / f"take-{k}.mp4") for k in (1, 2))
    assert one.shape == two.shape and np.abs(one - two).mean() > 1.0  # two seeds, two different clips
    assert (out / "clips" / "still.mp4").read_bytes() == (out / "takes" / "still" / "take-1.mp4").read_bytes()
    html = (out / "storyboard.html").read_text(encoding="utf-8")
    assert 'src="takes/still/take-2.mp4"' in html and 'id="take-onward-1"' not in html

    before = storyboard.read_text(encoding="utf-8")
    film_before = Path(first.film).read_bytes()
    pick_take(storyboard, "still", 2)
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), storyboard.read_text(encoding="utf-8").splitlines(), n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == ["+        take: 2"]

    second = _run(storyboard)
    assert {status for takes in _takes(second).values() for _, status in takes} == {"cached"}
    assert second.loads == []  # nothing rendered, no model loaded
    assert (out / "clips" / "still.mp4").read_bytes() == (out / "takes" / "still" / "take-2.mp4").read_bytes()
    assert Path(second.film).read_bytes() != film_before  # the film is cut again, with take 2


def test_a_continuation_follows_the_chosen_take_of_its_upstream(prefect_server, storyboard) -> None:
    out = storyboard.parent / "out"
    _run(storyboard)
    pick_take(storyboard, "wade", 2)
    summary = _run(storyboard)
    assert _takes(summary) == {
        "still": [(1, "cached"), (2, "cached")],
        "wade": [(1, "cached"), (2, "cached")],
        "onward": [(1, "rendered")],  # a new start frame: the last of wade's take 2
    }
    plan = make_plan(load_film(storyboard), "test")
    store = ArtifactStore(storyboard.parent / ".wanflow" / "cache")
    start = np.asarray(Image.open(store.scratch_dir() / f"{plan.job('onward').keys.latents}-start.png"))
    last = {k: _frames(out / "takes" / "wade" / f"take-{k}.mp4")[-1] for k in (1, 2)}
    assert np.array_equal(start, last[2]) and not np.array_equal(start, last[1])
