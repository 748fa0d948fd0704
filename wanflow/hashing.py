"""Content hashes: of files (start images, LoRAs, audio, cache entries) and of canonical JSON.

A cache key must change when a file's bytes change, not when it is touched or moved, and
hashing a 300 MB LoRA on every `wanflow plan` would be wasteful: `file_sha256` is memoised
on size and mtime, `sha256_of_file` always reads (for integrity checks). Cache keys are the
sha256 of `canonical_json`: one text per value, so equal inputs hash equal on every machine.
Only values with one obvious JSON form are accepted: a Path, a set or a numpy integer must
be turned into str/int/float/list by the caller, on purpose.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path

_CHUNK = 1 << 20


def sha256_of_file(path: Path | str) -> str:
    """Reads the whole file, every time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Memoised on (path, size, mtime): a run hashes each user file once."""
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=1024)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_of_file(path)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_sha256(value: object) -> str:
    return text_sha256(canonical_json(value))


def canonical_json(value: object) -> str:
    """One text per value: sorted keys, no whitespace, UTF-8, floats as their shortest repr."""
    check_plain(value, "payload")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def check_plain(value: object, where: str) -> None:
    """TypeError (ValueError for NaN/inf) for anything without one JSON text; `where` names it."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a finite number")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise TypeError(f"{where}: key {name!r} is not a string")
            check_plain(item, f"{where}.{name}")
        return
    raise TypeError(f"{where}: {type(value).__name__} is not str, int, float, bool, None, list or dict")
