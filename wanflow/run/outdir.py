"""The `--out` folder's integrity: writable before any rendering, one writer at a time, no leftovers,
and a cut that is only "up to date" while its files are still the ones it wrote.

A killed run can leave half-written files (`.film.partial-*.mp4`); the next run removes them
while it holds the folder's lock, so a concurrent run's own partial files are never touched.
The stamp beside the film records the cut's key and the size and sha256 of every file the cut
wrote: a truncated or replaced film is cut again, not reported as up to date.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from wanflow.atomic import remove_partials, write_text_atomic
from wanflow.errors import Problem, UserError
from wanflow.hashing import sha256_of_file

LOCK_NAME = ".wanflow-out.lock"
CLIPS_DIR = "clips"
STAMP_FORMAT = 2


def film_path(out_dir: Path, spec_path: Path) -> Path:
    """`<out>/<spec stem>.mp4`: the cut of `specs/film.yaml` is `out/film.mp4`."""
    return out_dir / f"{Path(spec_path).stem}.mp4"


def check_writable(out_dir: Path, spec_path: Path) -> None:
    """Found before any rendering, not after an hour of it: the folder (or the nearest one that
    exists) takes new files, and nothing the run writes is in the way as a folder or a file."""
    problems: list[str] = []
    existing = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        problems.append(f"{existing or out_dir} is a file, not a folder")
    else:
        for folder in dict.fromkeys((existing, out_dir / CLIPS_DIR)):
            if folder.exists() and not folder.is_dir():
                problems.append(f"{folder} is a file, not a folder")
            elif folder.is_dir() and (reason := _cannot_write(folder)):
                problems.append(f"{folder} is not writable ({reason})")
        for path in (film_path(out_dir, spec_path), out_dir / "run.json"):
            if path.is_dir():
                problems.append(f"{path} is a folder; the run writes a file there")
    if problems:
        raise UserError([Problem("wanflow", None, None, "--out", message) for message in problems])


def _cannot_write(folder: Path) -> str | None:
    """Why a file cannot be made in `folder` (tried, not guessed: root passes os.access checks
    that a read-only file system then refuses), or None."""
    probe = folder / f".wanflow-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        return error.strerror or str(error)
    return None


@contextmanager
def writing(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock while a run writes there; what killed runs left is removed first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(out_dir / LOCK_NAME):
        remove_partials(out_dir)
        yield


def fresh_cut(stamp_path: Path, key: str) -> dict | None:
    """The stamp's film and report when they were cut from `key` and every file is as written; else None."""
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT or stamp.get("key") != key:
        return None
    files = stamp.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for path, recorded in files.items():
        try:
            if os.stat(path).st_size != recorded["size"] or sha256_of_file(path) != recorded["sha256"]:
                return None
        except (OSError, KeyError, TypeError):
            return None
    return stamp


def stamp_cut(stamp_path: Path, key: str, film: str, report: dict[str, str], extra: list[Path]) -> None:
    """Record the cut: its key, and the size and sha256 of the film, the report and `extra` files."""
    paths = [film, *report.values(), *map(str, extra)]
    files = {path: {"size": os.stat(path).st_size, "sha256": sha256_of_file(path)} for path in paths}
    stamp = {"format": STAMP_FORMAT, "key": key, "film": film, "report": report, "files": files}
    write_text_atomic(stamp_path, json.dumps(stamp, indent=2, ensure_ascii=False))
