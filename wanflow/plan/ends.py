"""A shot's end frame (first-last-frame): `end_image:`, or `end_at:` another shot's first frame.

`end_at: B` ends on B's first frame: B's `image:` when it has one (a file, known at plan time),
else B's rendered first frame, so the shot waits for B's clip (the take of B the film uses).
Only I2V-A14B takes a last frame (diffusers' WanImageToVideoPipeline `last_image`); TI2V-5B's
image mode ignores it and T2V-A14B takes no image, so a shot routed to them is refused here,
naming the backend that can. Pure: no file is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from wanflow.catalog import BACKENDS, BackendSpec
from wanflow.errors import Problem
from wanflow.film import Film, Shot


@dataclass(frozen=True)
class EndFrame:
    """Where a shot's last frame comes from: a file, or the first frame of a shot's rendered clip."""

    image: Path | None = None
    shot: str | None = None  # the shot whose rendered first frame it is

    def note(self) -> str:
        """For `wanflow plan`: what the shot ends on."""
        if self.shot is not None:
            return f"ends on the first frame of {self.shot} (rendered before it)"
        assert self.image is not None
        return f"ends on {self.image.name} (end frame, framed like the start frame)"


def end_frame(film: Film, shot: Shot) -> EndFrame | None:
    if shot.end_image is not None:
        return EndFrame(image=shot.end_image)
    if shot.end_at is None:
        return None
    target = film.shot(shot.end_at)
    return EndFrame(image=target.image) if target.image is not None else EndFrame(shot=target.id)


def render_order(film: Film) -> list[Shot]:
    """The film's shots, each after the shots whose clips it needs (its upstream, the shot whose
    rendered first frame ends it); film order where nothing says otherwise."""

    def needs(shot: Shot) -> tuple[str | None, ...]:
        end = end_frame(film, shot)
        return (shot.continue_from, end.shot if end else None)

    return _needed_first(film.shots, lambda shot: shot.id, needs)


class _Job(Protocol):
    @property
    def shot_id(self) -> str: ...
    @property
    def upstream(self) -> str | None: ...
    @property
    def end_shot(self) -> str | None: ...


J = TypeVar("J", bound=_Job)


def needed_first(jobs: Sequence[J]) -> list[J]:
    """Render jobs (one per shot), each after the jobs whose clips it needs."""
    return _needed_first(jobs, lambda job: job.shot_id, lambda job: (job.upstream, job.end_shot))


T = TypeVar("T")


def _needed_first(items: Sequence[T], name: Callable[[T], str], needs: Callable[[T], Sequence[str | None]]) -> list[T]:
    by_name = {name(item): item for item in items}
    done: set[str] = set()
    ordered: list[T] = []

    def visit(item: T) -> None:
        if name(item) in done:
            return
        done.add(name(item))  # the storyboard refuses loops (storyboard/ends.py)
        for needed in needs(item):
            if needed in by_name:
                visit(by_name[needed])
        ordered.append(item)

    for item in items:
        visit(item)
    return ordered


def end_problems(spec: BackendSpec, shot: Shot, where: Callable[[str, str], Problem]) -> list[Problem]:
    """One problem when the shot ends on a frame its backend cannot take."""
    if not shot.end_conditioned or spec.accepts_last_frame:
        return []
    can = ", ".join(backend.id for backend in BACKENDS.values() if backend.accepts_last_frame)
    field = "end_image" if shot.end_image is not None else "end_at"
    return [
        where(
            field,
            f"{spec.id} cannot end on a given frame; {can} can (set backend: {can.split(', ')[0]} on the shot, "
            "or use a profile whose image backend it is, e.g. final)",
        )
    ]
