"""Checked spec models -> the plain `wanflow.film` dataclasses: the film -> scene -> shot cascade.

Rules: for a value, the nearest level that writes the key wins (`null` there clears it);
`look` merges field by field; a list replaces the inherited one, `{extend: [...]}` adds to
it; `duration` and `frames` are one setting (the nearest level that sets either wins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wanflow.catalog import BACKENDS, BUILTIN_PROFILES, DEFAULT_NEGATIVE_PROMPT
from wanflow.errors import Problem
from wanflow.film import (
    DEFAULT_TRANSITION_SECONDS,
    AudioTrack,
    Film,
    Look,
    Lora,
    Output,
    ProfileSpec,
    Scene,
    Shot,
    TitleCard,
    Transition,
)
from wanflow.storyboard.models import (
    DefaultsSpec,
    FilmSpec,
    LookSpec,
    ProfileSpecModel,
    ShotSpec,
)
from wanflow.yamlfile import YamlDocument, format_loc, line_of, locate, node_position

QUALITY_CRF = {"high": 18, "medium": 23, "low": 28}
_LIST_LOOK_FIELDS = ("light_source", "lighting", "angle", "color_tone", "effect")


def resolve_film(
    spec: FilmSpec, document: YamlDocument, file: str, spec_path: Path, grammar_dir: Path, sha256: str
) -> tuple[Film, list[Problem]]:
    problems: list[Problem] = []
    scenes = []
    index = 0
    for s, scene in enumerate(spec.scenes):
        shots = []
        for h, shot in enumerate(scene.shots):
            loc: list[str | int] = ["scenes", s, "shots", h]
            levels = [spec.defaults, scene.defaults, shot]
            resolved = _resolve_shot(shot, levels, scene.id, index, line_of(document.root, loc), shot.lang or spec.lang)
            problems += _shot_problems(resolved, shot, document, file, loc)
            shots.append(resolved)
            index += 1
        scenes.append(Scene(id=scene.id, title=scene.title, shots=tuple(shots)))

    profiles = {}
    for name, profile in spec.profiles.items():
        resolved_profile, message = _resolve_profile(name, profile)
        if resolved_profile is None:
            node, _ = locate(document.root, ["profiles", name])
            line, column = node_position(node) if node is not None else (None, None)
            problems.append(Problem(file, line, column, f"profiles.{name}", message))
        else:
            profiles[name] = resolved_profile

    titles = spec.titles
    film = Film(
        path=spec_path,
        source_sha256=sha256,
        title=spec.title,
        lang=spec.lang,
        scenes=tuple(scenes),
        characters=dict(spec.characters),
        output=_resolve_output(spec),
        opening=_card(titles.opening) if titles and titles.opening else None,
        ending=_card(titles.ending) if titles and titles.ending else None,
        soundtrack=tuple(
            AudioTrack(
                path=a.file,
                start=a.start,
                trim_start=a.trim,
                duration=a.duration,
                volume=a.volume,
                fade_in=a.fade_in,
                fade_out=a.fade_out,
            )
            for a in spec.soundtrack
        ),
        profiles=profiles,
        grammar_dir=grammar_dir,
    )
    return film, problems


def _nearest(levels: list[BaseModel | None], name: str, default: Any = None) -> Any:
    """The value from the nearest level that writes the key (`null` there clears it)."""
    for level in reversed(levels):
        if level is not None and name in level.model_fields_set:
            return getattr(level, name)
    return default


def _fold_list(levels: list[Any]) -> tuple[Any, ...]:
    """A list replaces the inherited one (`[]`/null clear it); `{extend: [...]}` adds to it."""
    items: tuple[Any, ...] = ()
    for value in levels:
        if value is _UNSET:
            continue
        if value is None:
            items = ()
        elif isinstance(value, list):
            items = tuple(value)
        else:
            items = items + tuple(v for v in value.extend if v not in items or not isinstance(v, str))
    return items


_UNSET = object()


def _field(level: BaseModel | None, name: str) -> Any:
    return getattr(level, name) if level is not None and name in level.model_fields_set else _UNSET


def _resolve_look(levels: list[DefaultsSpec | None]) -> Look:
    looks: list[LookSpec | None | object] = [_field(level, "look") for level in levels]
    values: dict[str, Any] = {}
    for name in LookSpec.model_fields:
        chain: list[Any] = []
        for look in looks:
            if look is _UNSET:
                continue
            if look is None:  # `look: null` clears everything inherited
                chain.append(None)
                continue
            chain.append(_field(look, name))  # type: ignore[arg-type]
        if name in _LIST_LOOK_FIELDS:
            values[name] = _fold_list(chain)
        else:
            value = None
            for item in chain:
                if item is not _UNSET:
                    value = item
            values[name] = value
    return Look(**values)


def _resolve_shot(
    shot: ShotSpec, levels: list[DefaultsSpec | None], scene_id: str, index: int, line: int, lang: str
) -> Shot:
    duration, frames = None, None
    for level in reversed(levels):
        if level is not None and ({"duration", "frames"} & level.model_fields_set):
            duration, frames = level.duration, level.frames
            break
    negative = _nearest(levels, "negative", "default")
    transition = _nearest(levels, "transition")
    if transition is None or transition.type == "cut":
        resolved_transition = Transition()
    else:
        resolved_transition = Transition(transition.type, transition.duration or DEFAULT_TRANSITION_SECONDS)
    loras = _fold_list([_field(level, "lora") for level in levels])
    return Shot(
        id=shot.id,
        scene_id=scene_id,
        index=index,
        line=line,
        lang=lang,  # type: ignore[arg-type]
        subject=shot.subject,
        action=shot.action,
        scene=shot.scene,
        extra=shot.extra,
        prompt=shot.prompt,
        negative=DEFAULT_NEGATIVE_PROMPT if negative == "default" else (negative or ""),
        look=_resolve_look(levels),
        camera=_fold_list([_field(level, "camera") for level in levels]),
        motion=_nearest(levels, "motion"),
        emotion=_nearest(levels, "emotion"),
        duration=duration,
        frames=frames,
        seed=shot.seed,
        takes=_nearest(levels, "takes") or 1,
        take=shot.take or 1,
        image=shot.image,
        continue_from=shot.continue_from,
        end_image=shot.end_image,
        end_at=shot.end_at,
        fit=_nearest(levels, "fit") or "official",
        transition=resolved_transition,
        caption=shot.caption,
        backend=_nearest(levels, "backend"),
        loras=tuple(Lora(path=lora.file, scale=lora.scale, expert=lora.expert) for lora in loras),
        trim_start=shot.trim.start if shot.trim else 0.0,
        trim_end=shot.trim.end if shot.trim else None,
        hold=shot.hold,
        speed=shot.speed,
    )


def _shot_problems(
    resolved: Shot, shot: ShotSpec, document: YamlDocument, file: str, loc: list[str | int]
) -> list[Problem]:
    """Checks that need the cascaded values (a backend or length set in the defaults)."""
    problems = []

    def add(field: str, message: str) -> None:
        node, _ = locate(document.root, [*loc, field] if field in shot.model_fields_set else loc)
        line, column = node_position(node) if node is not None else (None, None)
        problems.append(Problem(file, line, column, format_loc([*loc, field]), message))

    if resolved.backend is not None:
        backend = BACKENDS[resolved.backend]
        inherited = "" if "backend" in shot.model_fields_set else " (set in the defaults)"
        if resolved.image_conditioned and not backend.accepts_image:
            add(
                "backend",
                f"{backend.id}{inherited} cannot start from an image or another shot; use i2v-a14b or ti2v-5b",
            )
        if backend.needs_image and not resolved.image_conditioned:
            add("backend", f"{backend.id}{inherited} needs a start frame: set image: or continue_from:")
    if resolved.duration is not None and resolved.transition.duration >= resolved.duration:
        add(
            "transition",
            f"the {resolved.transition.type} ({resolved.transition.duration:g}s) must be shorter than the shot ({resolved.duration:g}s)",
        )
    if resolved.take > resolved.takes:
        count = f"{resolved.takes} take{'s' if resolved.takes != 1 else ''}"
        add(
            "take",
            f"take {resolved.take} is not one of the shot's {count}; choose 1 .. {resolved.takes}, or set takes: {resolved.take}",
        )
    if resolved.trim_end is not None and resolved.duration is not None and resolved.trim_end > resolved.duration:
        add("trim", f"trim end {resolved.trim_end:g}s is after the shot's end ({resolved.duration:g}s)")
    return problems


def _resolve_output(spec: FilmSpec) -> Output:
    out = spec.output
    crf = out.crf if out.crf is not None else QUALITY_CRF[out.quality or "high"]
    width, height = out.size if out.size else (None, None)
    return Output(
        fps=out.fps,
        width=width,
        height=height,
        fit=out.fit,
        crf=crf,
        fade_in=out.fade_in,
        fade_out=out.fade_out,
        burn_captions=out.burn_captions,
        interpolate=out.interpolate,
        timelines=tuple(dict.fromkeys(out.timelines)),
    )


def _card(card: Any) -> TitleCard:
    return TitleCard(text=card.text, subtitle=card.subtitle, duration=card.duration)


def _resolve_profile(name: str, profile: ProfileSpecModel) -> tuple[ProfileSpec | None, str]:
    base = BUILTIN_PROFILES.get(name)
    text = profile.text or profile.backend or (base.text_backend if base else None)
    image = profile.image or profile.backend or (base.image_backend if base else None)
    if text is None or image is None:
        return None, "name its backends: backend: (both), or text: and image:"
    width, height = profile.size if profile.size else ((base.width, base.height) if base else (None, None))
    return (
        ProfileSpec(
            name=name,
            text_backend=text,
            image_backend=image,
            width=width,
            height=height,
            steps=profile.steps if profile.steps is not None else (base.steps if base else None),
            max_frames=profile.max_frames if profile.max_frames is not None else (base.max_frames if base else None),
            tiny=profile.tiny if profile.tiny is not None else (base.tiny if base else False),
        ),
        "",
    )
