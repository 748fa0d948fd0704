"""`end_at:` checks on the raw storyboard: the named shot exists, and no shot waits on itself.

A shot that ends on another shot's first frame takes that shot's `image:` when it has one;
otherwise it waits until that shot is rendered and takes its first frame. Waiting is also what
`continue_from:` does (on the upstream's last frame), so `end_at:` must not close a loop: a
shot cannot end on a shot that continues, directly or further up, from itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wanflow.storyboard.fields import did_you_mean

Loc = list[str | int]


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def end_at_problems(shots: list[tuple[str, Loc, dict[str, Any]]], add: Callable[[Loc, str], None]) -> None:
    """One problem per `end_at:` that names no other shot, or that makes a shot wait on itself."""
    raw = {shot_id: shot for shot_id, _, shot in shots}

    def waits_on(shot_id: str) -> list[str]:
        """The shots that must be rendered before this one."""
        shot = raw.get(shot_id, {})
        needs = [_text(shot.get("continue_from"))]
        target = _text(shot.get("end_at"))
        if target in raw and raw[target].get("image") is None:
            needs.append(target)
        return [need for need in needs if need in raw]

    for shot_id, loc, shot in shots:
        target = _text(shot.get("end_at"))
        if target is None:
            continue
        if target == shot_id:
            add([*loc, "end_at"], "a shot cannot end on its own first frame")
        elif target not in raw:
            add([*loc, "end_at"], f"unknown shot {target!r}{did_you_mean(target, list(raw))}")
        elif raw[target].get("image") is None and _reaches(target, shot_id, waits_on):
            add(
                [*loc, "end_at"],
                f"{target!r} is rendered after {shot_id!r} (it continues from it): "
                f"{shot_id!r} cannot end on its rendered first frame",
            )


def _reaches(start: str, goal: str, waits_on: Callable[[str], list[str]]) -> bool:
    seen, pending = set(), [start]
    while pending:
        current = pending.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            pending += waits_on(current)
    return False
