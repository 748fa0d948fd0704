"""The generation order loads each model as few times as the continuity edges allow."""

from __future__ import annotations

import heapq
from dataclasses import replace
from pathlib import Path

import pytest
from factories import film, shot
from hypothesis import given, settings
from hypothesis import strategies as st

from wanflow.plan import RenderJob, make_plan
from wanflow.plan.order import drawing_order, generation_order, loads

TEXT = ("t2v-a14b", "ti2v-5b")  # what a shot without a start frame may run on
IMAGE = ("i2v-a14b", "ti2v-5b")  # what a continuation may run on


@pytest.fixture(scope="module")
def template(tiny_models_root: Path) -> RenderJob:
    """One real job of a real plan; the generated films are copies with their own ids, models and edges."""
    return make_plan(film([shot(0, subject="a boat", duration=0.5)]), "preview").jobs[0]


def jobs_of(template: RenderJob, spec: list[tuple[str, int | None, int]]) -> list[RenderJob]:
    """(backend, index of the shot it continues from, takes) per shot -> its jobs in film order."""
    jobs = []
    for index, (backend, upstream, takes) in enumerate(spec):
        continues = None if upstream is None else f"s{upstream}"
        this = replace(template.shot, id=f"s{index}", index=index, takes=takes, continue_from=continues)
        for take in range(1, takes + 1):
            settings = replace(template.settings, backend=backend)
            jobs.append(replace(template, shot=this, settings=settings, take=take, upstream_job=continues))
    return jobs


def fewest_loads(jobs: list[RenderJob]) -> int:
    """The minimum over every order that respects continuity, by a shortest-path search over
    (jobs done, model loaded), one job a step: a load costs 1, the same model again 0."""
    index = {job.name: i for i, job in enumerate(jobs)}
    everything = (1 << len(jobs)) - 1
    best: dict[tuple[int, str | None], int] = {(0, None): 0}
    queue: list[tuple[int, int, str]] = [(0, 0, "")]
    while queue:
        cost, done, current = heapq.heappop(queue)
        if done == everything:
            return cost
        if cost > best.get((done, current or None), cost):
            continue
        for i, job in enumerate(jobs):
            needed = [index[name] for name in job.waits_for if name in index]
            if done >> i & 1 or any(not done >> n & 1 for n in needed):
                continue
            state = (done | 1 << i, job.backend)
            step = cost + (job.backend != current)
            if step < best.get(state, step + 1):
                best[state] = step
                heapq.heappush(queue, (step, state[0], job.backend))
    raise AssertionError("no order renders every job")


@st.composite
def films(draw: st.DrawFn) -> list[tuple[str, int | None, int]]:
    count = draw(st.integers(1, 7))
    shots: list[tuple[str, int | None, int]] = []
    for index in range(count):
        upstream = draw(st.none() | st.integers(0, index - 1)) if index else None
        backend = draw(st.sampled_from(TEXT if upstream is None else IMAGE))
        shots.append((backend, upstream, draw(st.integers(1, 2))))
    return shots


@settings(max_examples=100, deadline=None)
@given(spec=films())
def test_the_order_loads_each_model_the_fewest_times(template: RenderJob, spec) -> None:
    jobs = jobs_of(template, spec)
    order = generation_order(jobs)
    assert sorted(job.name for job in order) == sorted(job.name for job in jobs)
    position = {job.name: i for i, job in enumerate(order)}
    assert all(job.upstream_job is None or position[job.upstream_job] < position[job.name] for job in order)
    assert loads(order) == fewest_loads(jobs)


def test_an_image_shot_before_a_text_shot_it_does_not_need_loads_each_model_once(template: RenderJob) -> None:
    """boat (image) -> sailor (text) -> gulls (continues sailor): sailor, boat, gulls."""
    jobs = jobs_of(template, [("i2v-a14b", None, 1), ("t2v-a14b", None, 1), ("i2v-a14b", 1, 1)])
    order = generation_order(jobs)
    assert [job.name for job in order] == ["s1", "s0", "s2"]
    assert loads(order) == 2


def test_one_model_keeps_film_order(template: RenderJob) -> None:
    jobs = jobs_of(template, [("ti2v-5b", None, 2), ("ti2v-5b", 0, 1), ("ti2v-5b", None, 1)])
    assert generation_order(jobs) == jobs


def test_drawn_takes_start_the_longest_chain_first_then_keep_film_order(template: RenderJob) -> None:
    """sea, wade -> wave -> foam, city: wade's chain first, so wave is drawn while city is."""
    spec = [("t2v-a14b", None, 1), ("t2v-a14b", None, 1), ("i2v-a14b", 1, 1), ("i2v-a14b", 2, 1)]
    jobs = jobs_of(template, [*spec, ("t2v-a14b", None, 1)])
    assert [job.name for job in drawing_order(jobs)] == ["s1", "s2", "s0", "s3", "s4"]


@settings(max_examples=50, deadline=None)
@given(spec=films())
def test_a_drawn_take_comes_after_the_take_it_continues(template: RenderJob, spec) -> None:
    jobs = jobs_of(template, spec)
    order = drawing_order(jobs)
    position = {job.name: i for i, job in enumerate(order)}
    assert sorted(position) == sorted(job.name for job in jobs)
    assert all(job.upstream_job is None or position[job.upstream_job] < position[job.name] for job in order)
