"""Shared fixtures: tiny random-weight Wan2.2 models, written once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, prefect_server_at

from wanflow import settings

# A run's temporary Prefect server ends with the run here, as every test expects of its processes;
# the tests of the kept server (tests/run/test_server.py) ask for a linger themselves.
os.environ["WANFLOW_SERVER_LINGER"] = "0"
os.environ["WANFLOW_WARM_LINGER"] = "0"  # tests/cli/test_warm.py turns it on


@pytest.fixture(autouse=True)
def environment() -> Iterator[None]:
    """Each test starts from the environment as it is, as each command does (`settings.reload`);
    a test that changes a variable calls `settings.reload()` after it."""
    settings.reload()
    yield
    settings.reload()


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A models root holding `tiny/<backend-id>/` for all three backends; WANFLOW_MODELS points at it."""
    from wanflow.backends.tiny import make_tiny_models

    root = tmp_path_factory.mktemp("models")
    make_tiny_models(root / "tiny")
    previous = os.environ.get("WANFLOW_MODELS")
    os.environ["WANFLOW_MODELS"] = str(root)
    settings.reload()
    yield root
    if previous is None:
        os.environ.pop("WANFLOW_MODELS", None)
    else:
        os.environ["WANFLOW_MODELS"] = previous


@pytest.fixture(scope="session")
def tiny_model_dirs(tiny_models_root: Path) -> dict[str, Path]:
    """backend id -> its tiny model folder."""
    from wanflow.catalog import BACKENDS

    return {backend_id: tiny_models_root / "tiny" / backend_id for backend_id in BACKENDS}


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `prefect server start` for the session; PREFECT_API_URL points at it for every process."""
    with prefect_server_at(tmp_path_factory.mktemp("prefect-home")) as server:
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = server.url  # Dask workers and CLI subprocesses inherit it
        try:
            yield server
        finally:
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=10)  # this process's last logs, while the server still takes them
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
