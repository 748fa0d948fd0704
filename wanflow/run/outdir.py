"""The `--out` folder's integrity: a folder per storyboard, writable before any rendering, no link
inside, one writer at a time, no leftovers, and a cut that is only "up to date" while its files
are still the ones it wrote.

Each storyboard writes into `<out>/<spec stem>/` (`out/film/film.mp4`, `out/film/run.json`, ...),
so two storyboards in one repository never overwrite each other's film, report or stamp; the
folder records which spec it belongs to, and a second spec of the same name is refused.
A killed run can leave half-written files (`.film.partial-*.mp4`); the next run removes them
while it holds the folder's lock, so a concurrent run's own partial files are never touched.
The stamp beside the film records the cut's key and the size and sha256 of every file the cut
wrote: a truncated or replaced film is cut again, not reported as up to date. `out/` may be
committed with the storyboard, so the stamp is read as untrusted input: names inside its own
folder only, regular files only, bounded reads; a stamp that fails any check is ignored.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from wanflow.atomic import remove_partials, write_text_atomic
from wanflow.confine import repository_root
from wanflow.errors import Problem, UserError
from wanflow.hashing import sha256_of_file
from wanflow.nofollow import MAX_REPORTED, check_no_links, is_regular_file, link_message, links_below, read_bounded

LOCK_NAME = ".wanflow-out.lock"
OWNER_NAME = ".wanflow-spec"  # the spec (relative to its repository) whose outputs the folder holds
CLIPS_DIR = "clips"
STAMP_FORMAT = 3  # 3: file names relative to the stamp's folder (2 held absolute paths)
MAX_RECORD_BYTES = 1 << 20


def spec_folder(out_root: Path, spec_path: Path) -> Path:
    """`<out>/<spec stem>/`: the outputs of `specs/film.yaml` go to `out/film/`."""
    return out_root / Path(spec_path).stem


def film_path(out_dir: Path, spec_path: Path) -> Path:
    """`<out>/<spec stem>.mp4`: the cut of `specs/film.yaml` is `out/film.mp4`."""
    return out_dir / f"{Path(spec_path).stem}.mp4"


def check_writable(out_dir: Path, spec_path: Path, owner: str) -> None:
    """Found before any rendering, not after an hour of it: the folder (or the nearest one that
    exists) takes new files, nothing the run writes is in the way as a folder or a file, no link
    is inside (it would be written through), and no other spec of the same name owns it."""
    problems: list[str] = [link_message(link) for link in links_below(out_dir)[:MAX_REPORTED]]
    if problems:
        raise UserError([Problem("wanflow", None, None, "--out", message) for message in problems])
    other = _owner(out_dir)
    if other is not None and other != owner:
        message = (
            f"{out_dir} holds the outputs of {other}; {owner} has the same name: rename one, or give it another --out"
        )
        raise UserError(Problem("wanflow", None, None, "--out", message))
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


def _owner(out_dir: Path) -> str | None:
    """The spec the folder's outputs belong to, as recorded (None when unrecorded or unreadable)."""
    try:
        return read_bounded(out_dir / OWNER_NAME, 4096).decode("utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def spec_name(spec_path: Path) -> str:
    """The spec as its repository names it (`specs/film.yaml`): what its output folder records."""
    resolved = Path(spec_path).resolve()
    root = repository_root(resolved.parent)
    return resolved.relative_to(root).as_posix() if root in resolved.parents else str(resolved)


def claim(out_dir: Path, spec_path: Path) -> None:
    """Record which spec's outputs `out_dir` holds (when a run first writes its run.json there)."""
    if _owner(out_dir) is None:
        write_text_atomic(check_no_links(out_dir, out_dir / OWNER_NAME), spec_name(spec_path) + "\n")


@contextmanager
def writing(out_dir: Path) -> Iterator[None]:
    """Hold the folder's lock while a run writes there; what killed runs left is removed first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(check_no_links(out_dir, out_dir / LOCK_NAME)):
        remove_partials(out_dir)
        yield


def fresh_cut(stamp_path: Path, key: str, film: Path) -> dict | None:
    """`{"film": path, "report": {name: path}}` when the stamp says `film` (and its report) was cut
    from `key` and every file it lists is, in the stamp's folder, a regular file of the recorded
    size and sha256; else None (the film is cut again). Paths are whole, inside the folder."""
    folder = stamp_path.parent
    try:
        stamp = json.loads(read_bounded(stamp_path, MAX_RECORD_BYTES).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: a forged stamp nested too deep
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT or stamp.get("key") != key:
        return None
    files, report = stamp.get("files"), stamp.get("report")
    if not isinstance(files, dict) or not isinstance(report, dict) or stamp.get("film") != film.name:
        return None
    if not all(isinstance(name, str) for name in report.values()):
        return None
    if film.parent != folder or not {film.name, *report.values()} <= set(files):
        return None
    for name, recorded in files.items():
        if not _intact(folder, name, recorded):
            return None
    return {"film": str(film), "report": {str(kind): str(folder / name) for kind, name in report.items()}}


def _intact(folder: Path, name: object, recorded: object) -> bool:
    """`name` is a plain file name in `folder`, a regular file with the recorded size and sha256."""
    if not isinstance(name, str) or not isinstance(recorded, dict) or not _plain_name(name):
        return False
    path = folder / name
    try:
        status = os.lstat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size != recorded.get("size"):
            return False
        return sha256_of_file(path) == recorded.get("sha256")  # a regular file of the size checked: bounded
    except OSError:
        return False


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def stamp_cut(stamp_path: Path, key: str, film: str, report: dict[str, str], extra: list[Path]) -> None:
    """Record the cut: its key, and the size and sha256 of the film, the report and `extra` files
    (all in the stamp's folder; recorded by name)."""
    folder = stamp_path.parent.resolve()
    paths = [Path(film), *map(Path, report.values()), *extra]
    if any(path.parent.resolve() != folder or not is_regular_file(path) for path in paths):
        stamp_path.unlink(missing_ok=True)  # a file elsewhere cannot be vouched for: the next run cuts again
        return
    files = {path.name: {"size": os.stat(path).st_size, "sha256": sha256_of_file(path)} for path in paths}
    names = {kind: Path(path).name for kind, path in report.items()}
    stamp = {"format": STAMP_FORMAT, "key": key, "film": Path(film).name, "report": names, "files": files}
    write_text_atomic(stamp_path, json.dumps(stamp, indent=2, ensure_ascii=False))
