"""Takes in the plan: one job per take, stable seeds, take 1 as the shot always was, continuity on the chosen take."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from factories import film, shot

from wanflow.errors import UserError
from wanflow.plan import derived_seed, generation_order, make_plan, take_seed
from wanflow.plan.placement import WorkerSlot, place

BOTH = frozenset({"GPU24", "GPU80"})


@pytest.fixture
def shots():
    return [
        shot(0, subject="a diver", action="swims", duration=0.5, seed=42),
        shot(1, subject="a train", action="leaves", duration=0.5),
        shot(2, subject="the diver", action="surfaces", duration=0.5, continue_from="s0"),
    ]


def test_take_seeds_are_stable_and_take_one_keeps_the_shots_seed() -> None:
    assert take_seed(42, 1) == 42
    assert take_seed(42, 2) == 1635235938  # pinned: a take's seed is the same on every machine, in every version
    seeds = {take_seed(42, take) for take in range(1, 17)}
    assert len(seeds) == 16 and all(0 <= seed < 2**32 for seed in seeds)
    assert take_seed(43, 2) != take_seed(42, 2)


def test_every_take_is_a_job_and_take_one_is_the_shot_as_before(tiny_models_root: Path, shots) -> None:
    before = make_plan(film(shots), "preview")
    shots[0] = replace(shots[0], takes=3)
    shots[1] = replace(shots[1], takes=2, take=2)
    plan = make_plan(film(shots), "preview")
    assert [job.name for job in plan.takes] == ["s0", "s0#2", "s0#3", "s1", "s1#2", "s2"]
    assert [job.name for job in plan.jobs] == ["s0", "s1#2", "s2"]  # what the film uses
    for old, new in zip(before.jobs, plan.takes_of("s0")[:1] + plan.takes_of("s1")[:1] + plan.takes_of("s2")):
        assert (new.settings.seed, new.keys) == (
            old.settings.seed,
            old.keys,
        )  # take 1: the seed and keys a cache already holds
    s0 = plan.takes_of("s0")
    assert [job.settings.seed for job in s0] == [42, take_seed(42, 2), take_seed(42, 3)]
    assert len({job.keys.latents for job in s0}) == 3 and len({job.keys.clip for job in s0}) == 3
    assert len({job.keys.prompt for job in s0}) == 1  # one prompt, encoded once for every take
    s1 = plan.takes_of("s1")
    assert [job.settings.seed for job in s1] == [derived_seed(plan.film, shots[1]), take_seed(s1[0].settings.seed, 2)]
    assert [job.chosen for job in s1] == [False, True] and plan.job("s1").take == 2


def test_a_continuation_follows_the_chosen_take_of_its_upstream(tiny_models_root: Path, shots) -> None:
    shots[0] = replace(shots[0], takes=2)
    first = make_plan(film(shots), "preview")
    shots[0] = replace(shots[0], take=2)
    second = make_plan(film(shots), "preview")
    assert (first.job("s2").upstream_job, second.job("s2").upstream_job) == ("s0", "s0#2")
    assert [job.keys for job in first.takes_of("s0")] == [job.keys for job in second.takes_of("s0")]  # nothing new
    assert first.job("s2").keys.latents != second.job("s2").keys.latents  # a new start frame: rendered again
    order = [job.name for job in generation_order(list(second.takes))]
    assert order.index("s2") > order.index("s0#2")


def test_takes_option_renders_n_takes_of_every_shot_and_always_the_chosen_one(tiny_models_root: Path, shots) -> None:
    shots[1] = replace(shots[1], takes=3, take=3)
    plan = make_plan(film(shots), "preview", takes=2)
    assert [job.name for job in plan.takes] == ["s0", "s0#2", "s1", "s1#2", "s1#3", "s2", "s2#2"]
    plan = make_plan(film(shots), "preview", takes=1)
    assert [job.name for job in plan.takes] == ["s0", "s1", "s1#3", "s2"]
    with pytest.raises(UserError, match=r"--takes: must be 1 \.\. 16, not 0"):
        make_plan(film(shots), "preview", takes=0)


def test_takes_are_placed_like_shots(tiny_models_root: Path, shots) -> None:
    shots[0] = replace(shots[0], takes=4, take=3)
    plan = make_plan(film(shots), "preview")
    workers = [WorkerSlot("tcp://a", "a", BOTH), WorkerSlot("tcp://b", "b", BOTH)]
    placement = place(list(plan.takes), workers)
    assert set(placement.worker) == {job.name for job in plan.takes}
    assert {placement.worker[name] for name in ("s0", "s0#2", "s0#3", "s0#4")} == {"tcp://a", "tcp://b"}
    assert placement.rank["s2"] > placement.rank["s0#3"]  # the continuation waits for the chosen take
