"""A length the chosen model cannot render, reported at the `duration:`/`frames:` the user wrote.

`validate` bounds a shot by the slowest frame rate; the model a profile picks may run faster
(TI2V-5B: 24 fps), so a 14 s shot validates and is 337 frames on it. The plan says so at the
line that set the length, in validate's path style, with the value that would fit.
"""

from __future__ import annotations

from dataclasses import replace

from wanflow.catalog import MAX_FRAMES, BackendSpec
from wanflow.errors import Problem
from wanflow.film import Shot


def request_problem(problem: Problem, shot: Shot, spec: BackendSpec, frames: int) -> Problem:
    """A render request's problem for the plan: about its length at the `duration:`/`frames:`
    written, any other at the shot (`shots.<id>.<field>`)."""
    if problem.field == "frames":
        return length_problem(problem, shot, spec, frames)
    return replace(problem, field=f"shots.{shot.id}.{problem.field}")


def length_problem(problem: Problem, shot: Shot, spec: BackendSpec, frames: int) -> Problem:
    """`problem` (about the shot's frames) moved to where its length is written; the fix for a long one."""
    spot = shot.length_at
    if spot is None:
        return problem
    message = problem.message
    if frames > MAX_FRAMES:
        if spot.path.endswith(".duration") and shot.duration is not None:
            seconds = (MAX_FRAMES - 1) / spec.fps
            message = (
                f"{shot.duration:g} s is {frames} frames at {spec.id}'s {spec.fps} fps, more than the {MAX_FRAMES} "
                f"one generation makes; write `duration: {seconds:g}` or less, or split the shot in two"
            )
        else:
            message = f"{frames} frames is more than the {MAX_FRAMES} one generation makes; write `frames: {MAX_FRAMES}` or less, or split the shot in two"
    return Problem(problem.file, spot.line, spot.column, spot.path, message)
