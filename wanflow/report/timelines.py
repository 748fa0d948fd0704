"""The cut's timeline in the formats editors read: `.otio`, FCP 7 XML and CMX 3600 EDL.

The `.otio` points at the rendered clips with their time effects. FCP 7 XML and EDL are
written by OpenTimelineIO's own adapters (otio-fcp-adapter, otio-cmx3600-adapter), which
cannot carry what the `.otio` says with effects: the FCP adapter writes no time effects, and
an EDL's source timecodes assume media at the edit's rate, with a dissolve's outgoing side
playing on past its out point. So both point at conformed media: every shot as it plays in
the film (trim, speed, fps conversion, hold) rendered at the film's fps into `conform/` beside
the film, by the same filter chain the cut uses, so every source range lies inside its file.
FCP 7 XML also gets the soundtrack and the caption markers; an EDL holds the picture only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import opentimelineio as otio

from wanflow.errors import shown, shown_lines
from wanflow.film import Film
from wanflow.media.segments import conform_shots
from wanflow.media.timeline import Segment, Timeline
from wanflow.report.otio import TimelineMedia, transition_item

CONFORM_DIR = "conform"  # beside the film: each shot as it plays in the film, for FCP 7 XML and EDL
SUFFIXES = {"otio": ".otio", "fcp_xml": ".xml", "edl": ".edl"}


def timeline_texts(
    film: Film, cut: Timeline, timeline: otio.schema.Timeline, media: TimelineMedia, film_path: Path
) -> dict[str, tuple[Path, str]]:
    """The film's `output.timelines` as the texts of the files beside it (`film.otio`, `film.xml`,
    `film.edl`): format -> (path, text). The shots an FCP XML or EDL needs are conformed now."""
    formats = film.output.timelines
    texts = {}
    conformed: dict[str, Path] = {}
    if any(name != "otio" for name in formats):
        conformed = conform_shots(film, cut, film_path.parent / CONFORM_DIR)
    for name in formats:
        if name == "otio":
            text = otio.adapters.write_to_string(timeline, "otio_json")
        elif name == "fcp_xml":
            text = otio.adapters.write_to_string(
                plain_names(conformed_timeline(cut, timeline, media, conformed)), "fcp_xml"
            )
        else:
            picture_only = conformed_timeline(cut, timeline, media, conformed, picture_only=True)
            text = otio.adapters.write_to_string(plain_names(picture_only), "cmx_3600")
        texts[name] = (film_path.with_suffix(SUFFIXES[name]), text)
    return texts


def plain_names(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """Every name on one line, without control characters (escaped, as `errors.shown` shows them):
    an EDL is lines of text, where a title's newline would start an event of its own, and XML 1.0
    cannot hold most control characters at all. Markers keep their line breaks (FCP XML escapes them)."""
    timeline.name = shown(timeline.name)
    for item in timeline.find_children():
        item.name = shown(item.name)
    for track in timeline.tracks:
        track.name = shown(track.name)
    for marker in timeline.tracks.markers:
        marker.name = shown_lines(marker.name)
    return timeline


def conformed_timeline(
    cut: Timeline,
    timeline: otio.schema.Timeline,
    media: TimelineMedia,
    conformed: Mapping[str, Path],
    *,
    picture_only: bool = False,
) -> otio.schema.Timeline:
    """One clip per segment on its conformed file; each transition starts at its cut point.

    A transition that starts at the cut takes the outgoing segment's frames after the cut as
    its handle, which the conformed file holds: the segment's whole length is in it.
    """
    fps = cut.fps
    result = otio.schema.Timeline(name=timeline.name, global_start_time=timeline.global_start_time)
    picture = otio.schema.Track(name="picture", kind=otio.schema.TrackKind.Video)
    for segment in cut.segments:
        path = media.cards[segment.label] if segment.card is not None else conformed[segment.label]
        picture.append(_segment_clip(segment, path, fps))
        if segment.transition != "cut":
            transition = transition_item(segment, 0, segment.transition_frames, fps)
            # FCP 7 says "start on edit" as alignment `start`; the adapter would guess `start-black`
            transition.metadata["fcp_xml"] = {"alignment": "start"}
            picture.append(transition)
    result.tracks.append(picture)
    if not picture_only:
        for track in timeline.tracks:
            if track.kind == otio.schema.TrackKind.Audio:
                result.tracks.append(copy.deepcopy(track))
        result.tracks.markers.extend(copy.deepcopy(marker) for marker in timeline.tracks.markers)
    return result


def _segment_clip(segment: Segment, path: Path, fps: int) -> otio.schema.Clip:
    """The segment's frames up to where the next transition starts."""
    visible = segment.frames - segment.transition_frames
    metadata = {"kind": segment.kind, "start_frame": segment.start_frame, "frames": segment.frames}
    if segment.shot is not None:
        metadata.update(shot_id=segment.shot.id, conformed_from=str(segment.source))
    reference = otio.schema.ExternalReference(
        target_url=path.resolve().as_uri(),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(segment.frames, fps)
        ),
    )
    reference.name = segment.label  # the EDL's reel name
    return otio.schema.Clip(
        name=segment.label,
        media_reference=reference,
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(visible, fps)
        ),
        metadata={"wanflow": metadata},
    )
