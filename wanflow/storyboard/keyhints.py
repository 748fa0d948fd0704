"""What an unknown key should have been: a near name, a key of this level under another name,
or a key of another level (a shot key dedented to the scene, a shot setting on the film).

An unknown key is most often a typo, a key from another tool's vocabulary (`width`, `path`,
`trim_start`), or a key written at the wrong indentation, which YAML accepts as a key of the
level around it. Each gets the sentence that fixes it.
"""

from __future__ import annotations

import difflib

from pydantic import BaseModel
from yaml.nodes import MappingNode, Node, ScalarNode

from wanflow.storyboard.fields import did_you_mean
from wanflow.storyboard.models import (
    AudioSpec,
    DefaultsSpec,
    FilmSpec,
    LookSpec,
    OutputSpec,
    ProfileSpecModel,
    SceneSpec,
    ShotSpec,
    TitleCardSpec,
)
from wanflow.yamlfile import node_position

# Levels whose keys a misplaced key may belong to, most likely first: (model, its keys are...).
_LEVELS: tuple[tuple[type[BaseModel], str], ...] = (
    (ShotSpec, "a shot key"),
    (LookSpec, "a look key (under a `look:`)"),
    (SceneSpec, "a scene key"),
    (FilmSpec, "a film key (at the top, not indented)"),
    (OutputSpec, "an output key (under `output:`)"),
    (AudioSpec, "a soundtrack key (in a `soundtrack:` item)"),
    (ProfileSpecModel, "a profile key (under `profiles: NAME:`)"),
    (TitleCardSpec, "a title card key (under `titles: opening:` or `ending:`)"),
)
_NAMES = {ShotSpec: "a shot", SceneSpec: "a scene", FilmSpec: "the film", DefaultsSpec: "defaults", LookSpec: "a look"}
# Other tools' names for a key of ours: (unknown key, our key, how it is written).
_SYNONYMS = {
    "width": ("size", "size: 1280x720"),
    "height": ("size", "size: 1280x720"),
    "resolution": ("size", "size: 1280x720"),
    "path": ("file", "file: ..."),
    "negative_prompt": ("negative", "negative: ..."),
}


def unknown_key_message(key: str, model: type[BaseModel] | None, mapping: Node | None) -> str:
    """`unknown key 'x'` and what it should have been, for a key of the mapping `model` reads."""
    message = f"unknown key {key!r}"
    if model is None:
        return message
    allowed = list(model.model_fields)
    if key in _SYNONYMS and _SYNONYMS[key][0] in allowed:
        return f"{message}; did you mean `{_SYNONYMS[key][1]}`?"
    prefix, _, suffix = key.partition("_")
    if suffix and prefix in allowed:
        inner = _model_of(model, prefix)
        if inner is not None and suffix in inner.model_fields:
            return f"{message}; did you mean `{prefix}: {{{suffix}: ...}}`?"
        return f"{message}; did you mean {prefix!r}?"
    return message + (did_you_mean(key, allowed) or _level_hint(key, model, mapping))


def _level_hint(key: str, model: type[BaseModel], mapping: Node | None) -> str:
    """Where `key` belongs when it is a key of another level."""
    if model is SceneSpec and key in ShotSpec.model_fields:
        column = _shot_id_column(mapping)
        hint = f"; `{key}:` is indented like a scene key; shot keys sit under the shot's `id`"
        hint += f" (column {column})" if column else ""
        return hint + (
            ", or under the scene's `defaults:` for all its shots" if key in DefaultsSpec.model_fields else ""
        )
    if model is FilmSpec and key in DefaultsSpec.model_fields:
        return f"; `{key}:` is a shot setting: for every shot of the film it goes under `defaults:`"
    for other, said in _LEVELS:
        if other is not model and key in other.model_fields:
            return f"; `{key}` is {said}, not a key of {_NAMES.get(model, 'this mapping')}: check its indentation"
    for other, said in _LEVELS:
        close = difflib.get_close_matches(key, list(other.model_fields), n=1, cutoff=0.85)
        if other is not model and close:
            return f"; did you mean {close[0]!r}? It is {said}"
    return ""


def _model_of(model: type[BaseModel], field: str) -> type[BaseModel] | None:
    annotation = model.model_fields[field].annotation
    for option in getattr(annotation, "__args__", (annotation,)):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _shot_id_column(scene: Node | None) -> int | None:
    """The column of the `id:` of the scene's shots, where a shot's keys line up."""
    if not isinstance(scene, MappingNode):
        return None
    for key, value in scene.value:
        if isinstance(key, ScalarNode) and key.value == "shots" and getattr(value, "value", None):
            first = value.value[0]
            if isinstance(first, MappingNode) and first.value:
                return node_position(first.value[0][0])[1]
    return None
