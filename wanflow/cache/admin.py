"""Looking after a cache folder: list entries, sum sizes, collect garbage, verify everything.

Separate from the store's read/write path because it walks the whole folder; it reads no
tensors, so `wanflow cache ls` stays fast. `ArtifactStore.entries/du/gc/verify` call these.
A cache may be committed with a storyboard, links and all: the walk never follows a link, gc
removes only real folders and regular files of the store's own layout, and the links it meets
are reported (`GcResult.links`), never deleted through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from wanflow.cache.store import (
    KEY_PATTERN,
    KIND_PATTERN,
    LAST_USED_NAME,
    META_NAME,
    SCRATCH_DIR,
    TEMP_PREFIX,
    TRASH_PREFIX,
    CorruptEntry,
    CorruptError,
)
from wanflow.errors import Problem, UserError
from wanflow.nofollow import MAX_REPORTED, LinkError, is_real_folder, link_message, links_below, read_bounded

if TYPE_CHECKING:
    from wanflow.cache.store import ArtifactStore

STALE_TEMP_AGE = timedelta(hours=1)
"""A temp dir older than this belongs to a crashed put, not to one still writing."""


@dataclass(frozen=True)
class Entry:
    kind: str
    key: str
    path: Path
    size: int  # bytes on disk, all files of the entry
    created: datetime
    last_used: datetime
    meta: dict[str, Any] | None  # the caller's meta; None when meta.json is unreadable


@dataclass(frozen=True)
class KindUsage:
    kind: str
    entries: int
    size: int


@dataclass
class GcResult:
    dry_run: bool
    removed: list[Entry] = field(default_factory=list)  # would be removed, when dry_run
    kept: int = 0
    leftovers_removed: int = 0  # temp dirs of crashed puts, interrupted removals, stale scratch files
    freed: int = 0  # bytes, entries and leftovers
    links: list[Path] = field(default_factory=list)  # links in the cache: skipped, never followed


ENTRY_DEPTH = 3  # <root>/<kind>/<shard>/<key>: the files inside an entry are checked as each is read


def check_cache_links(root: Path) -> None:
    """UserError (one line per link) when a link is in the cache's folders, its locks, its scratch
    folder or in place of an entry: a run would write through it."""
    links = links_below(Path(root), ENTRY_DEPTH)
    if links:
        raise UserError([Problem("wanflow", None, None, "cache", link_message(link)) for link in links[:MAX_REPORTED]])


def entries(store: ArtifactStore, kind: str | None = None) -> Iterator[Entry]:
    """Every entry directory, complete or not, sorted by kind then key."""
    for kind_dir in _kind_dirs(store.root, kind):
        for shard in sorted(kind_dir.iterdir()):
            if shard.name.startswith(".") or not is_real_folder(shard):
                continue
            for entry_dir in sorted(shard.iterdir()):
                if KEY_PATTERN.fullmatch(entry_dir.name) and is_real_folder(entry_dir):
                    entry = _describe(kind_dir.name, entry_dir)
                    if entry is not None:
                        yield entry


def kinds(store: ArtifactStore) -> list[str]:
    """The kinds this cache holds a folder for (cheap: no entry is read)."""
    return [path.name for path in _kind_dirs(store.root, None)]


def du(store: ArtifactStore) -> list[KindUsage]:
    totals: dict[str, list[int]] = {}
    for entry in entries(store):
        count_and_size = totals.setdefault(entry.kind, [0, 0])
        count_and_size[0] += 1
        count_and_size[1] += entry.size
    return [KindUsage(kind=kind, entries=count, size=size) for kind, (count, size) in sorted(totals.items())]


def gc(
    store: ArtifactStore,
    keep: set[str] | None = None,
    older_than: timedelta | None = None,
    dry_run: bool = False,
) -> GcResult:
    """Remove entries that are neither in `keep` nor used within `older_than`.

    Each criterion given protects entries; with `keep` only, everything unreferenced goes;
    with `older_than` only, everything idle that long goes. Giving neither is refused rather
    than emptying the cache. Entries locked by a running build are left alone.
    """
    if keep is None and older_than is None:
        raise ValueError("gc needs keep and/or older_than; with neither it would remove everything")
    cutoff = datetime.now(UTC) - older_than if older_than is not None else None
    result = GcResult(dry_run=dry_run, links=links_below(store.root, ENTRY_DEPTH))
    for entry in list(entries(store)):
        referenced = keep is not None and entry.key in keep
        recent = cutoff is not None and entry.last_used > cutoff
        if referenced or recent:
            result.kept += 1
            continue
        if not dry_run and not _remove_unless_locked(store, entry):
            result.kept += 1  # a running render holds its lock
            continue
        result.removed.append(entry)
        result.freed += entry.size
    for leftover in _leftovers(store.root):
        result.leftovers_removed += 1
        result.freed += _tree_size(leftover)
        if dry_run:
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return result


def verify(
    store: ArtifactStore,
    kind: str | None = None,
    fix: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[CorruptEntry]:
    """Check every entry's files against its meta.json; with `fix`, remove the corrupt ones."""
    to_check = list(entries(store, kind))
    corrupt: list[CorruptEntry] = []
    for done, entry in enumerate(to_check, start=1):
        seen = store.stamp(entry.kind, entry.key)
        try:
            store.checked_record(entry.kind, entry.key)
        except CorruptError as error:
            corrupt.append(CorruptEntry(kind=entry.kind, key=entry.key, path=entry.path, reason=str(error)))
            if fix:
                store.discard(entry.kind, entry.key, str(error), seen)
        if progress is not None:
            progress(done, len(to_check))
    return corrupt


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `12h`, `7d`, `2w`, or a sum such as `1d12h`. ValueError otherwise."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    cleaned = text.strip().lower()
    if not re.fullmatch(r"(\d+[smhdw])+", cleaned):
        raise ValueError(f"{text!r} is not an age: write e.g. 30m, 12h, 7d, 2w or 1d12h")
    total = timedelta()
    for amount, unit in re.findall(r"(\d+)([smhdw])", cleaned):
        total += timedelta(**{units[unit]: int(amount)})
    return total


def _kind_dirs(root: Path, kind: str | None) -> list[Path]:
    if not root.is_dir():
        return []
    if kind is not None:
        return [root / kind] if is_real_folder(root / kind) else []
    return sorted(path for path in root.iterdir() if KIND_PATTERN.fullmatch(path.name) and is_real_folder(path))


def _describe(kind: str, entry_dir: Path) -> Entry | None:
    try:
        size = _tree_size(entry_dir)
        fallback_time = datetime.fromtimestamp(entry_dir.stat().st_mtime, UTC)
    except FileNotFoundError:  # removed while we looked (another machine's gc)
        return None
    meta: dict[str, Any] | None = None
    created = fallback_time
    try:
        record = json.loads(read_bounded(entry_dir / META_NAME, 1 << 20))
        meta = record["meta"]
        created = datetime.fromisoformat(record["created"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    try:
        last_used = datetime.fromtimestamp((entry_dir / LAST_USED_NAME).lstat().st_mtime, UTC)
    except OSError:
        last_used = created
    return Entry(
        kind=kind, key=entry_dir.name, path=entry_dir, size=size, created=created, last_used=last_used, meta=meta
    )


def _remove_unless_locked(store: ArtifactStore, entry: Entry) -> bool:
    try:
        with store.lock(entry.kind, entry.key).acquire(timeout=0):
            store.remove_dir(entry.path)
    except (filelock.Timeout, LinkError):  # a running render holds it; a link is in the way (reported)
        return False
    return True


def _leftovers(root: Path) -> list[Path]:
    stale_before = (datetime.now(UTC) - STALE_TEMP_AGE).timestamp()
    candidates = sorted((root / SCRATCH_DIR).iterdir()) if is_real_folder(root / SCRATCH_DIR) else []
    for kind_dir in _kind_dirs(root, None):
        candidates += sorted(p for p in kind_dir.iterdir() if p.name.startswith((TEMP_PREFIX, TRASH_PREFIX)))
    found = []
    for path in candidates:
        try:
            status = path.lstat()
        except FileNotFoundError:
            continue
        if not (stat.S_ISREG(status.st_mode) or stat.S_ISDIR(status.st_mode)):
            continue  # a link (reported by gc), a FIFO: not the store's to remove
        if path.name.startswith(TRASH_PREFIX) or status.st_mtime < stale_before:
            found.append(path)
    return found


def _tree_size(path: Path) -> int:
    """Bytes of the regular files at or below `path`, links not followed."""
    try:
        status = path.lstat()
    except FileNotFoundError:  # being removed meanwhile (another gc, a discard)
        return 0
    if not stat.S_ISDIR(status.st_mode):
        return status.st_size if stat.S_ISREG(status.st_mode) else 0
    total = 0
    for top, _dirs, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                status = os.lstat(os.path.join(top, name))
            except FileNotFoundError:
                continue
            total += status.st_size if stat.S_ISREG(status.st_mode) else 0
    return total
