"""The render plan: one job per take of each shot, with everything that decides its pixels, and its cache keys.

Planning is pure and cheap (no torch): it is what `wanflow plan` prints and what
`wanflow run` executes, so the two always agree on what is cached and what will render.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from wanflow.backends.store import weights_fingerprint
from wanflow.backends.validate import check_request, frames_for_duration
from wanflow.catalog import BACKENDS, BackendSpec
from wanflow.errors import Problem, UserError
from wanflow.film import Film, Shot
from wanflow.grammar.compile import CompiledShot, compile_shot
from wanflow.media.animatic_panel import Panel
from wanflow.plan.animatic import animatic_keys, panel_of, start_view
from wanflow.plan.ends import end_frame, end_problems, needed_first, render_order
from wanflow.plan.framing import framed_size, image_size
from wanflow.plan.keys import JobKeys, job_keys
from wanflow.plan.limits import request_problem
from wanflow.plan.lora_fit import lora_fit_problems
from wanflow.plan.models import installed_model, missing_model_message, nonstandard_layout
from wanflow.plan.profiles import resolve_profile
from wanflow.plan.takes import check_takes_option, take_name, take_numbers, take_seed
from wanflow.plan.tiers import tier_settings
from wanflow.storyboard.load import load_film
from wanflow.take import RenderSettings, TakeSettings


@dataclass(frozen=True)
class RenderJob:
    """One take of one shot: what to render it with (`settings`), from which model, under which keys."""

    shot: Shot
    compiled: CompiledShot
    settings: TakeSettings  # everything that decides its pixels; hashed by `keys`
    model_dir: Path | None  # None when the model is not installed (a plan problem)
    weights: str  # fingerprint of the model's weights
    tiny: bool
    seed_derived: bool
    keys: JobKeys
    notes: tuple[str, ...] = ()
    model_layout: dict[str, object] | None = None  # the folder's own layout, when it is not the official one
    take: int = 1  # which take of the shot this job renders (its seed is that take's)
    upstream_job: str | None = None  # name of the job it continues from: its upstream's chosen take
    end_job: str | None = None  # name of the job whose rendered first frame ends it (`end_at:` a shot without image)
    panel: Panel | None = None  # an animatic take of a text-only shot starts on this storyboard panel

    @property
    def waits_for(self) -> tuple[str, ...]:
        """The jobs whose clips this one needs: the one it continues from, the one it ends on."""
        return tuple(name for name in (self.upstream_job, self.end_job) if name is not None)

    @property
    def end_shot(self) -> str | None:
        """The id of the shot whose rendered first frame ends this one (None: no end frame, or a file)."""
        return self.end_job.split("#")[0] if self.end_job else None

    @property
    def backend(self) -> str:
        return self.settings.backend

    @property
    def upstream(self) -> str | None:
        """The id of the shot whose last frame starts this one."""
        return self.shot.continue_from

    @property
    def shot_id(self) -> str:
        return self.shot.id

    @property
    def name(self) -> str:
        """`city`, or `city#2` for a second take: unique in the plan, names its task."""
        return take_name(self.shot.id, self.take)

    @property
    def chosen(self) -> bool:
        """The film uses this take."""
        return self.take == self.shot.take


@dataclass(frozen=True)
class RenderPlan:
    film: Film
    profile: str
    jobs: tuple[RenderJob, ...]  # the take the film uses of each shot, in film order
    width: int  # size of the finished film
    height: int
    problems: tuple[Problem, ...] = ()  # what the storyboard asks that cannot render
    notes: tuple[str, ...] = field(default=())
    takes: tuple[RenderJob, ...] = ()  # every take of every shot, in film order then take order
    missing_models: tuple[Problem, ...] = ()  # a model this machine lacks: the plan stands, a run cannot

    def takes_of(self, shot_id: str) -> tuple[RenderJob, ...]:
        return tuple(job for job in self.takes if job.shot_id == shot_id)

    @property
    def tiny(self) -> bool:
        return any(job.tiny for job in self.jobs)

    @property
    def for_checking(self) -> bool:
        """A film made to be looked at, not delivered: every clip from the tiny models or drawn (the animatic)."""
        return all(job.tiny or job.settings.animatic for job in self.jobs)

    def check(self, models: bool = True) -> None:
        """Raise every problem found while planning: nothing renders until all are fixed.

        `models=False` leaves out the models this machine lacks (an export renders elsewhere)."""
        problems = [*self.problems, *(self.missing_models if models else ())]
        if problems:
            raise UserError(problems)

    def shot_problems(self, shot_id: str, models: bool = True) -> list[Problem]:
        """The problems of one shot (its fields are `shots.<id>.…`)."""
        found = [*self.problems, *(self.missing_models if models else ())]
        return [problem for problem in found if problem.field.startswith(f"shots.{shot_id}.")]

    def job(self, shot_id: str) -> RenderJob:
        """The shot's job that the film uses (its chosen take)."""
        for job in self.jobs:
            if job.shot_id == shot_id:
                return job
        raise KeyError(shot_id)

    def dependants(self, shot_ids: set[str]) -> set[str]:
        """The given shots plus every shot that continues from (or ends on) them, transitively."""
        selected = set(shot_ids)
        for job in needed_first(self.jobs):
            if {job.upstream, job.end_shot} & selected:
                selected.add(job.shot_id)
        return selected

    def upstreams(self, shot_ids: set[str]) -> set[str]:
        """The given shots plus every shot they continue from (or end on), transitively."""
        selected = set(shot_ids)
        for job in reversed(needed_first(self.jobs)):
            if job.shot_id in selected:
                selected |= {needed for needed in (job.upstream, job.end_shot) if needed}
        return selected


TINY_NOTICE = (
    "tiny random-weight models: the pictures are noise. This run checks the storyboard's wiring "
    "(prompts, continuity, timing, transitions, captions, sound); pull real weights for pictures "
    "(`wanflow models pull ti2v-5b`, then --profile draft)."
)


def derived_seed(film: Film, shot: Shot) -> int:
    """A seed that stays put while the film's title and the shot's id do."""
    digest = hashlib.sha256(f"{film.title}\0{shot.id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def make_plan(
    film: Film, profile_name: str, settings: RenderSettings = RenderSettings(), takes: int | None = None
) -> RenderPlan:
    """Route every shot to a backend and fix its size, frames, takes, seeds and cache keys.

    `takes` renders that many takes of every shot for one run instead of the storyboard's `takes:`.
    """
    profile = resolve_profile(film, profile_name)
    check_takes_option(takes)
    problems: list[Problem] = []
    jobs: list[RenderJob] = []
    all_takes: list[RenderJob] = []
    clip_keys: dict[str, str] = {}
    fingerprints: dict[Path, str] = {}
    layouts: dict[Path, dict[str, object] | None] = {}
    missing_models: dict[str, Problem] = {}  # backend id -> said once, at the first shot that needs it
    sizes: dict[str, tuple[int, int]] = {}  # each shot's render size, for the shots continuing it
    for shot in render_order(film):  # a shot after the shots whose clips it needs
        backend_id = shot.backend or (profile.image_backend if shot.image_conditioned else profile.text_backend)
        spec = BACKENDS[backend_id]
        where = _where(film, shot)
        routing = _routing_problems(spec, shot, where) + end_problems(spec, shot, where)
        problems += routing
        folder = None if profile.animatic else installed_model(backend_id, profile.tiny)
        if profile.animatic:
            weights = "animatic"  # drawn: no model
        elif folder is None:
            if backend_id not in missing_models:
                missing_models[backend_id] = where("backend", missing_model_message(backend_id, profile.tiny))
            weights = "missing"
        else:
            weights = fingerprints.setdefault(folder, weights_fingerprint(folder))
        model_layout = None
        if folder is not None and not profile.tiny:
            if folder not in layouts:
                layouts[folder] = nonstandard_layout(backend_id, folder, settings, where, problems)
            model_layout = layouts[folder]
        profile_size = (profile.width, profile.height) if profile.width and profile.height else spec.default_size
        frames, notes = _frames(shot, spec, profile.max_frames)
        width, height = profile_size
        if not routing:  # a misrouted shot's image checks would only repeat the routing problem
            try:
                notes += check_request(
                    backend_id,
                    width=profile_size[0],  # the official sizes are areas for a framed start image
                    height=profile_size[1],
                    frames=frames,
                    image=shot.image,
                    image_from_previous_shot=shot.continue_from is not None,
                    tiny=profile.tiny or profile.animatic,  # any multiple of the stride: no quality to lose
                    allow_custom_size=profile.width is not None,
                    file=str(film.path),
                    line=shot.line,
                    model_dir=folder,
                )
            except UserError as error:
                problems += [request_problem(p, shot, spec, frames) for p in error.problems]
            else:
                width, height = _framing(shot, spec, profile_size, sizes, where, problems, notes)
        sizes[shot.id] = (width, height)
        seed = shot.seed if shot.seed is not None else derived_seed(film, shot)
        compiled = compile_shot(film, shot)
        upstream_clip = clip_keys.get(shot.continue_from or "")
        upstream_job = take_name(shot.continue_from, film.shot(shot.continue_from).take) if shot.continue_from else None
        panel = panel_of(film, shot) if profile.animatic else None
        tier = tier_settings(profile, spec, shot.loras, where, problems, missing_models)
        if not profile.animatic:  # a LoRA for another model, refused before any work
            problems += lora_fit_problems(shot.loras, spec, folder, profile.tiny, where, film.path.parent)
        end = end_frame(film, shot)
        end_job = take_name(end.shot, film.shot(end.shot).take) if end and end.shot else None
        notes += [end.note()] if end else []
        for take in take_numbers(shot, takes):
            take_settings = TakeSettings(
                backend=backend_id,
                seed=take_seed(seed, take),
                width=width,
                height=height,
                frames=frames,
                fps=spec.fps,
                boundary_ratio=spec.boundary_ratio,
                fit=shot.fit,
                image=shot.image,
                **tier,  # steps, guidance, shift, LoRAs (and the turbo tier's sampler)
                end_image=end.image if end else None,
                **_animatic_fields(shot, take, take_seed(seed, take)) if profile.animatic else {},
            )
            end_clip = clip_keys.get(end.shot) if end and end.shot else None
            if profile.animatic:
                keys = animatic_keys(take_settings, panel, upstream_clip, end_clip)
            else:
                keys = job_keys(
                    compiled=compiled,
                    take=take_settings,
                    weights=weights,
                    upstream_clip=upstream_clip,
                    render=settings,
                    end_clip=end_clip,
                )
            job = RenderJob(
                shot=shot,
                compiled=compiled,
                settings=take_settings,
                model_dir=folder,
                weights=weights,
                tiny=profile.tiny,
                seed_derived=shot.seed is None or take != 1,
                keys=keys,
                notes=tuple(notes),
                model_layout=model_layout,
                take=take,
                upstream_job=upstream_job,
                panel=panel,
                end_job=end_job,
            )
            all_takes.append(job)
            if job.chosen:
                jobs.append(job)
                clip_keys[shot.id] = keys.clip
    if film.output.width and film.output.height:
        film_size = (film.output.width, film.output.height)
    elif profile.width and profile.height:
        film_size = (profile.width, profile.height)
    else:  # the first shot's model's own size, whatever the framing of its start image
        film_size = BACKENDS[jobs[0].backend].default_size if jobs else (1280, 720)
    in_film = {shot.id: index for index, shot in enumerate(film.shots)}
    jobs.sort(key=lambda job: in_film[job.shot_id])  # back to film order (stable: takes stay in order)
    all_takes.sort(key=lambda job: in_film[job.shot_id])
    return RenderPlan(
        film=film,
        profile=profile.name,
        jobs=tuple(jobs),
        width=film_size[0],
        height=film_size[1],
        problems=tuple(problems),
        takes=tuple(all_takes),
        missing_models=tuple(missing_models.values()),
    )


def referenced_keys(spec_path: Path) -> set[str]:
    """Every cache key the spec uses under any profile whose models are installed (for gc).

    Keys made with non-default render settings (--dtype, --step-cache, --vae-tiling) are not
    among them, nor takes beyond the storyboard's `takes:` (a run's --takes): gc with a SPEC
    keeps what a default run of that spec would use.
    """
    from wanflow.plan.profiles import available_profiles

    film = load_film(spec_path)
    keys: set[str] = set()
    for name in available_profiles(film):
        plan = make_plan(film, name)
        for job in plan.takes:
            if job.model_dir is not None or job.settings.animatic:
                keys.update(job.keys.all().values())
    return keys


def _animatic_fields(shot: Shot, take: int, seed: int) -> dict[str, object]:
    return {"animatic": True, "camera": shot.camera, "start_view": start_view(shot, take, seed)}


def _frames(shot: Shot, spec: BackendSpec, max_frames: int | None) -> tuple[int, list[str]]:
    """Explicit frames are taken as written (and checked); a duration becomes the nearest 4n+1."""
    notes: list[str] = []
    if shot.frames is not None:
        frames = shot.frames
    elif shot.duration is not None:
        frames = frames_for_duration(shot.duration, spec.fps)
        notes.append(f"{shot.duration:g}s -> {frames} frames at {spec.fps} fps ({frames / spec.fps:.2f}s)")
    else:
        frames = spec.frames
    if max_frames is not None and frames > max_frames:
        capped = frames_for_duration((max_frames - 1) / spec.fps, spec.fps)
        notes.append(f"capped at {capped} frames by the profile")
        frames = capped
    return frames, notes


def _framing(
    shot: Shot,
    spec: BackendSpec,
    profile_size: tuple[int, int],
    sizes: dict[str, tuple[int, int]],
    where,
    problems: list[Problem],
    notes: list[str],
) -> tuple[int, int]:
    """The shot's render size under its `fit:`; a note when it is not the profile's size."""
    if shot.image is not None:
        picture, what = image_size(shot.image), f"start image {shot.image.name}"
    elif shot.continue_from is not None:
        picture, what = sizes.get(shot.continue_from), f"last frame of {shot.continue_from}"
    else:
        return profile_size
    size = framed_size(spec, shot.fit, profile_size, picture, continuation=shot.image is None)
    if size is None:
        problems.append(
            where(
                "fit",
                f"the {what} ({picture[0]}x{picture[1]}) is too elongated to frame within "
                f"{profile_size[0]}x{profile_size[1]} at {spec.id}'s stride of {spec.size_multiple}; "
                "crop it, or set fit: cover",
            )
        )
        return profile_size
    if size != profile_size:
        notes.append(
            f"{what} is {picture[0]}x{picture[1]}: renders at {size[0]}x{size[1]}, its aspect within "
            f"{profile_size[0]}x{profile_size[1]}'s area as the official code frames it (fit: cover keeps the profile's size)"
        )
    return size


def _routing_problems(spec: BackendSpec, shot: Shot, where) -> list[Problem]:
    if shot.image_conditioned and not spec.accepts_image:
        what = "a start image" if shot.image else f"continuity from {shot.continue_from!r}"
        return [where("backend", f"{spec.id} cannot take {what}; use i2v-a14b or ti2v-5b")]
    if spec.needs_image and not shot.image_conditioned:
        return [where("backend", f"{spec.id} needs a start image (image:) or continue_from:")]
    return []


def _where(film: Film, shot: Shot):
    def problem(field_name: str, message: str) -> Problem:
        return Problem(str(film.path), shot.line, None, f"shots.{shot.id}.{field_name}", message)

    return problem
