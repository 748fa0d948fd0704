"""No link is followed inside the folders wanflow writes and deletes: `--out`, the cache, the models.

A storyboard repository comes from someone else, and its `out/` and `.wanflow/cache` may be
committed with it. A link committed below them (`out/film/clips -> ~`, `.wanflow/cache/.scratch
-> /`) would make a run write, or `cache gc` delete, outside the repository. So below a folder
already checked, every path wanflow makes, replaces or removes is checked component by
component with `lstat` (a link is seen, never followed), and a link is refused or skipped and
reported: never written through, never deleted through.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from wanflow.errors import Problem, UserError

MAX_REPORTED = 20  # links named in one message; a folder full of them is named by its first few


class LinkError(OSError):
    """A path below a checked folder is a link or passes through one (the message names it)."""


def link_message(link: Path) -> str:
    return f"{link} is a link; wanflow never writes or deletes through a link there: remove it"


def refuse_links(base: Path, *paths: Path) -> None:
    """UserError (exit 2, one line) when one of `paths` below `base` passes through a link."""
    links = [link for path in paths if (link := first_link(base, path)) is not None]
    if links:
        raise UserError([Problem(str(base), None, None, "", link_message(link)) for link in dict.fromkeys(links)])


def first_link(base: Path, path: Path) -> Path | None:
    """The first component of `path` below `base` that is a link (`base` itself is trusted), or
    None. Components that do not exist yet are fine: wanflow makes them as real folders."""
    current = base
    for part in Path(path).relative_to(base).parts:
        if part == "..":
            return current / part  # never produced by wanflow's own joins: treat as unsafe
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return current
    return None


def check_no_links(base: Path, path: Path) -> Path:
    """`path` itself when no component below `base` is a link; LinkError otherwise."""
    link = first_link(base, path)
    if link is not None:
        raise LinkError(link_message(link))
    return path


def make_folders(base: Path, path: Path) -> Path:
    """`mkdir -p path` below `base` that never passes through a link (LinkError on one)."""
    check_no_links(base, path)
    current = base
    for part in Path(path).relative_to(base).parts:
        current = current / part
        try:
            os.mkdir(current)  # makes a real folder; an existing link fails here, it is not followed
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                message = link_message(current) if os.path.islink(current) else f"{current} is not a folder"
                raise LinkError(message) from None
    return path


def links_below(folder: Path, depth: int | None = None) -> list[Path]:
    """Every link at or below `folder` (at most `depth` levels down), found without following any.

    One `scandir` per folder, the entry types from it: cheap on a cache of many entries."""
    if os.path.islink(folder):
        return [Path(folder)]
    found: list[Path] = []
    pending = [(Path(folder), 1)] if os.path.isdir(folder) else []
    while pending:
        current, level = pending.pop()
        try:
            with os.scandir(current) as listing:
                for entry in listing:
                    if entry.is_symlink():
                        found.append(current / entry.name)
                    elif entry.is_dir(follow_symlinks=False) and (depth is None or level < depth):
                        pending.append((current / entry.name, level + 1))
        except (FileNotFoundError, NotADirectoryError):  # removed meanwhile (another run's gc)
            continue
    return sorted(found)


def is_regular_file(path: Path) -> bool:
    """`path` is a regular file itself (not a link to one, not a FIFO or a device)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def is_real_folder(path: Path) -> bool:
    """`path` is a folder itself (not a link to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a record wanflow wrote (a stamp, a meta.json), read as untrusted input: a
    regular file itself (opened without following a link or waiting on a FIFO), at most `limit`
    bytes. OSError otherwise."""
    handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path} is not a regular file")
        if status.st_size > limit:
            raise OSError(f"{path} is {status.st_size} bytes, more than a record of {limit} bytes")
        with os.fdopen(handle, "rb", closefd=False) as stream:
            data = stream.read(limit + 1)
    finally:
        os.close(handle)
    if len(data) > limit:
        raise OSError(f"{path} grew past {limit} bytes while read")
    return data
