"""The README's Python snippet runs as written and renders real mp4 files."""

from __future__ import annotations

import re
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

DOC = Path(__file__).resolve().parents[2] / "README.md"


def test_docs_snippet_renders_each_backend(
    tiny_models_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    match = re.search(r"<!-- snippet: tiny-render -->\n```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match is not None
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), str(DOC), "exec"), {})
    for name, fps in (("ti2v-5b", 24), ("t2v-a14b", 16), ("i2v-a14b", 16)):
        frames = iio.imread(tmp_path / f"{name}.mp4")
        assert frames.shape[0] == 17 and frames.shape[1:3] == (64, 64)
        assert iio.immeta(tmp_path / f"{name}.mp4")["fps"] == fps


def _bench():
    import sys

    sys.path.insert(0, str(DOC.parent / "benchmarks"))
    import bench_backends

    return bench_backends


def test_bench_tiny_mode_runs_the_real_size_code_on_the_cpu() -> None:
    rows = _bench().main(["--tiny", "--steps", "2"])
    assert [(row.backend, row.step_cache) for row in rows] == [
        (backend, cache)
        for backend in ("ti2v-5b", "t2v-a14b", "i2v-a14b")
        for cache in (None, "first-block", "taylorseer")
    ]
    assert all(row.seconds > 0 and 0 < row.seconds_per_step <= row.seconds for row in rows)


def test_bench_runs_memory_plans_and_the_turbo_tier() -> None:
    rows = _bench().main(["--tiny", "--steps", "1", "--backends", "t2v-a14b", "--plans", "resident,fp8", "--turbo"])
    assert [(row.plan, row.tier, row.steps) for row in rows] == [
        ("resident", "final", 1),
        ("fp8", "final", 1),
        ("fp8", "turbo", 4),
    ]


def test_bench_real_size_refuses_without_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: --real-size would run")
    with pytest.raises(SystemExit) as refused:
        _bench().main(["--real-size"])
    assert refused.value.code == 2
    assert "--real-size needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("backend_id", ["ti2v-5b", "i2v-a14b"])
def test_bench_builds_the_real_size_pipelines_it_times(backend_id: str) -> None:
    """On the meta device: the GPU run's pipeline, parameter for parameter the real-size model."""
    from wanflow.backends.layout import official_folder
    from wanflow.backends.realsize import real_size
    from wanflow.catalog import BACKENDS

    pipe = _bench().random_pipeline(
        BACKENDS[backend_id], official_folder(backend_id), torch.bfloat16, torch.device("meta")
    )
    expected = real_size(backend_id, dtype="bf16")
    for name in ("transformer", "transformer_2", "vae"):
        module = getattr(pipe, name, None)
        if module is None:
            assert name == "transformer_2" and backend_id == "ti2v-5b"
            continue
        built = {n: (p.numel(), p.dtype) for n, p in module.named_parameters()}
        assert built == {n: (numel, dtype) for n, numel, dtype in expected.components[name].parameters}
    assert pipe.text_encoder is None and pipe.config.boundary_ratio == BACKENDS[backend_id].boundary_ratio
