"""The cut as integer frames at the film's fps: where every shot, card, transition and caption sits.

Pure arithmetic, no ffmpeg: `assemble` turns this plan into one filtergraph and the report
and the .otio export read the same plan, so the film, its captions and its timeline agree to
the frame. The film lasts the sum of its segments minus the transition overlaps, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from wanflow.errors import Problem, UserError
from wanflow.film import TRANSITION_TYPES, Film, Shot, TitleCard
from wanflow.media.captions import Cue
from wanflow.media.ffmpeg import VideoInfo

SegmentKind = Literal["opening", "shot", "ending"]


@dataclass(frozen=True)
class CutClip:
    """A rendered clip and the shot it renders."""

    shot: Shot
    path: Path


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    label: str  # the shot id, or "opening" / "ending"
    start_frame: int  # first film frame (transitions overlap the previous segment's tail)
    frames: int  # length on the film timeline, hold included
    transition: str = "cut"  # into the next segment: "cut" or an ffmpeg xfade name
    transition_frames: int = 0  # overlap with the next segment
    shot: Shot | None = None
    card: TitleCard | None = None
    source: Path | None = None
    source_fps: float = 0.0
    source_first: int = 0  # first source frame used (after trim_start)
    source_end: int = 0  # source frame where the used part ends (exclusive, after trim_end)
    source_frames: int = 0  # frames in the whole source clip
    speed: float = 1.0
    hold_frames: int = 0

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frames


@dataclass(frozen=True)
class Timeline:
    fps: int
    width: int
    height: int
    segments: tuple[Segment, ...]
    frames: int
    fade_in_frames: int
    fade_out_frames: int
    cues: tuple[Cue, ...]
    warnings: tuple[str, ...]

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def shot_segment(self, shot_id: str) -> Segment:
        for segment in self.segments:
            if segment.kind == "shot" and segment.label == shot_id:
                return segment
        raise KeyError(shot_id)


def xfade_name(transition_type: str) -> str:
    return "fade" if transition_type == "dissolve" else transition_type


def _problem(film: Film, shot: Shot, field: str, message: str) -> Problem:
    return Problem(file=str(film.path), line=shot.line, column=None, field=field, message=f"shot {shot.id}: {message}")


def _shot_segment(film: Film, clip: CutClip, info: VideoInfo, fps: int, problems: list[Problem]) -> Segment | None:
    shot = clip.shot
    first = round(shot.trim_start * info.fps)
    end = info.frames if shot.trim_end is None else min(info.frames, round(shot.trim_end * info.fps))
    before = len(problems)
    if shot.speed <= 0:
        problems.append(_problem(film, shot, "speed", f"speed must be above 0, got {shot.speed}"))
    if shot.hold < 0:
        problems.append(_problem(film, shot, "hold", f"hold must be 0 or more seconds, got {shot.hold}"))
    if first < 0 or first >= info.frames:
        problems.append(
            _problem(
                film, shot, "trim_start", f"trim_start {shot.trim_start}s is outside the {info.duration:.3f}s clip"
            )
        )
    elif end <= first:
        problems.append(
            _problem(
                film, shot, "trim_end", f"trim_end {shot.trim_end}s leaves nothing after trim_start {shot.trim_start}s"
            )
        )
    if len(problems) > before:
        return None
    content = max(1, round((end - first) / info.fps / shot.speed * fps))
    hold = round(shot.hold * fps)
    return Segment(
        kind="shot",
        label=shot.id,
        start_frame=0,
        frames=content + hold,
        shot=shot,
        source=clip.path,
        source_fps=info.fps,
        source_first=first,
        source_end=end,
        source_frames=info.frames,
        speed=shot.speed,
        hold_frames=hold,
    )


def _card_segment(kind: SegmentKind, card: TitleCard, fps: int) -> Segment:
    return Segment(kind=kind, label=kind, start_frame=0, frames=max(1, round(card.duration * fps)), card=card)


def _check_output(film: Film, width: int, height: int) -> list[Problem]:
    file = str(film.path)
    problems = []
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        message = f"the film size must be positive and even for H.264, got {width}x{height}"
        problems.append(Problem(file, None, None, "output", message))
    if film.output.fps <= 0:
        problems.append(Problem(file, None, None, "output.fps", f"fps must be above 0, got {film.output.fps}"))
    return problems


def plan_timeline(
    film: Film, clips: Sequence[CutClip], infos: Sequence[VideoInfo], *, width: int, height: int
) -> Timeline:
    """Lay the cards and shots end to end, overlapping them by their transitions (clamped to fit)."""
    fps = film.output.fps
    problems = _check_output(film, width, height)
    if not clips:
        problems.append(
            Problem(file=str(film.path), line=None, column=None, field="shots", message="no clips to assemble")
        )
    shot_segments = [_shot_segment(film, clip, info, fps, problems) for clip, info in zip(clips, infos, strict=True)]
    for clip in clips:
        if clip.shot.transition.type not in TRANSITION_TYPES:
            problems.append(
                _problem(
                    film,
                    clip.shot,
                    "transition",
                    f"unknown transition {clip.shot.transition.type!r}; choose one of {', '.join(TRANSITION_TYPES)}",
                )
            )
    if problems:
        raise UserError(problems)

    warnings: list[str] = []
    raw: list[Segment] = []
    if film.opening is not None:
        raw.append(_card_segment("opening", film.opening, fps))
    raw.extend(segment for segment in shot_segments if segment is not None)
    if film.ending is not None:
        raw.append(_card_segment("ending", film.ending, fps))

    segments: list[Segment] = []
    start = 0
    overlap_in = 0
    for index, segment in enumerate(raw):
        wanted_type, wanted = "cut", 0
        if segment.shot is not None and segment.shot.transition.type != "cut":
            wanted_type = segment.shot.transition.type
            wanted = round(segment.shot.transition.duration * fps)
            if index == len(raw) - 1:
                warnings.append(f"shot {segment.label}: its {wanted_type} transition has no next shot and is ignored")
                wanted = 0
        overlap = wanted
        if wanted and index + 1 < len(raw):
            limit = min(segment.frames - overlap_in, raw[index + 1].frames)
            if wanted > limit:
                overlap = max(0, limit)
                warnings.append(
                    f"shot {segment.label}: {wanted_type} of {wanted} frames is longer than a neighbouring "
                    f"clip allows; clamped to {overlap} frames ({overlap / fps:.3f}s)"
                )
        transition = xfade_name(wanted_type) if overlap > 0 else "cut"
        segments.append(replace(segment, start_frame=start, transition=transition, transition_frames=overlap))
        start += segment.frames - overlap
        overlap_in = overlap
    total = segments[-1].end_frame

    fade_in = min(round(film.output.fade_in * fps), total)
    fade_out = min(round(film.output.fade_out * fps), total)
    return Timeline(
        fps=fps,
        width=width,
        height=height,
        segments=tuple(segments),
        frames=total,
        fade_in_frames=fade_in,
        fade_out_frames=fade_out,
        cues=tuple(_cues(segments)),
        warnings=tuple(warnings),
    )


def _cues(segments: list[Segment]) -> list[Cue]:
    """A caption spans its shot, handing over to the next cue in the middle of each transition."""
    cues = []
    for index, segment in enumerate(segments):
        if segment.shot is None or not segment.shot.caption:
            continue
        overlap_in = segments[index - 1].transition_frames if index > 0 else 0
        start = segment.start_frame + (overlap_in - overlap_in // 2)
        end = segment.end_frame - segment.transition_frames // 2
        cues.append(
            Cue(shot_id=segment.label, start_frame=start, end_frame=max(end, start + 1), text=segment.shot.caption)
        )
    return cues
