"""Render profiles: which backend renders which shot, at what size and effort.

`preview` is a wiring check on tiny random-weight models (its pictures are noise), `draft`
renders every shot on TI2V-5B (a 24 GB card), `final` uses the two-expert A14B models
(80 GB cards). A spec may declare its own profiles beside these.
"""

from __future__ import annotations

from wanflow.errors import Problem, UserError
from wanflow.film import Film, ProfileSpec

PREVIEW_SIZE = (256, 144)  # 16:9, a multiple of 16: fine for every tiny model
PREVIEW_STEPS = 4

BUILTIN_PROFILES: dict[str, ProfileSpec] = {
    "preview": ProfileSpec(
        name="preview",
        text_backend="t2v-a14b",
        image_backend="i2v-a14b",
        width=PREVIEW_SIZE[0],
        height=PREVIEW_SIZE[1],
        steps=PREVIEW_STEPS,
        tiny=True,
    ),
    "draft": ProfileSpec(name="draft", text_backend="ti2v-5b", image_backend="ti2v-5b"),
    "final": ProfileSpec(name="final", text_backend="t2v-a14b", image_backend="i2v-a14b"),
}


def available_profiles(film: Film) -> dict[str, ProfileSpec]:
    """Built-in profiles, overridden or extended by the spec's own."""
    return {**BUILTIN_PROFILES, **film.profiles}


def resolve_profile(film: Film, name: str) -> ProfileSpec:
    profiles = available_profiles(film)
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        raise UserError(Problem(str(film.path), None, None, "--profile", f"unknown profile {name!r}; known: {known}"))
    return profiles[name]
