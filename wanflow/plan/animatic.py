"""The animatic's part of a plan: where each take's drawing starts, its panel, and its keys.

An animatic clip is keyed on what draws it and nothing else (`TakeSettings.animatic_payload`:
size, frames, fps, framing, camera, starting view, seed, the start image's bytes or the
upstream's clip key, the end image's bytes or the key of the clip whose first frame ends it;
plus the panel's words for a text-only shot). A start image shot's prompt
draws nothing, so rewording it keeps its clip; an edit upstream draws its continuations again.
"""

from __future__ import annotations

import dataclasses

from wanflow.cache.store import ArtifactStore
from wanflow.film import Film, Shot
from wanflow.grammar.files import load_vocabulary, packaged_grammar_dir
from wanflow.media.animatic_moves import View, starting_view
from wanflow.media.animatic_panel import Panel, shot_panel
from wanflow.take import JobKeys, TakeSettings

DRAWING = 1  # the drawing's version: bumped when an unchanged take would be drawn differently


def start_view(shot: Shot, take: int, seed: int) -> tuple[float, float, float]:
    """A start image starts on its shot size's crop (another take on a crop of its own); a
    continuation exactly on its upstream's last frame; a text-only shot on its whole panel."""
    view = starting_view(_first(shot.look.shot_size), seed if take > 1 else None) if shot.image else View()
    return (view.zoom, view.x, view.y)


def panel_of(film: Film, shot: Shot) -> Panel | None:
    """A text-only shot's panel, its terms named in the film's own vocabulary."""
    if shot.image_conditioned:
        return None
    return shot_panel(shot, load_vocabulary(film.grammar_dir or packaged_grammar_dir()))


def animatic_keys(
    take: TakeSettings, panel: Panel | None, upstream_clip: str | None, end_clip: str | None = None
) -> JobKeys:
    """An animatic take has one artifact, its clip; its other keys name that clip too (it has no
    prompt embeddings or latents to look up)."""
    payload: dict[str, object] = {"animatic": DRAWING, **take.animatic_payload(upstream_clip, end_clip)}
    if panel is not None:
        payload["panel"] = dataclasses.asdict(panel)
    clip = ArtifactStore.key("clips", payload)
    return JobKeys(prompt=clip, negative=clip, latents=clip, clip=clip)


def _first(value: str | tuple[str, ...] | None) -> str | None:
    """A look field's term (a list-valued field's first)."""
    if value is None or isinstance(value, str):
        return value
    return value[0] if value else None
