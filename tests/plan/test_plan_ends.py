"""End frames in the plan: `end_image:` and `end_at:` reach the take's settings, its keys, its order; refused where no backend can."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from factories import film, shot
from PIL import Image

from wanflow.plan import generation_order, make_plan


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    found = {}
    for name, color in (("start", "blue"), ("panel", "red"), ("other", "green")):
        found[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (64, 36), color).save(found[name])
    return found


def test_an_end_image_is_the_takes_end_frame_and_changes_only_its_key(tiny_models_root: Path, pictures) -> None:
    start = shot(0, action="opens the door", image=pictures["start"], duration=0.5)
    plain = make_plan(film([start]), "preview").job("s0")
    ending = make_plan(film([replace(start, end_image=pictures["panel"])]), "preview").job("s0")
    other = make_plan(film([replace(start, end_image=pictures["other"])]), "preview").job("s0")
    assert plain.settings.end_image is None and ending.settings.end_image == pictures["panel"]
    assert any(note.startswith("ends on panel.png") for note in ending.notes)  # what `wanflow plan` prints
    assert len({plain.keys.latents, ending.keys.latents, other.keys.latents}) == 3
    assert plain.keys.prompt == ending.keys.prompt  # the prompt is the prompt: encoded once
    assert ending.settings.backend == "i2v-a14b" and (ending.settings.width, ending.settings.height) == (
        plain.settings.width,
        plain.settings.height,
    )  # the start frame decides the size; the end frame is framed to it


def test_end_at_a_shot_with_an_image_ends_on_that_image(tiny_models_root: Path, pictures) -> None:
    shots = [
        shot(0, action="walks to the door", image=pictures["start"], end_at="s1", duration=0.5),
        shot(1, action="the hall", image=pictures["panel"], duration=0.5),
    ]
    plan = make_plan(film(shots), "preview")
    assert plan.job("s0").settings.end_image == pictures["panel"] and plan.job("s0").end_job is None
    assert plan.job("s0").waits_for == ()


def test_end_at_a_rendered_shot_waits_for_it_and_keys_on_its_clip(tiny_models_root: Path, pictures) -> None:
    shots = [
        shot(0, action="walks to the door", image=pictures["start"], end_at="s1", duration=0.5),
        shot(1, subject="a hall", action="lights come on", duration=0.5),  # text to video: rendered first
    ]
    plan = make_plan(film(shots), "preview")
    job = plan.job("s0")
    assert job.settings.end_image is None and (job.end_job, job.end_shot, job.waits_for) == ("s1", "s1", ("s1",))
    assert "ends on the first frame of s1 (rendered before it)" in job.notes
    assert [j.shot_id for j in plan.jobs] == ["s0", "s1"]  # film order kept
    assert [j.name for j in generation_order(list(plan.takes))] == ["s1", "s0"]
    assert plan.upstreams({"s0"}) == {"s0", "s1"} and plan.dependants({"s1"}) == {"s0", "s1"}
    shots[1] = replace(shots[1], action="lights go out")
    changed = make_plan(film(shots), "preview")
    assert changed.job("s0").keys.latents != job.keys.latents  # a new end frame: rendered again
    shots[1] = replace(shots[1], takes=2, take=2)
    assert make_plan(film(shots), "preview").job("s0").end_job == "s1#2"  # the take the film uses


def test_a_backend_that_cannot_end_on_a_frame_is_refused_naming_the_one_that_can(
    tiny_models_root: Path, pictures
) -> None:
    ending = shot(0, action="opens the door", image=pictures["start"], end_image=pictures["panel"], duration=0.5)
    plan = make_plan(film([replace(ending, backend="ti2v-5b")]), "preview")
    (problem,) = [p for p in plan.problems if p.field == "shots.s0.end_image"]
    assert "ti2v-5b cannot end on a given frame; i2v-a14b can" in problem.message
    assert not [p for p in make_plan(film([ending]), "preview").problems if "end" in p.field]
