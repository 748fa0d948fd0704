"""The cut as an OpenTimelineIO timeline (`film.otio`), to finish the edit in an NLE.

One clip per segment on one video track, at the film's fps; every non-cut transition becomes
an otio Transition centred on the cut point, so the track lasts exactly as long as the film.
Clips point at the rendered files and carry the shot's id and provenance in their metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import opentimelineio as otio

from wanflow.atomic import write_text_atomic
from wanflow.media.timeline import Segment, Timeline


def _time(frames: int, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, fps)


def _range(start: int, duration: int, fps: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_time(start, fps), _time(duration, fps))


def _media(segment: Segment, fps: int) -> otio.core.MediaReference:
    if segment.card is not None:
        return otio.schema.GeneratorReference(
            name=segment.label,
            generator_kind="wanflow.title_card",
            parameters={"text": segment.card.text, "subtitle": segment.card.subtitle or ""},
            available_range=_range(0, segment.frames, fps),
        )
    assert segment.source is not None
    length = round(segment.source_frames / segment.source_fps * fps)
    return otio.schema.ExternalReference(
        target_url=segment.source.resolve().as_uri(), available_range=_range(0, max(length, 1), fps)
    )


def build_otio(timeline: Timeline, name: str, provenance: Mapping[str, Mapping[str, object]]) -> otio.schema.Timeline:
    """`provenance` maps a shot id to what the manifest records for it."""
    fps = timeline.fps
    track = otio.schema.Track(name="wanflow", kind=otio.schema.TrackKind.Video)
    cut_in = 0  # frames of this segment before the previous transition's cut point
    for index, segment in enumerate(timeline.segments):
        before_cut = segment.transition_frames // 2
        after_cut = segment.transition_frames - before_cut
        visible = segment.frames - cut_in - before_cut
        trim = 0 if segment.shot is None else round(segment.source_first / segment.source_fps * fps)
        metadata: dict[str, object] = {
            "kind": segment.kind,
            "start_frame": segment.start_frame,
            "frames": segment.frames,
        }
        if segment.shot is not None:
            metadata.update(
                {
                    "shot_id": segment.shot.id,
                    "scene_id": segment.shot.scene_id,
                    "speed": segment.speed,
                    "hold_frames": segment.hold_frames,
                    "provenance": dict(provenance.get(segment.shot.id, {})),
                }
            )
        clip = otio.schema.Clip(
            name=segment.label,
            media_reference=_media(segment, fps),
            source_range=_range(trim + cut_in, visible, fps),
            metadata={"wanflow": metadata},
        )
        if segment.shot is not None and segment.speed != 1.0:
            clip.effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=segment.speed))
        track.append(clip)
        if segment.transition != "cut" and index + 1 < len(timeline.segments):
            kind = (
                otio.schema.TransitionTypes.SMPTE_Dissolve
                if segment.transition == "fade"
                else otio.schema.TransitionTypes.Custom
            )
            track.append(
                otio.schema.Transition(
                    name=segment.transition,
                    transition_type=kind,
                    in_offset=_time(before_cut, fps),
                    out_offset=_time(after_cut, fps),
                    metadata={"wanflow": {"xfade": segment.transition, "frames": segment.transition_frames}},
                )
            )
        cut_in = after_cut
    result = otio.schema.Timeline(name=name, global_start_time=_time(0, fps))
    result.tracks.append(track)
    return result


def write_otio(timeline: Timeline, path: Path, name: str, provenance: Mapping[str, Mapping[str, object]]) -> Path:
    text = otio.adapters.write_to_string(build_otio(timeline, name, provenance), "otio_json")
    write_text_atomic(path, text)
    return path
