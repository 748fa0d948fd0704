"""Placing shots on workers: the right GPU class, warm models first, balanced, continuity respected."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import film, shot

from wanflow.plan import make_plan
from wanflow.plan.placement import WorkerSlot, place, unplaceable

BOTH = frozenset({"GPU24", "GPU80"})


@pytest.fixture
def plan(tiny_models_root: Path):
    shots = [shot(i, subject=f"subject {i}", action="moves", duration=0.5) for i in range(8)]
    shots[5] = shot(5, subject="continuing", action="moves", duration=0.5, continue_from="s4")
    return make_plan(film(shots), "preview")


def test_shots_spread_evenly_over_two_equal_workers(plan) -> None:
    workers = [WorkerSlot("tcp://a", "a", BOTH), WorkerSlot("tcp://b", "b", BOTH)]
    placement = place(list(plan.jobs), workers)
    counts = {address: len(placement.shots_on(address)) for address in ("tcp://a", "tcp://b")}
    assert sorted(counts.values()) == [4, 4]


def test_a_worker_changes_model_at_most_once_per_model(plan) -> None:
    workers = [WorkerSlot("tcp://a", "a", BOTH), WorkerSlot("tcp://b", "b", BOTH)]
    placement = place(list(plan.jobs), workers)
    for address in ("tcp://a", "tcp://b"):
        backends = [plan.job(shot_id).backend for shot_id in placement.shots_on(address)]
        runs = [b for i, b in enumerate(backends) if i == 0 or backends[i - 1] != b]
        assert len(runs) == len(set(runs))  # each model one contiguous run on its worker


def test_a_warm_worker_attracts_its_models_shots(plan) -> None:
    only_i2v = [job for job in plan.jobs if job.backend == "i2v-a14b"] or list(plan.jobs)[:1]
    backend = only_i2v[0].backend
    workers = [WorkerSlot("tcp://cold", "cold", BOTH), WorkerSlot("tcp://warm", "warm", BOTH, frozenset({backend}))]
    placement = place(only_i2v, workers)
    assert set(placement.worker.values()) == {"tcp://warm"}


def test_a_continuation_is_ranked_after_its_upstream(plan) -> None:
    workers = [WorkerSlot("tcp://a", "a", BOTH), WorkerSlot("tcp://b", "b", BOTH)]
    placement = place(list(plan.jobs), workers)
    assert placement.rank["s5"] > placement.rank["s4"]


def test_a_model_no_worker_can_hold_is_one_clear_problem(plan) -> None:
    problems = unplaceable(
        list(plan.jobs), [WorkerSlot("tcp://a", "a", frozenset({"GPU24"}))], "film.yaml", "tcp://10.0.0.5:8786"
    )
    assert len(problems) == len({job.backend for job in plan.jobs})
    assert "needs a worker with the GPU80 resource" in problems[0].message
    assert (  # the line of docs/deployments.md, with the address the run used
        'dask worker tcp://10.0.0.5:8786 --nthreads 1 --memory-limit 0 --resources "GPU80=1,GPU24=1" '
        "--preload wanflow.run.warmup" in problems[0].message
    )
    assert unplaceable(list(plan.jobs), [WorkerSlot("tcp://a", "a", BOTH)], "film.yaml", "tcp://a") == []
