"""Every model load of a run, written as it starts: the record a dead worker cannot send back.

A task reports the loads it made when it returns; a worker killed mid-shot returns nothing, and
its loads would be missing from run.json. So each task of a run notes every load, as it starts,
in a journal beside the shared cache (one line per load, appended), and the flow reads the
journal at the end: every load of this run, on every worker, those of dead attempts included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def journal_path(cache_dir: Path, run_id: str) -> Path:
    return cache_dir / f".loads-{run_id}.jsonl"


@contextmanager
def journaled(pool, cache_dir: Path, worker: str) -> Iterator[None]:
    """While a task runs: each load of `pool` appended to the journal of the current flow run."""
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if not run_id:
        yield
        return
    path = journal_path(cache_dir, str(run_id))

    def note(model: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # a run's first load comes before its first entry
            with path.open("a", encoding="utf-8") as journal:
                journal.write(json.dumps({"worker": worker, "model": model}) + "\n")
        except OSError:  # a read-only cache: the task's own report still lists the load
            pass

    with pool.listen(note):
        yield


def read_journal(cache_dir: Path, run_id: str) -> list[dict[str, str]] | None:
    """The run's loads in the order they started, and the journal removed; None when there is none."""
    path = journal_path(cache_dir, run_id)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    path.unlink(missing_ok=True)
    return [json.loads(line) for line in lines if line.strip()]
