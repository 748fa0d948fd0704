"""The animatic profile through the real flow: the example film drawn, cut and reported, no model."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from wanflow.cache import ArtifactStore
from wanflow.media.ffmpeg import probe, read_frames
from wanflow.plan import make_plan
from wanflow.run.flow import RunSummary, render_film
from wanflow.run.premix import planned_mix
from wanflow.storyboard import load_film

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(255.0**2 / error)


def test_the_example_films_animatic_draws_every_clip_as_planned_and_cuts_it(prefect_server, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "out"
    state = render_film(spec=str(EXAMPLE), profile="animatic", out=str(out), cache=str(cache), return_state=True)
    summary = state.result(raise_on_failure=False)
    assert isinstance(summary, RunSummary), summary
    assert {shot.status for shot in summary.shots} == {"rendered"}
    assert summary.loads == []  # drawn: no model loaded

    plan = make_plan(load_film(EXAMPLE), "animatic")
    store = ArtifactStore(cache)
    for job in plan.jobs:
        clip = probe(store.get_file("clips", job.keys.clip))
        planned = (job.settings.frames, job.settings.fps, job.settings.width, job.settings.height)
        assert (clip.frames, clip.fps, clip.width, clip.height) == planned, job.shot_id
    wade_last = read_frames(store.get_file("clips", plan.job("wade").keys.clip), [-1])[0]
    wave_first = read_frames(store.get_file("clips", plan.job("wave").keys.clip), [0])[0]
    assert psnr(wade_last, wave_first) >= 40  # the continuation starts exactly where its upstream ends

    film = probe(Path(summary.film))
    assert (film.width, film.height, round(film.fps)) == (plan.width, plan.height, 24) and film.has_audio
    mixes = list((cache / "sounds").glob("*/*/meta.json"))  # the cut's mix is the one a run makes ahead of it
    assert [meta.parent.name for meta in mixes] == [planned_mix(plan).key()]
    assert (out / "film" / "contact_sheet.png").is_file() and (out / "film" / "storyboard.html").is_file()


def test_editing_a_shots_camera_draws_it_and_its_continuations_again_only(tmp_path: Path) -> None:
    spec = tmp_path / "film.yaml"
    shutil.copytree(REPO / "specs" / "assets", tmp_path / "assets")
    text = EXAMPLE.read_text(encoding="utf-8")
    spec.write_text(text, encoding="utf-8")
    before = {job.shot_id: job.keys.clip for job in make_plan(load_film(spec), "animatic").jobs}
    assert text.count("camera: [跟随镜头]") == 1  # wade's
    spec.write_text(text.replace("camera: [跟随镜头]", "camera: [镜头推进]"), encoding="utf-8")
    after = {job.shot_id: job.keys.clip for job in make_plan(load_film(spec), "animatic").jobs}
    assert {shot for shot in before if before[shot] != after[shot]} == {"wade", "wave"}  # wave continues wade

    # A start image shot's words draw nothing: rewording it keeps its clip.
    spec.write_text(text.replace("女子静静地坐着一动不动", "女子静静地坐着"), encoding="utf-8")
    reworded = {job.shot_id: job.keys.clip for job in make_plan(load_film(spec), "animatic").jobs}
    assert reworded == before


def test_an_animatic_take_is_drawn_without_importing_torch(tmp_path: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from wanflow.cache import ArtifactStore
from wanflow.plan import make_plan
from wanflow.run.animatic import draw_take
from wanflow.storyboard import load_film
plan = make_plan(load_film(Path({str(EXAMPLE)!r})), "animatic")
work = draw_take(plan.job("carriage"), ArtifactStore(Path({str(tmp_path)!r})), upstream_clip=None)
assert work.clip.is_file(), work
assert "torch" not in sys.modules, "the animatic imported torch"
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


END_SPEC = """\
wanflow: 1
title: Both ends
lang: en
profiles:
  animatic: { size: 128x80 }
scenes:
  - id: one
    shots:
      - id: door
        subject: a door
        action: opens
        duration: 1
        image: start.png
        end_image: end.png
        camera: [push in]
"""


def test_an_animatic_take_with_an_end_image_ends_on_it(tmp_path: Path) -> None:
    from PIL import Image

    from wanflow.catalog import BACKENDS
    from wanflow.fit import fit_end_image
    from wanflow.run.animatic import draw_take

    Image.new("RGB", (128, 80), (20, 120, 200)).save(tmp_path / "start.png")
    Image.new("RGB", (160, 80), (230, 60, 30)).save(tmp_path / "end.png")  # another aspect: covered
    (tmp_path / "film.yaml").write_text(END_SPEC, encoding="utf-8")
    job = make_plan(load_film(tmp_path / "film.yaml"), "animatic").job("door")
    assert job.settings.animatic and job.settings.end_image == tmp_path / "end.png"
    clip = draw_take(job, ArtifactStore(tmp_path / "cache"), upstream_clip=None).clip
    first, last = read_frames(clip, [0, -1])
    with Image.open(tmp_path / "end.png") as end:
        framed = np.asarray(fit_end_image(end, job.settings, BACKENDS[job.backend]))
    assert psnr(last, framed) >= 35 and psnr(first, framed) < 20  # from the start picture to the end one


def test_a_take_made_by_an_earlier_try_of_the_same_run_counts_as_rendered(prefect_server, tmp_path: Path) -> None:
    """A Prefect retry after the clip was written, or a task Dask ran twice, finds the clip in the
    cache: this run still made it. The next run finds it cached."""
    from prefect import flow

    from wanflow.run.tasks import render_task
    from wanflow.take import RenderSettings

    job = make_plan(load_film(EXAMPLE), "animatic").job("sea")
    cache = tmp_path / "cache"

    @flow
    def tries(count: int) -> list:
        return [render_task(job, cache, RenderSettings(), None, False) for _ in range(count)]

    first, second = tries(2)
    assert (first.decoded, second.decoded) == (True, False)  # the second try found the first's clip
    assert first.made_this_run and second.made_this_run
    (later,) = tries(1)
    assert not later.decoded and not later.made_this_run
