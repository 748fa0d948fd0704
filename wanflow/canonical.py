"""Canonical JSON: one text per value, so equal inputs hash equal on every machine and run.

Cache keys are sha256 of this text. Only values with one obvious JSON form are accepted:
a Path, a set or a numpy integer must be turned into str/int/float/list by the caller, on purpose.
"""

from __future__ import annotations

import json
import math


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
