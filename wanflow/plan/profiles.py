"""Render profiles: the built-in tiers (wanflow.catalog) and the spec's own, by name."""

from __future__ import annotations

import difflib

from wanflow.catalog import BUILTIN_PROFILES
from wanflow.errors import Problem, UserError
from wanflow.film import Film, ProfileSpec


def available_profiles(film: Film) -> dict[str, ProfileSpec]:
    """Built-in profiles, overridden or extended by the spec's own."""
    return {**BUILTIN_PROFILES, **film.profiles}


def resolve_profile(film: Film, name: str) -> ProfileSpec:
    profiles = available_profiles(film)
    if name not in profiles:
        known = ", ".join(sorted(profiles))
        close = difflib.get_close_matches(name, list(profiles), n=1, cutoff=0.6)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        message = f"unknown profile {name!r}{guess} (known: {known})"
        raise UserError(Problem(str(film.path), None, None, "--profile", message))
    return profiles[name]
