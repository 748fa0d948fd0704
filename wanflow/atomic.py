"""Atomic file writes: a reader sees the old file or the whole new one, never a half-written one.

Every finished output (film, report, run.json, cache entries' files) is written to a temporary
file beside its target and renamed over it, so a crash or a kill leaves no truncated file. A
kill leaves the temporary file itself: its name carries PARTIAL, so `remove_partials` finds it,
as it finds a work folder named the same way (`partial_folder`: the cut's).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial-"  # in the name of every temporary file: `.film.partial-k2j4x8.mp4`


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix) that replaces it only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}{PARTIAL}", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    temp = Path(name)
    os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; finished files get the usual mode
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def partial_path(path: Path) -> Path:
    """A name beside `path` for a file being made (to hard-link or copy, then rename over `path`)."""
    return path.with_name(f".{path.stem}{PARTIAL}{uuid.uuid4().hex[:8]}{path.suffix}")


def partial_folder(path: Path) -> tempfile.TemporaryDirectory:
    """A work folder beside `path` for the files that make it, removed when done, and by
    `remove_partials` when a kill left it: a killed run leaves nothing in the system's temp folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f".{path.stem}{PARTIAL}", dir=path.parent)


def remove_partials(folder: Path) -> list[Path]:
    """Remove the temporary files and work folders killed writers left under `folder`. Only while
    no writer is at work there (the caller holds the folder's lock): a live writer's look the same."""
    removed = []
    for path in sorted(folder.rglob(f".*{PARTIAL}*")):
        if path.is_symlink() or any(path.is_relative_to(gone) for gone in removed):
            continue
        if path.is_file():
            path.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)  # removes links inside, never what they point to
        else:
            continue
        removed.append(path)
    return removed
