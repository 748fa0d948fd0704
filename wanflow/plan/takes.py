"""Takes: several renders of one shot, each with its own seed, of which the film uses one.

Take 1 renders with the shot's own seed, so a storyboard without takes keeps its seeds, its
cache keys and its task names. Take k > 1 derives its seed from the shot's seed and k, so it
stays put while the shot's seed does. Each take is a job of the plan with its own cache keys:
a take is rendered once, ever, and choosing another one (`take:`) renders nothing.
"""

from __future__ import annotations

import hashlib

from wanflow.errors import Problem, UserError
from wanflow.film import MAX_TAKES, Shot


def take_seed(seed: int, take: int) -> int:
    """The seed of a take: the shot's own for take 1, a stable derivation for the others."""
    if take == 1:
        return seed
    digest = hashlib.sha256(f"{seed}\0take\0{take}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def take_name(shot_id: str, take: int) -> str:
    """`city` for take 1 (the shot as it was before takes), `city#2` for the second take."""
    return shot_id if take == 1 else f"{shot_id}#{take}"


def take_numbers(shot: Shot, override: int | None = None) -> tuple[int, ...]:
    """Takes 1 .. N (the shot's `takes:`, or `--takes N` for one run), always with the one the film uses."""
    count = override if override is not None else shot.takes
    return tuple(sorted({*range(1, count + 1), shot.take}))


def check_takes_option(takes: int | None) -> None:
    """`--takes N` is bounded like `takes:` in a storyboard."""
    if takes is not None and not 1 <= takes <= MAX_TAKES:
        raise UserError(Problem("wanflow", None, None, "--takes", f"must be 1 .. {MAX_TAKES}, not {takes}"))
