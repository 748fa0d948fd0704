"""The storyboard format as pydantic models: the edge where YAML is checked, field by field.

The field types and their checks live in `spec_types.py`; `spec.py` validates a file with
these models and `spec_resolve.py` turns the checked models into `wanflow.film` dataclasses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from wanflow.film import MAX_TAKES, TRANSITION_TYPES
from wanflow.storyboard.bounds import (
    MAX_CHARACTERS,
    MAX_FILM_SECONDS,
    MAX_FILM_SIDE,
    MAX_HOLD_SECONDS,
    MAX_ID_CHARS,
    MAX_LORA_SCALE,
    MAX_PROFILES,
    MAX_RENDER_SIDE,
    MAX_SHOT_SECONDS,
    MAX_SHOTS,
    MAX_SPEED,
    MAX_STEPS,
    MAX_TRACKS,
    MAX_VOLUME,
    MIN_SPEED,
)
from wanflow.storyboard.fields import (
    NAME_PATTERN,
    AudioFile,
    BackendId,
    Flag,
    Frames,
    Id,
    ImageFile,
    LoraFile,
    Prose,
    SpecModel,
    Text,
    did_you_mean,
    patch_list,
    problem,
    seconds,
    shorthand,
    size,
    term,
    term_list,
)

SPEC_VERSION = 1

ShotSeconds = seconds(MAX_SHOT_SECONDS, positive=True)
ShotOffset = seconds(MAX_SHOT_SECONDS)
Hold = seconds(MAX_HOLD_SECONDS)
CardSeconds = seconds(MAX_HOLD_SECONDS, positive=True)
FilmSeconds = seconds(MAX_FILM_SECONDS)
FilmSize = size(MAX_FILM_SIDE, "a film")
RenderSize = size(MAX_RENDER_SIDE, "a generated clip")


LightSource = term_list("light_source", "光源类型, one or a list, e.g. 日光 / daylight or [日光, 晴天光].")
Lighting = term_list("lighting", "光线类型, a list, e.g. [边缘光, 柔光].")
TimeOfDay = term("time_of_day", "时间段, e.g. 黄昏 / dusk.")
ShotSize = term("shot_size", "景别, e.g. 特写 / close-up.")
Composition = term("composition", "构图, e.g. 中心构图.")
Lens = term("lens", "镜头焦段, e.g. 广角 / wide-angle lens.")
Angle = term_list("angle", "机位角度, one or a list, e.g. 低角度拍摄 / low angle shot or [俯视角度拍摄, 高角度拍摄].")
ShotType = term("shot_type", "镜头类型, e.g. 定场镜头 / establishing shot.")
ColorTone = term_list("color_tone", "色调, a list, e.g. [暖色调].")
Style = term("style", "视觉风格, e.g. 水彩画 / watercolor.")
Effect = term_list("effect", "特效镜头, a list, e.g. [延时拍摄].")
Camera = term_list("camera", "Camera moves (基础/高级运镜), or [static].")
Motion = term("motion", "运动, e.g. 跑步 / running, or any plain text.")
Emotion = term("emotion", "人物情绪 (愤怒 恐惧 高兴 悲伤 惊讶) or any plain text.")


class LookSpec(SpecModel):
    """Cinematography; every value is a vocabulary term (zh, en or an alias)."""

    light_source: LightSource | None = None
    lighting: Lighting | None = None
    time_of_day: TimeOfDay | None = None
    shot_size: ShotSize | None = None
    composition: Composition | None = None
    lens: Lens | None = None
    angle: Angle | None = None
    shot_type: ShotType | None = None
    color_tone: ColorTone | None = None
    style: Style | None = None
    effect: Effect | None = None


class TransitionSpec(SpecModel):
    type: str = Field(description=f"One of: {', '.join(TRANSITION_TYPES)}.")
    duration: ShotSeconds | None = Field(None, description="Seconds of overlap (default 0.5 for non-cuts).")

    @model_validator(mode="after")
    def _known(self) -> TransitionSpec:
        if self.type not in TRANSITION_TYPES:
            hint = did_you_mean(self.type, list(TRANSITION_TYPES))
            raise problem(f"unknown transition {self.type!r}{hint} (one of: {', '.join(TRANSITION_TYPES)})", "type")
        if self.type == "cut" and self.duration:
            raise problem("a cut has no duration", "duration")
        return self


class LoraSpec(SpecModel):
    file: LoraFile = Field(description="A .safetensors file, relative to the spec's folder.")
    scale: float = Field(
        1.0, ge=-MAX_LORA_SCALE, le=MAX_LORA_SCALE, strict=True, allow_inf_nan=False, description="LoRA strength."
    )
    expert: Literal["high", "low", "both"] = Field("both", description="A14B expert it loads into.")


Transition = Annotated[
    TransitionSpec,
    shorthand("type", TransitionSpec),
    Field(description="To the next shot: a name or {type, duration}."),
]
Loras = patch_list(Annotated[LoraSpec, shorthand("file", LoraSpec)], "Lora", "LoRAs: paths or {file, scale, expert}.")


class DefaultsSpec(SpecModel):
    """What film- and scene-level `defaults:` may set; nearer levels override."""

    look: LookSpec | None = Field(None, description="Merged field by field with the inherited look.")
    camera: Camera | None = None
    motion: Motion | None = None
    emotion: Emotion | None = None
    negative: Prose | None = Field(None, description='"default" = the official Wan2.2 negative prompt, or your text.')
    duration: ShotSeconds | None = Field(None, description=f"Seconds (or set frames), at most {MAX_SHOT_SECONDS:g}.")
    frames: Frames | None = Field(None, description="Frames (4n+1), instead of duration.")
    transition: Transition | None = None
    backend: BackendId | None = Field(None, description="Force a backend for these shots.")
    lora: Loras | None = None
    fit: Literal["official", "cover", "contain"] | None = Field(
        None,
        description="How a start image fills the frame: official (its aspect within the profile's area, "
        "as the official Wan2.2 code does; the default), cover (crop to the profile's size), "
        "contain (whole, with bars).",
    )
    takes: int | None = Field(
        None, ge=1, le=MAX_TAKES, strict=True, description=f"Takes rendered, each with its own seed (1 .. {MAX_TAKES})."
    )

    @model_validator(mode="after")
    def _one_length(self) -> DefaultsSpec:
        if self.duration is not None and self.frames is not None:
            raise problem("set duration or frames, not both", "frames")
        return self


class TrimSpec(SpecModel):
    start: ShotOffset = Field(0.0, description="Seconds cut from the clip's start.")
    end: ShotSeconds | None = Field(None, description="Where the clip ends, seconds from its start.")

    @model_validator(mode="after")
    def _ordered(self) -> TrimSpec:
        if self.end is not None and self.end <= self.start:
            raise problem(f"end ({self.end:g}) must be after start ({self.start:g})", "end")
        return self


class ShotSpec(DefaultsSpec):
    id: Id
    subject: Text = Field("", description="Who or what; {name} expands a character.")
    action: Text = Field("", description="What happens.")
    scene: Text = Field("", description="Where it happens.")
    extra: Text = Field("", description="Free text appended to the prompt.")
    caption: Text | None = Field(None, description="On-screen / subtitle text.")
    prompt: Prose | None = Field(None, description="A raw prompt used verbatim instead of the grammar.")
    lang: Literal["zh", "en"] | None = Field(None, description="Prompt language of this shot.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, strict=True, description="Fixed seed (0 .. 2^32-1).")
    take: int | None = Field(None, ge=1, strict=True, description="The take the film uses (1 .. takes; default 1).")
    image: ImageFile | None = Field(None, description="Start frame (image-to-video), relative to the spec.")
    continue_from: str | None = Field(
        None, max_length=MAX_ID_CHARS, description="Id of an earlier shot whose last frame starts this one."
    )
    end_image: ImageFile | None = Field(
        None, description="Last frame (first-last-frame, I2V-A14B), relative to the spec; needs a start frame."
    )
    end_at: str | None = Field(
        None,
        max_length=MAX_ID_CHARS,
        description="Id of a shot whose first frame (its image:, else its rendered first frame) ends this one.",
    )
    trim: TrimSpec | None = None
    hold: Hold = Field(0.0, description="Seconds the last frame is held.")
    speed: float = Field(
        1.0, ge=MIN_SPEED, le=MAX_SPEED, strict=True, allow_inf_nan=False, description="Playback speed factor."
    )

    @model_validator(mode="after")
    def _one_start(self) -> ShotSpec:
        if self.image is not None and self.continue_from is not None:
            raise problem("a shot starts from an image or continues another shot, not both", "continue_from")
        if self.end_image is not None and self.end_at is not None:
            raise problem("a shot ends on an image or on another shot's first frame, not both", "end_at")
        if (
            (self.end_image is not None or self.end_at is not None)
            and self.image is None
            and self.continue_from is None
        ):
            field = "end_image" if self.end_image is not None else "end_at"
            raise problem("a shot that ends on a frame needs a start frame too: set image: or continue_from:", field)
        return self


class SceneSpec(SpecModel):
    id: Id
    title: Prose | None = None
    defaults: DefaultsSpec | None = None
    shots: list[ShotSpec] = Field(min_length=1, max_length=MAX_SHOTS)


class OutputSpec(SpecModel):
    fps: int = Field(24, gt=0, le=120, strict=True, description="Frame rate of the finished film.")
    size: FilmSize | None = None
    fit: Literal["contain", "cover", "blur"] = Field("contain", description="How clips of another shape fit.")
    crf: int | None = Field(None, ge=0, le=51, strict=True, description="H.264 quality, lower is better (18).")
    quality: Literal["high", "medium", "low"] | None = Field(None, description="crf 18 / 23 / 28.")
    fade_in: Hold = 0.0
    fade_out: Hold = 0.0
    burn_captions: Flag = Field(False, description="Draw captions into the picture (else a subtitle track).")
    interpolate: Flag = Field(False, description="Motion-interpolate fps changes.")
    timelines: list[Literal["otio", "fcp_xml", "edl"]] = Field(
        ["otio"], min_length=1, description="Timelines for editors: otio, fcp_xml (FCP 7 XML), edl (CMX 3600)."
    )

    @model_validator(mode="after")
    def _one_quality(self) -> OutputSpec:
        if self.crf is not None and self.quality is not None:
            raise problem("set crf or quality, not both", "quality")
        return self


class TitleCardSpec(SpecModel):
    text: Text
    subtitle: Text | None = None
    duration: CardSeconds = 3.0


TitleCard = Annotated[TitleCardSpec, shorthand("text", TitleCardSpec)]


class TitlesSpec(SpecModel):
    opening: TitleCard | None = None
    ending: TitleCard | None = None


class AudioSpec(SpecModel):
    file: AudioFile
    start: FilmSeconds = Field(0.0, description="Where on the film's timeline it starts.")
    trim: FilmSeconds = Field(0.0, description="Seconds skipped at the start of the file.")
    duration: seconds(MAX_FILM_SECONDS, positive=True) | None = None
    volume: float = Field(1.0, ge=0, le=MAX_VOLUME, strict=True, allow_inf_nan=False, description="1 = as recorded.")
    fade_in: FilmSeconds = 0.0
    fade_out: FilmSeconds = 0.0


class ProfileSpecModel(SpecModel):
    """A render profile; one named like a built-in (preview, draft, final) starts from it."""

    backend: BackendId | None = Field(None, description="Sets both text and image.")
    text: BackendId | None = Field(None, description="Backend for text-only shots.")
    image: BackendId | None = Field(None, description="Backend for image-conditioned shots.")
    size: RenderSize | None = None
    steps: int | None = Field(None, gt=0, le=MAX_STEPS, strict=True)
    max_frames: Frames | None = None
    tiny: Flag | None = None

    @model_validator(mode="after")
    def _backends(self) -> ProfileSpecModel:
        if self.backend is not None and (self.text is not None or self.image is not None):
            raise problem("set backend, or text and image, not both", "backend")
        return self


class FilmSpec(SpecModel):
    """A wanflow storyboard: one film, its scenes and shots."""

    model_config = ConfigDict(title="wanflow storyboard")

    wanflow: Literal[1] = Field(description="Spec format version.")
    title: Prose
    lang: Literal["zh", "en"] = Field("zh", description="Prompt language.")
    defaults: DefaultsSpec | None = None
    characters: dict[Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=MAX_ID_CHARS)], Prose] = Field(
        default_factory=dict,
        max_length=MAX_CHARACTERS,
        description="name -> description; {name} in text expands to it.",
    )
    scenes: list[SceneSpec] = Field(min_length=1, max_length=MAX_SHOTS)
    output: OutputSpec = Field(default_factory=OutputSpec)
    titles: TitlesSpec | None = None
    soundtrack: list[Annotated[AudioSpec, shorthand("file", AudioSpec)]] = Field(
        default_factory=list, max_length=MAX_TRACKS
    )
    profiles: dict[Annotated[str, Field(pattern=NAME_PATTERN.pattern, max_length=MAX_ID_CHARS)], ProfileSpecModel] = (
        Field(default_factory=dict, max_length=MAX_PROFILES)
    )
