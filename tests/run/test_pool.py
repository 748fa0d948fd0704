"""A worker's model pool and its device lock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wanflow import settings
from wanflow.backends.pool import ModelPool, device_lock, physical_device
from wanflow.take import RenderSettings


@pytest.mark.parametrize(
    "visible, device, physical",
    [
        ("", "cuda", "cuda-0"),
        ("", "cuda:1", "cuda-1"),
        ("1", "cuda", "cuda-1"),
        ("2,3", "cuda:1", "cuda-3"),
        ("GPU-5e1c", "cuda:0", "cuda-GPU-5e1c"),
        ("0", "cpu", "cpu"),
    ],
)
def test_the_device_lock_is_keyed_by_the_physical_gpu(
    visible: str, device: str, physical: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    settings.reload()
    assert physical_device(device) == physical


def test_two_workers_on_two_gpus_of_one_machine_do_not_share_a_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    settings.reload()
    first = device_lock("cuda:0").lock_file
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    settings.reload()
    second = device_lock("cuda:0").lock_file
    assert first != second


def test_the_cpu_is_not_locked_so_two_cpu_workers_render_side_by_side() -> None:
    assert not hasattr(device_lock("cpu"), "lock_file")


def test_a_runs_pool_frees_its_text_encoders_and_a_workers_pool_keeps_them(tiny_model_dirs) -> None:
    from factories import film, shot

    from wanflow.plan import make_plan

    plan = make_plan(film([shot(1, subject="a", action="b", duration=0.5)]), "preview")
    job = plan.jobs[0]
    for keep_warm, expected in ((False, []), (True, [job.backend])):
        pool = ModelPool(RenderSettings(), keep_warm=keep_warm)
        pool.text_encoder(job.backend, job.model_dir)
        pool.done_encoding()
        assert pool.warm_text_encoders() == expected
        pool.release_all()


# A fresh process: what preloading the backends leaves behind, and what an in-process run imports.
PRELOAD = """
import gc, json, sys
from wanflow.run.cluster import worker_name
name = worker_name()
from wanflow.backends.pool import preload_backends
preload_backends()
print(json.dumps({
    "worker": name,
    "distributed": "distributed" in sys.modules,
    "collector_on": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "torch": "torch" in sys.modules,
}))
"""


def test_preloading_the_backends_freezes_them_out_of_garbage_collection() -> None:
    """Each free after a model is dropped walks only what came after the imports, and the
    collector is back on; an in-process run never imports Dask's distributed for its worker name."""
    done = subprocess.run([sys.executable, "-c", PRELOAD], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["worker"] == "local" and not seen["distributed"]
    assert seen["torch"] and seen["collector_on"]
    assert seen["frozen"] > 100_000  # torch, diffusers and transformers' objects
