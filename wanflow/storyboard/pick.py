"""`wanflow pick`: the take of a shot the film uses, written into the storyboard as `take: K`.

The choice is part of the film, so it lives in the versioned storyboard, not in a side file:
one line changes (`take: K` set, or added under the shot's `id`), every comment and every other
line stays as written, and the result is checked like any storyboard before it replaces the
file. Nothing renders again: each take has its own cache keys, so the next run finds the chosen
take in the cache and only cuts the film again.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wanflow.atomic import atomic_path
from wanflow.errors import Problem, UserError
from wanflow.film import Film
from wanflow.storyboard.fields import did_you_mean
from wanflow.storyboard.load import load_film
from wanflow.storyboard.roundtrip import EditRefused, YAMLError, set_key


@dataclass(frozen=True)
class Pick:
    path: Path
    shot_id: str
    take: int
    previous: int  # the take the film used before
    line: int | None  # 1-based line of `take:` in the file; None when nothing changed
    inserted: bool = False  # `take:` was added (the shot had none)
    continuations: tuple[str, ...] = ()  # shots that start on this one's last frame: they render again

    @property
    def changed(self) -> bool:
        return self.line is not None


def pick_take(path: Path, shot_id: str, take: int) -> Pick:
    """Write `take: K` into shot `shot_id` of the storyboard at `path`; UserError and no write otherwise."""
    path = Path(path)
    film = load_film(path)  # an invalid storyboard is reported as `validate` reports it, untouched
    file = str(path)
    shot = next((s for s in film.shots if s.id == shot_id), None)
    if shot is None:
        ids = [s.id for s in film.shots]
        hint = did_you_mean(shot_id, ids) or f" (shots: {', '.join(ids)})"
        raise UserError(Problem(file, None, None, "SHOT", f"no shot {shot_id!r} in the storyboard{hint}"))
    where = f"shots.{shot.id}.take"
    if not 1 <= take <= shot.takes:
        count = f"{shot.takes} take{'s' if shot.takes != 1 else ''}"
        message = f"take {take} is not one of the shot's {count}; choose 1 .. {shot.takes}"
        if take > shot.takes:
            message += f", or set takes: {take} on the shot and render them first"
        raise UserError(Problem(file, shot.line, None, where, message))
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    try:
        edit = set_key(text, lambda document: _shot_mapping(document, shot_id), "take", take, after="id")
    except (EditRefused, YAMLError) as error:
        message = (
            f"cannot write take: {take} without changing other lines ({error}); write it under the shot's id by hand"
        )
        raise UserError(Problem(file, shot.line, None, where, message)) from None
    if edit.text == text:
        return Pick(path, shot_id, take, shot.take, None)
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    with atomic_path(path) as temp:
        temp.write_bytes(bom + edit.text.encode("utf-8"))
        os.chmod(temp, path.stat().st_mode & 0o7777)
        _check(temp, file, shot_id, take)
    return Pick(path, shot_id, take, shot.take, edit.line, edit.inserted, _continuations(film, shot_id))


def _continuations(film: Film, shot_id: str) -> tuple[str, ...]:
    """Shots that render again, transitively: those continuing from this one (their start frame is
    the chosen take's last) and those ending on its rendered first frame (`end_at:` a shot without image)."""
    found = [shot_id]
    changed = True
    while changed:  # end_at can point forward in the film: until nothing is added
        changed = False
        for shot in film.shots:
            ends_on = shot.end_at if shot.end_at and film.shot(shot.end_at).image is None else None
            if shot.id not in found and (shot.continue_from in found or ends_on in found):
                found.append(shot.id)
                changed = True
    return tuple(found[1:])


def _shot_mapping(document: Any, shot_id: str) -> Any:
    for scene in document["scenes"]:
        for shot in scene["shots"]:
            if str(shot["id"]) == shot_id:
                return shot
    raise EditRefused(f"shot {shot_id!r} not found where ruamel.yaml reads the file")


def _check(temp: Path, file: str, shot_id: str, take: int) -> None:
    """The edited storyboard is valid and chooses `take` (else the file is left as it was)."""
    try:
        film = load_film(temp)
    except UserError as error:
        raise UserError([replace(problem, file=file) for problem in error.problems]) from None
    if film.shot(shot_id).take != take:
        raise UserError(Problem(file, None, None, "SHOT", f"take: {take} did not land on shot {shot_id!r}"))
