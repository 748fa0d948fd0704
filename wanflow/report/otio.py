"""The cut as an OpenTimelineIO timeline (`film.otio`), complete enough to finish the edit in an NLE.

Three kinds of content, each lasting exactly the film's frames at its fps:
- the picture: one clip per stretch of a segment, and an otio Transition for every non-cut
  transition. A clip never asks for more media than its file holds: a shot plays its media for
  as many whole film frames as the media covers (a speed change is a LinearTimeWarp), and the
  rest of its time (a `hold`, or the part of a frame that fps conversion rounds up) is a
  FreezeFrame of its last frame. Title cards are rendered media files beside the film.
- the soundtrack: one audio track per file, its offset a Gap, its fades transitions from and
  to silence, its volume in the clip's metadata.
- the captions: markers on the timeline's stack, spanning their cues.

`build_otio` is pure; `render_timeline_media` makes the files it points at (cards) and reads
the soundtrack's lengths, with ffmpeg; `report.timelines.timeline_texts` makes the files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from wanflow.film import AudioTrack, Film
from wanflow.media.ffmpeg import media_duration
from wanflow.media.segments import render_cards
from wanflow.media.timeline import Segment, Timeline

CARDS_DIR = "cards"  # beside the film: the title cards as video files


@dataclass(frozen=True)
class SoundtrackSpan:
    """Where one soundtrack file plays on the film, in seconds (as the cut mixes it)."""

    track: AudioTrack
    file_seconds: float  # the whole file
    plays: float  # seconds heard, after trim_start, cut at the film's end


@dataclass(frozen=True)
class TimelineMedia:
    """The files the timeline points at besides the shots' clips."""

    cards: Mapping[str, Path]  # segment label ("opening" / "ending") -> rendered card video
    soundtrack: tuple[SoundtrackSpan, ...]


@dataclass(frozen=True)
class Piece:
    """A stretch of one segment on the picture track, in segment-local film frames."""

    segment: Segment
    start: int
    end: int  # exclusive
    freeze: bool  # True: the shot's last used frame, held


def soundtrack_spans(film: Film, seconds: float) -> tuple[SoundtrackSpan, ...]:
    """What of each soundtrack file plays, the way assemble mixes it (files that play nothing are left out)."""
    spans = []
    for track in film.soundtrack:
        length = media_duration(track.path)
        available = length - track.trim_start
        wanted = available if track.duration is None else min(track.duration, available)
        plays = min(wanted, seconds - track.start)
        if plays > 0:
            spans.append(SoundtrackSpan(track=track, file_seconds=length, plays=plays))
    return tuple(spans)


def render_timeline_media(film: Film, timeline: Timeline, film_dir: Path) -> TimelineMedia:
    """The title cards as video files in `film_dir/cards` (editors show generators as offline); the soundtrack measured."""
    return TimelineMedia(
        cards=render_cards(timeline, film_dir / CARDS_DIR), soundtrack=soundtrack_spans(film, timeline.duration)
    )


def _frames(value: float, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(value, fps)


def _range(start: float, duration: float, fps: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_frames(start, fps), _frames(duration, fps))


def _rate(value: float) -> Fraction:
    return Fraction(value).limit_denominator(1001)


def _moving_frames(segment: Segment, fps: int) -> int:
    """Whole film frames the shot's media covers (after trims, at its speed); the rest is held."""
    if segment.shot is None:
        return segment.frames
    media = Fraction(segment.source_end - segment.source_first) / _rate(segment.source_fps)
    speed = Fraction(segment.speed).limit_denominator(1_000_000)
    return min(segment.frames, math.floor(media * fps / speed))


def _cut_offsets(before: Segment, fps: int) -> tuple[int, int]:
    """(in_offset, out_offset) of the transition after `before`: centred on the cut where media allows.

    The outgoing side's frames after the cut come from its last clip; when that clip is a
    freeze (the shot holds its last frame), the freeze must keep at least one frame before the
    cut, so the cut moves later and the transition takes more of the incoming side.
    """
    overlap = before.transition_frames
    out_offset = overlap // 2
    held = before.frames - _moving_frames(before, fps)
    if held > 0:
        out_offset = min(out_offset, held - 1)
    return overlap - out_offset, out_offset


def _pieces(segment: Segment, head: int, tail: int, fps: int) -> list[Piece]:
    """The segment's stretches between the previous transition's cut and the next one's."""
    moving = _moving_frames(segment, fps)
    bounds = [(0, moving, False), (moving, segment.frames, True)]
    end = segment.frames - tail
    return [
        Piece(segment, max(start, head), min(stop, end), freeze)
        for start, stop, freeze in bounds
        if min(stop, end) > max(start, head)
    ]


def _media_reference(segment: Segment, media: TimelineMedia, fps: int) -> otio.schema.ExternalReference:
    if segment.card is not None:
        path = media.cards[segment.label]
        available = _range(0, segment.frames, fps)
    else:
        assert segment.source is not None
        path = segment.source
        # At the film's rate (41 frames at 16 fps are 61.5 film frames): the file's exact length,
        # in a rate every adapter can write as timecode (16 fps has no SMPTE timecode).
        length = Fraction(segment.source_frames) / _rate(segment.source_fps) * fps
        available = _range(0, float(length), fps)
    return otio.schema.ExternalReference(target_url=path.resolve().as_uri(), available_range=available)


def _clip(piece: Piece, media: TimelineMedia, fps: int, provenance: Mapping[str, object]) -> otio.schema.Clip:
    segment = piece.segment
    length = piece.end - piece.start
    metadata: dict[str, object] = {
        "kind": segment.kind,
        "start_frame": segment.start_frame,
        "frames": segment.frames,
        "piece": "hold" if piece.freeze else "media",
    }
    effects: list[otio.schema.Effect] = []
    if segment.shot is None:
        start = float(piece.start)
    else:
        metadata.update(
            shot_id=segment.shot.id,
            scene_id=segment.shot.scene_id,
            speed=segment.speed,
            hold_frames=segment.hold_frames,
            provenance=dict(provenance),
        )
        rate = _rate(segment.source_fps)
        if piece.freeze:
            start = float(Fraction(segment.source_end - 1) / rate * fps)
            effects.append(otio.schema.FreezeFrame())
        else:
            speed = Fraction(segment.speed).limit_denominator(1_000_000)
            start = float(Fraction(segment.source_first) / rate * fps + piece.start * speed)
            if segment.speed != 1.0:
                effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=segment.speed))
    name = f"{segment.label} (hold)" if piece.freeze else segment.label
    return otio.schema.Clip(
        name=name,
        media_reference=_media_reference(segment, media, fps),
        source_range=_range(start, length, fps),
        effects=effects,
        metadata={"wanflow": metadata},
    )


def transition_item(segment: Segment, in_offset: int, out_offset: int, fps: int) -> otio.schema.Transition:
    """The transition out of `segment`: a dissolve is SMPTE_Dissolve, the other xfade kinds Custom."""
    kind = (
        otio.schema.TransitionTypes.SMPTE_Dissolve
        if segment.transition == "fade"
        else otio.schema.TransitionTypes.Custom
    )
    return otio.schema.Transition(
        name=segment.transition,
        transition_type=kind,
        in_offset=_frames(in_offset, fps),
        out_offset=_frames(out_offset, fps),
        metadata={"wanflow": {"xfade": segment.transition, "frames": segment.transition_frames}},
    )


def _picture_track(
    timeline: Timeline, media: TimelineMedia, provenance: Mapping[str, Mapping[str, object]]
) -> otio.schema.Track:
    fps = timeline.fps
    track = otio.schema.Track(name="picture", kind=otio.schema.TrackKind.Video)
    head = 0  # frames of this segment under the previous transition, before its cut
    for segment in timeline.segments:
        has_next = segment.transition != "cut"  # the plan makes the last segment's a cut
        in_offset, out_offset = _cut_offsets(segment, fps) if has_next else (0, 0)
        shot_provenance = provenance.get(segment.label, {}) if segment.shot is not None else {}
        for piece in _pieces(segment, head, out_offset, fps):
            track.append(_clip(piece, media, fps, shot_provenance))
        if has_next:
            track.append(transition_item(segment, in_offset, out_offset, fps))
        head = in_offset
    return track


def _soundtrack_track(span: SoundtrackSpan, number: int, total: int, fps: int) -> otio.schema.Track:
    """Silence until the track starts, the part that plays (faded in and out), silence to the film's end."""
    track = span.track
    start = round(track.start * fps)
    plays = min(span.plays * fps, total - start)
    fade_in = round(min(track.fade_in, span.plays) * fps)
    fade_out = round(min(track.fade_out, span.plays) * fps)
    clip = otio.schema.Clip(
        name=track.path.name,
        media_reference=otio.schema.ExternalReference(
            target_url=track.path.resolve().as_uri(), available_range=_range(0, span.file_seconds * fps, fps)
        ),
        source_range=_range(track.trim_start * fps, plays, fps),
        metadata={"wanflow": {"volume": track.volume, "fade_in": track.fade_in, "fade_out": track.fade_out}},
    )
    items: list[otio.core.Composable] = [otio.schema.Gap(source_range=_range(0, start, fps))]
    if fade_in:
        items.append(_fade("fade in", in_offset=0, out_offset=fade_in, fps=fps))
    items.append(clip)
    if fade_out:
        items.append(_fade("fade out", in_offset=fade_out, out_offset=0, fps=fps))
    items.append(otio.schema.Gap(source_range=_range(0, total - start - plays, fps)))
    result = otio.schema.Track(name=f"soundtrack {number + 1}", kind=otio.schema.TrackKind.Audio)
    result.extend(items)
    return result


def _fade(name: str, *, in_offset: int, out_offset: int, fps: int) -> otio.schema.Transition:
    """A dissolve with silence: the gap beside the clip is the other side."""
    return otio.schema.Transition(
        name=name,
        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=_frames(in_offset, fps),
        out_offset=_frames(out_offset, fps),
    )


def _caption_markers(timeline: Timeline) -> list[otio.schema.Marker]:
    return [
        otio.schema.Marker(
            name=cue.text,
            marked_range=_range(cue.start_frame, cue.end_frame - cue.start_frame, timeline.fps),
            color=otio.schema.MarkerColor.YELLOW,
            metadata={"wanflow": {"caption": cue.text, "shot_id": cue.shot_id}},
        )
        for cue in timeline.cues
    ]


def build_otio(
    timeline: Timeline, name: str, media: TimelineMedia, provenance: Mapping[str, Mapping[str, object]]
) -> otio.schema.Timeline:
    """The whole cut; `provenance` maps a shot id to what the manifest records for it."""
    result = otio.schema.Timeline(name=name, global_start_time=_frames(0, timeline.fps))
    result.tracks.append(_picture_track(timeline, media, provenance))
    for number, span in enumerate(media.soundtrack):
        result.tracks.append(_soundtrack_track(span, number, timeline.frames, timeline.fps))
    result.tracks.markers.extend(_caption_markers(timeline))
    return result
