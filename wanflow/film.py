"""The resolved storyboard: plain, frozen data that every stage after loading consumes.

`spec.py` validates YAML with pydantic and resolves the film -> scene -> shot defaults into
these types; nothing downstream ever sees raw YAML or pydantic models. All vocabulary terms
are already normalised to their canonical (official Chinese) form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Lang = Literal["zh", "en"]
Expert = Literal["high", "low", "both"]
FitMode = Literal["contain", "cover", "blur"]  # a clip of another shape in the finished film
# A start image in the frame the model renders: `official` renders at the image's own aspect
# within the profile's area, as the official Wan2.2 code does; `cover` crops it to the profile's
# size, `contain` fits it whole inside that size (bars where it does not fill it).
ImageFit = Literal["official", "cover", "contain"]

# ffmpeg xfade transition names we expose, plus "cut" (no overlap) and "dissolve" (= xfade "fade").
TRANSITION_TYPES: tuple[str, ...] = (
    "cut",
    "dissolve",
    "fadeblack",
    "fadewhite",
    "wipeleft",
    "wiperight",
    "wipeup",
    "wipedown",
    "slideleft",
    "slideright",
    "slideup",
    "slidedown",
    "circleopen",
    "circleclose",
    "radial",
    "pixelize",
)
DEFAULT_TRANSITION_SECONDS = 0.5

# Takes of one shot a storyboard (`takes:`) or a run (`--takes`) may ask for: a lottery of seeds
# to choose from, not a batch job (each take is a full render).
MAX_TAKES = 16

# Timeline files written beside the film: OpenTimelineIO's own JSON, and through OTIO's
# adapters FCP 7 XML (Premiere, Resolve) and CMX 3600 EDL (Avid, anything else).
TIMELINE_FORMATS: tuple[str, ...] = ("otio", "fcp_xml", "edl")


@dataclass(frozen=True)
class Look:
    """Cinematography fields, each a canonical zh term (lists keep the user's order)."""

    light_source: tuple[str, ...] = ()
    lighting: tuple[str, ...] = ()
    time_of_day: str | None = None
    shot_size: str | None = None
    composition: str | None = None
    lens: str | None = None
    angle: tuple[str, ...] = ()
    shot_type: str | None = None
    color_tone: tuple[str, ...] = ()
    style: str | None = None
    effect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lora:
    path: Path  # absolute path of a .safetensors file
    scale: float = 1.0
    expert: Expert = "both"  # A14B: which expert it loads into; single-expert models ignore it


@dataclass(frozen=True)
class Transition:
    """The transition from a shot into the next one."""

    type: str = "cut"  # one of TRANSITION_TYPES
    duration: float = 0.0  # seconds of overlap; 0 for a cut


@dataclass(frozen=True)
class Shot:
    id: str
    scene_id: str
    index: int  # position in the film, 0-based, across scenes
    line: int  # 1-based line of the shot in the spec file (for messages)
    lang: Lang
    subject: str = ""  # {character} references already expanded
    action: str = ""
    scene: str = ""
    extra: str = ""
    prompt: str | None = None  # raw prompt that bypasses the grammar
    negative: str = ""  # resolved negative prompt text (official default unless overridden)
    look: Look = field(default_factory=Look)
    camera: tuple[str, ...] = ()  # canonical camera moves; ("固定镜头",) for a static camera
    motion: str | None = None
    emotion: str | None = None  # canonical term, or the user's plain text
    duration: float | None = None  # seconds; None with frames None = the backend's default
    frames: int | None = None
    seed: int | None = None
    takes: int = 1  # takes rendered, each with its own seed (take 1 renders with `seed`)
    take: int = 1  # the take the film uses, 1..takes
    image: Path | None = None  # absolute path of the start frame
    continue_from: str | None = None  # id of the shot whose last frame starts this one
    end_image: Path | None = None  # absolute path of the last frame (first-last-frame)
    end_at: str | None = None  # id of the shot whose first frame ends this one
    fit: ImageFit = "official"  # how the start image (or the upstream's last frame) fills the frame
    transition: Transition = field(default_factory=Transition)
    caption: str | None = None
    backend: str | None = None  # forces a backend id whatever the profile says
    loras: tuple[Lora, ...] = ()
    trim_start: float = 0.0  # seconds cut from the clip's start
    trim_end: float | None = None  # seconds from the clip's start where it ends (None = its end)
    hold: float = 0.0  # seconds the last frame is held
    speed: float = 1.0  # playback speed factor

    @property
    def image_conditioned(self) -> bool:
        return self.image is not None or self.continue_from is not None

    @property
    def end_conditioned(self) -> bool:
        """The shot ends on a given frame (`end_image:` or `end_at:`)."""
        return self.end_image is not None or self.end_at is not None


@dataclass(frozen=True)
class Scene:
    id: str
    title: str | None
    shots: tuple[Shot, ...]


@dataclass(frozen=True)
class Output:
    """How the finished film is encoded."""

    fps: int = 24
    width: int | None = None  # None: the size of the profile's first backend
    height: int | None = None
    fit: FitMode = "contain"
    crf: int = 18
    fade_in: float = 0.0  # seconds from black at the start of the film
    fade_out: float = 0.0  # seconds to black at the end of the film
    burn_captions: bool = False
    interpolate: bool = False  # motion-interpolate fps conversion instead of repeating frames
    timelines: tuple[str, ...] = ("otio",)  # TIMELINE_FORMATS written beside the film


@dataclass(frozen=True)
class TitleCard:
    text: str
    subtitle: str | None = None
    duration: float = 3.0


@dataclass(frozen=True)
class AudioTrack:
    path: Path  # absolute
    start: float = 0.0  # where on the film's timeline it starts, seconds
    trim_start: float = 0.0  # seconds skipped at the start of the file
    duration: float | None = None  # seconds used; None = to the end of the file or film
    volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True)
class ProfileSpec:
    """A render profile declared in the spec (the built-in ones live in plan.py)."""

    name: str
    text_backend: str  # backend id for text-only shots
    image_backend: str  # backend id for image-conditioned and continuity shots
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    max_frames: int | None = None  # caps every shot's frame count (quick drafts)
    tiny: bool = False  # use the tiny random-weight models


@dataclass(frozen=True)
class Film:
    path: Path  # absolute path of the spec file
    source_sha256: str  # hash of the spec file's bytes (provenance)
    title: str
    lang: Lang
    scenes: tuple[Scene, ...]
    characters: dict[str, str] = field(default_factory=dict)
    output: Output = field(default_factory=Output)
    opening: TitleCard | None = None
    ending: TitleCard | None = None
    soundtrack: tuple[AudioTrack, ...] = ()
    profiles: dict[str, ProfileSpec] = field(default_factory=dict)
    grammar_dir: Path | None = None  # the prompt_grammar/ this film compiles with

    @property
    def shots(self) -> tuple[Shot, ...]:
        return tuple(shot for scene in self.scenes for shot in scene.shots)

    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        raise KeyError(shot_id)
