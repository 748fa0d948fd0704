"""The content-addressed artifact store: every expensive intermediate kept once, checked on read.

Prompt embeddings, latents and decoded clips cost GPU minutes. Each is stored under the hash
of everything that decides its bytes, so changing one shot renders only that shot again.
An entry appears by one atomic directory rename (a crash never leaves a half entry that reads
as complete), reads check sha256 against meta.json (a corrupt entry reads as missing and is
rebuilt), and a per-key file lock lets two runs, or two machines sharing the folder, render a
key once. Maintenance (listing, sizes, gc, verify) lives in `wanflow.cache.admin`.

Layout: `<root>/<kind>/<key[:2]>/<key>/{meta.json, last_used, data files}`,
temp dirs `<root>/<kind>/.tmp-*`, locks `<root>/.locks/<kind>-<key>.lock`, staging `<root>/.scratch/`.
The cache may be committed with a storyboard: nothing below the root is written, removed or read
through a link (`wanflow.nofollow`), and meta.json is read as untrusted input (bounded).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import filelock

from wanflow import settings
from wanflow.hashing import check_plain, json_sha256, sha256_of_file
from wanflow.nofollow import check_no_links, first_link, make_folders, read_bounded

CODE_VERSION = "1"
"""Bump when generation code changes what a key produces: every key changes with it."""

logger = logging.getLogger("wanflow.cache.store")

META_NAME = "meta.json"
LAST_USED_NAME = "last_used"
FILE_STEM = "data"
LOCKS_DIR = ".locks"
TEMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
SCRATCH_DIR = ".scratch"
RECORD_FORMAT = 1
MAX_META_BYTES = 1 << 20  # a meta.json is a few KB; a bigger one is not the store's

KIND_PATTERN = re.compile(r"[a-z0-9_-]+")
KINDS = (
    "embeds",
    "latents",
    "clips",
    "sounds",
)  # what a run writes: prompt embeddings, latents, clips, soundtrack mixes
KEY_PATTERN = re.compile(r"[0-9a-f]{64}")
_Data = TypeVar("_Data")


def default_cache_dir(spec_path: Path | None) -> Path:
    """`$WANFLOW_CACHE`, else `.wanflow/cache` at the root of the storyboard's repository.

    The root is the nearest folder holding `.git`, from the spec's folder upwards (from the
    current directory for a command without a SPEC); outside a repository, the spec's folder
    (the current directory). So `wanflow run specs/film.yaml` and `wanflow cache ls`, both from
    anywhere in the repository, use one cache. A `--cache DIR` option, where a command has one,
    wins over both: `option or default_cache_dir(spec)`.
    """
    from_env = settings.current().cache
    if from_env:
        return from_env.expanduser()
    start = spec_path.resolve().parent if spec_path is not None else Path.cwd().resolve()
    root = next((folder for folder in (start, *start.parents) if (folder / ".git").exists()), start)
    return root / ".wanflow" / "cache"


def check_kind(kind: str) -> None:
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"cache kind {kind!r} must match [a-z0-9_-]+")


def check_key(key: str) -> None:
    if not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"cache key {key!r} is not a sha256 hex digest")


@dataclass(frozen=True)
class CorruptEntry:
    """An entry that failed its check: the reason says what was wrong."""

    kind: str
    key: str
    path: Path
    reason: str


class CorruptError(Exception):
    """Raised inside the store when an entry fails its check; callers see `None` instead."""


class ArtifactStore:
    """A cache folder. Safe to share between processes and, with working locks, machines."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.discarded: list[CorruptEntry] = []  # corrupt entries this store removed on read

    @staticmethod
    def key(kind: str, payload: Mapping[str, object]) -> str:
        """sha256 of the canonical JSON of {kind, code: CODE_VERSION, **payload}."""
        check_kind(kind)
        if not isinstance(payload, Mapping):
            raise TypeError(f"payload must be a mapping, not {type(payload).__name__}")
        reserved = {"kind", "code"} & set(payload)
        if reserved:
            raise ValueError(f"payload may not use the reserved field(s) {sorted(reserved)}")
        document = {"kind": kind, "code": CODE_VERSION, **payload}
        return json_sha256(document)

    def entry_dir(self, kind: str, key: str) -> Path:
        check_kind(kind)
        check_key(key)
        return self.root / kind / key[:2] / key

    def lock(self, kind: str, key: str) -> filelock.FileLock:
        """The key's cross-process lock: `with store.lock(kind, key):` waits for another holder.

        One lock object per path in a process (re-entrant in the same thread), so a store's own
        housekeeping never deadlocks against a caller holding the lock.
        """
        check_kind(kind)
        check_key(key)
        path = (self.root / LOCKS_DIR / f"{kind}-{key}.lock").absolute()
        self._folders(path.parent)
        return filelock.FileLock(check_no_links(self.root.absolute(), path), is_singleton=True)

    def _folders(self, folder: Path) -> Path:
        """`folder` below the root, made as real folders; LinkError where a link is in the way."""
        self.root.mkdir(parents=True, exist_ok=True)
        return make_folders(self.root.absolute(), folder.absolute())

    def has(self, kind: str, key: str) -> bool:
        """A complete entry exists (cheap: contents are checked by the reads)."""
        return (self.entry_dir(kind, key) / META_NAME).is_file()

    # ---- writing -------------------------------------------------------------------------

    def put_data(self, kind: str, key: str, name: str, write: Callable[[Path], None], meta: dict[str, Any]) -> Path:
        """Store one file that `write(path)` makes (tensors, say: the store knows no codec); returns the entry dir."""
        return self._put(kind, key, meta, lambda temp_dir: write(temp_dir / name))

    def put_file(self, kind: str, key: str, src: Path, meta: dict[str, Any]) -> Path:
        """Move a finished file in (it keeps its suffix: `data.mp4`); returns the stored path."""
        src = Path(src)
        if not src.is_file():
            raise FileNotFoundError(f"{src} is not a file")
        stored_name = FILE_STEM + src.suffix

        def write(temp_dir: Path) -> None:
            shutil.move(src, temp_dir / stored_name)

        def undo(temp_dir: Path) -> None:
            # The put failed after the move: give the caller its file back.
            moved = temp_dir / stored_name
            if moved.exists() and not src.exists():
                shutil.move(moved, src)

        return self._put(kind, key, meta, write, undo) / stored_name

    def _put(
        self,
        kind: str,
        key: str,
        meta: dict[str, Any],
        write: Callable[[Path], None],
        undo: Callable[[Path], None] | None = None,
    ) -> Path:
        final = self.entry_dir(kind, key)
        check_plain(meta, "meta")
        kind_dir = self._folders(self.root / kind)
        if self.lock(kind, key).is_locked:  # no other writer of this key: its temp dirs are a killed run's
            for stale in kind_dir.glob(f"{TEMP_PREFIX}{key[:16]}-*"):
                shutil.rmtree(stale, ignore_errors=True)
        temp_dir = kind_dir / f"{TEMP_PREFIX}{key[:16]}-{uuid.uuid4().hex[:8]}"
        temp_dir.mkdir()
        try:
            write(temp_dir)
            files = {}
            for path in sorted(temp_dir.iterdir()):
                _fsync(path)
                files[path.name] = {"size": path.stat().st_size, "sha256": sha256_of_file(path)}
            record = {
                "format": RECORD_FORMAT,
                "kind": kind,
                "key": key,
                "code": CODE_VERSION,
                "created": datetime.now(UTC).isoformat(),
                "files": files,
                "meta": meta,
            }
            meta_path = temp_dir / META_NAME
            meta_path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
            _fsync(meta_path)
            (temp_dir / LAST_USED_NAME).touch()
            self._folders(final.parent)
            self._move_into_place(temp_dir, check_no_links(self.root.absolute(), final.absolute()))
        except BaseException:
            if undo is not None:
                undo(temp_dir)
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        return final

    def _move_into_place(self, temp_dir: Path, final: Path) -> None:
        try:
            os.rename(temp_dir, final)
        except OSError:
            if not final.exists():
                raise
            # The newest put wins: a forced re-render, or a corrupt entry being rebuilt.
            self.remove_dir(final)
            os.rename(temp_dir, final)

    # ---- reading -------------------------------------------------------------------------

    def get_data(
        self, kind: str, key: str, name: str, read: Callable[[Path], _Data]
    ) -> tuple[_Data, dict[str, Any]] | None:
        """`read(path)` of the stored file and the caller's meta, or None when missing or corrupt.

        Whatever `read` raises marks the entry corrupt: it is discarded and rebuilt by the caller.
        """

        def load(entry_dir: Path, record: dict[str, Any]) -> _Data:
            if name not in record["files"]:
                raise CorruptError(f"holds no {name}")
            try:
                return read(entry_dir / name)
            except Exception as error:  # the codec's own error types
                raise CorruptError(f"unreadable {name}: {error}") from error

        found = self._read(kind, key, load)
        return None if found is None else (found[0], found[1]["meta"])

    def get_file(self, kind: str, key: str, check: Callable[[Path], object] | None = None) -> Path | None:
        """The stored file's path, or None when missing or corrupt.

        `check(path)` says the file is what the kind holds (a clip is an mp4, not a playlist); what
        it raises marks the entry corrupt, as a failed sha256 does: it is discarded and rebuilt.
        """

        def locate(entry_dir: Path, record: dict[str, Any]) -> Path:
            if len(record["files"]) != 1:
                raise CorruptError(f"holds {len(record['files'])} data files, not one")
            (name,) = record["files"]
            if check is not None:
                try:
                    check(entry_dir / name)
                except Exception as error:  # the checker's own error types
                    raise CorruptError(f"{name} is not what a {kind} entry holds: {error}") from error
            return entry_dir / name

        found = self._read(kind, key, locate)
        return None if found is None else found[0]

    def _read(
        self, kind: str, key: str, open_data: Callable[[Path, dict[str, Any]], _Data]
    ) -> tuple[_Data, dict[str, Any]] | None:
        entry_dir = self.entry_dir(kind, key)
        if not entry_dir.exists():
            return None
        link = first_link(self.root.absolute(), entry_dir.absolute())
        if link is not None:  # committed with the storyboard, say: never read, never removed through
            logger.warning("cache entry %s/%s passes through the link %s: read as missing", kind, key, link)
            return None
        seen = self.stamp(kind, key)
        try:
            record = self.checked_record(kind, key)
            data = open_data(entry_dir, record)
        except CorruptError as error:
            self.discard(kind, key, str(error), seen)
            return None
        _touch(entry_dir / LAST_USED_NAME)
        return data, record

    def get_meta(self, kind: str, key: str) -> dict[str, Any] | None:
        """The caller's meta of an entry, unchecked and cheap (for reports); None when unreadable."""
        try:
            record = json.loads(read_bounded(self.entry_dir(kind, key) / META_NAME, MAX_META_BYTES))
            return dict(record["meta"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def scratch_dir(self) -> Path:
        """`<root>/.scratch/`: stage a file here before `put_file` (same filesystem, so a rename).

        Files left here (by a crash) are removed by gc once an hour old.
        """
        return self._folders(self.root / SCRATCH_DIR)

    def checked_record(self, kind: str, key: str) -> dict[str, Any]:
        """The entry's meta.json record after checking every data file's size and sha256."""
        entry_dir = self.entry_dir(kind, key)
        try:
            record = json.loads(read_bounded(entry_dir / META_NAME, MAX_META_BYTES))
        except FileNotFoundError:
            raise CorruptError("meta.json is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise CorruptError(f"meta.json is unreadable: {error}") from None
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict) or "meta" not in record:
            raise CorruptError("meta.json lacks its files/meta fields")
        if record.get("kind") != kind or record.get("key") != key:
            raise CorruptError(f"meta.json describes {record.get('kind')}/{record.get('key')}")
        for name, expected in record["files"].items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
                raise CorruptError(f"meta.json names {name!r}, not a file of the entry")
            path = entry_dir / name
            try:
                status = path.lstat()
                if not stat.S_ISREG(status.st_mode):
                    raise CorruptError(f"{name} is not a regular file (a link?)")
                size = status.st_size
                if size != expected["size"]:
                    raise CorruptError(f"{name} is {size} bytes, expected {expected['size']} (truncated?)")
                if sha256_of_file(path) != expected["sha256"]:
                    raise CorruptError(f"{name} fails its sha256 check (bit rot or overwritten)")
            except FileNotFoundError:
                raise CorruptError(f"{name} is missing") from None
            except (OSError, KeyError, TypeError) as error:
                raise CorruptError(f"{name} cannot be checked: {error!r}") from None
        return record

    # ---- removing ------------------------------------------------------------------------

    def stamp(self, kind: str, key: str) -> tuple[int, int] | None:
        """Identity of the entry's meta.json (inode, mtime): tells a rebuilt entry from the one checked."""
        try:
            status = (self.entry_dir(kind, key) / META_NAME).stat()
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns

    def discard(self, kind: str, key: str, reason: str, seen: tuple[int, int] | None) -> bool:
        """Remove a corrupt entry (warning on `wanflow.cache.store`); True when it was removed.

        `seen` is `stamp()` from before the failed check: an entry rebuilt since is kept. Only
        under the key's lock, taken without waiting: a holder is rebuilding the key, and its
        put replaces the corrupt entry.
        """
        entry_dir = self.entry_dir(kind, key)
        try:
            with self.lock(kind, key).acquire(timeout=0):
                if not entry_dir.exists() or self.stamp(kind, key) != seen:
                    return False
                logger.warning("discarding corrupt cache entry %s/%s (%s); it will be rebuilt", kind, key, reason)
                self.remove_dir(entry_dir)
        except filelock.Timeout:
            logger.warning("corrupt cache entry %s/%s (%s) is locked by a run that will replace it", kind, key, reason)
            return False
        except OSError as error:  # a read-only cache: the entry reads as missing, and stays
            logger.warning("corrupt cache entry %s/%s (%s) cannot be removed: %s", kind, key, reason, error)
            return False
        self.discarded.append(CorruptEntry(kind=kind, key=key, path=entry_dir, reason=reason))
        return True

    def remove_dir(self, path: Path) -> None:
        """Rename aside first (readers see all or nothing), then delete."""
        trash = path.parent.parent / f"{TRASH_PREFIX}{uuid.uuid4().hex[:12]}"
        check_no_links(self.root.absolute(), path.absolute())
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)


def _touch(path: Path) -> None:
    # last_used's mtime is what gc --older-than reads; a read-only cache simply keeps its ages.
    # A link there is touched itself, never the file it names.
    try:
        os.utime(path, follow_symlinks=False)
    except FileNotFoundError:
        path.touch()
    except OSError:
        logger.debug("cannot record the last use of %s", path.parent)


def _fsync(path: Path) -> None:
    # Data reaches the disk before the rename publishes it, so a power cut cannot publish zeros.
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
