"""The cut: rendered clips in, the finished film (+ caption sidecars) out.

The picture and the sound are made side by side, each by its own ffmpeg (on two cores, the
sound's encode costs no time; a run usually finds the sound mixed already, media/sound.py), then
put in one file with the captions by stream copy. The
picture takes one of two paths. The fast path joins clips that already match the output
(codec, size, fps, pixel format, timebase) with the concat demuxer and `-c copy`, when the edit
is only cuts and nothing else touches the picture. Otherwise one filtergraph does everything
(see filtergraph.py) and the picture is encoded once. Either way the result is checked against
the planned frame count.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from wanflow.atomic import atomic_path, partial_folder
from wanflow.film import Film
from wanflow.media.captions import write_sidecars
from wanflow.media.cards import render_caption_overlay, render_title_card
from wanflow.media.ffmpeg import H264_PRESET, QUICK_H264_PRESET, VideoInfo, probe, run_ffmpeg
from wanflow.media.filtergraph import (
    Command,
    card_chain,
    concat_list,
    finish_chain,
    join_chains,
    shot_chain,
    subtitle_language,
)
from wanflow.media.inputs import CLIP_FORMAT, clip_input, concat_input, image_input, subtitle_input
from wanflow.media.sound import SoundMix, mix_sound, sound_mix
from wanflow.media.timeline import CutClip, Timeline, plan_timeline

# A quick film is small: ffmpeg's threads cost more than they bring. One thread for the
# filtergraph and one for x264 cut the animatic's picture from 0.80 to 0.68 s on 2 cores.
QUICK_GRAPH_THREADS = ("-filter_complex_threads", "1")
QUICK_THREADS = ("-threads", "1")

__all__ = [
    "AssemblyResult",
    "CutClip",
    "PlannedCut",
    "assemble",
    "can_stream_copy",
    "make_cut",
    "plan_cut",
    "plan_timeline",
]


@dataclass(frozen=True)
class AssemblyResult:
    path: Path
    frames: int  # decoded from the written file, equal to timeline.frames
    duration: float
    fps: int
    width: int
    height: int
    stream_copy: bool  # True when the fast path (concat demuxer, -c copy) was taken
    subtitles: list[Path]  # .srt and .vtt sidecars (empty without captions)
    timeline: Timeline
    warnings: tuple[str, ...]
    has_audio: bool


def can_stream_copy(film: Film, timeline: Timeline, infos: list[VideoInfo]) -> bool:
    """True when joining the clips as they are gives exactly the planned film."""
    if film.opening or film.ending or timeline.fade_in_frames or timeline.fade_out_frames:
        return False
    if film.output.burn_captions and timeline.cues:
        return False
    if any(segment.transition != "cut" for segment in timeline.segments):
        return False
    first = infos[0]
    for segment, info in zip(timeline.segments, infos, strict=True):
        untouched = (
            segment.source_first == 0
            and segment.source_end == info.frames
            and segment.speed == 1.0
            and segment.hold_frames == 0
            and segment.frames == info.frames
        )
        same = (
            info.codec == "h264"
            and info.pix_fmt == "yuv420p"
            and info.width == timeline.width
            and info.height == timeline.height
            and abs(info.fps - timeline.fps) < 1e-6
            and info.timebase == first.timebase
        )
        if not (untouched and same):
            return False
    return True


def _picture_inputs(
    film: Film, timeline: Timeline, clips: list[CutClip], infos: list[VideoInfo], command: Command, work: Path
) -> str:
    """Add every picture input and the chains that join them; returns the final video label."""
    labels: list[str] = []
    clip_by_id = {clip.shot.id: (clip, info) for clip, info in zip(clips, infos, strict=True)}
    for segment in timeline.segments:
        if segment.card is not None:
            png = work / f"{segment.label}.png"
            render_title_card(segment.card, timeline.width, timeline.height).save(png)
            index = command.add_input(*image_input(png, fps=timeline.fps))
            chain, label = card_chain(segment, index, timeline.fps)
        else:
            clip, info = clip_by_id[segment.label]
            index = command.add_input(*clip_input(clip.path))
            chain, label = shot_chain(
                segment,
                index,
                timeline,
                fit=film.output.fit,
                width=timeline.width,
                height=timeline.height,
                source_size=(info.width, info.height),
                interpolate=film.output.interpolate,
            )
        command.chains.append(chain)
        labels.append(label)
    joins, joined = join_chains(timeline, labels)
    command.chains += joins
    captions: list[tuple[int, int, int]] = []
    if film.output.burn_captions:
        for number, cue in enumerate(timeline.cues):
            png = work / f"caption{number}.png"
            render_caption_overlay(cue.text, timeline.width, timeline.height).save(png)
            captions.append((command.add_input(*image_input(png)), cue.start_frame, cue.end_frame))
    finish, final = finish_chain(timeline, joined, captions)
    command.chains += finish
    return final


@dataclass(frozen=True)
class PlannedCut:
    """A cut planned and not made yet: `expected` is the film it will write, so the report can
    be made while ffmpeg encodes."""

    film: Film
    clips: list[CutClip]
    infos: list[VideoInfo]
    mix: SoundMix | None
    quick: bool
    expected: AssemblyResult


def assemble(
    film: Film,
    clips: list[CutClip],
    out_path: Path,
    *,
    width: int,
    height: int,
    metadata: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
    mixed_sound: Callable[[SoundMix], Path | None] | None = None,
) -> AssemblyResult:
    """Cut the clips into `out_path` (H.264 yuv420p, +faststart) with sidecar captions beside it:
    `plan_cut`, then `make_cut`."""
    planned = plan_cut(film, clips, out_path, width=width, height=height, quick=quick, progress=progress)
    return make_cut(planned, metadata=metadata, progress=progress, mixed_sound=mixed_sound)


def plan_cut(
    film: Film,
    clips: list[CutClip],
    out_path: Path,
    *,
    width: int,
    height: int,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PlannedCut:
    """Probe the clips, lay out the timeline and write the caption sidecars beside `out_path`.

    `quick` is for films made to be checked, not delivered (preview, animatic): x264's
    `ultrafast` preset (a third of `veryfast`'s time) and the AAC encoder's fast coder."""
    say = progress or (lambda message: None)
    say(f"probing {len(clips)} clips")
    with ThreadPoolExecutor(max_workers=4) as pool:  # ffmpeg processes; the GIL is not involved
        infos = list(pool.map(probe, [clip.path for clip in clips]))
    timeline = plan_timeline(film, clips, infos, width=width, height=height)
    mix, audio_warnings = sound_mix(film, timeline.frames, timeline.fps, quick)
    out_path = out_path.resolve()
    expected = AssemblyResult(
        path=out_path,
        frames=timeline.frames,
        duration=timeline.duration,
        fps=timeline.fps,
        width=timeline.width,
        height=timeline.height,
        stream_copy=can_stream_copy(film, timeline, infos),
        subtitles=write_sidecars(list(timeline.cues), timeline.fps, out_path),
        timeline=timeline,
        warnings=timeline.warnings + tuple(audio_warnings),
        has_audio=mix is not None,
    )
    return PlannedCut(film, clips, infos, mix, quick, expected)


def make_cut(
    planned: PlannedCut,
    *,
    metadata: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    mixed_sound: Callable[[SoundMix], Path | None] | None = None,
) -> AssemblyResult:
    """Encode the planned cut and check the film against it.

    `mixed_sound` gives the soundtrack's mix (from a cache: `sound.cached_sound`); without it,
    or when it gives None, the cut mixes the sound in its own work folder."""
    say = progress or (lambda message: None)
    film, expected, timeline = planned.film, planned.expected, planned.expected.timeline
    with partial_folder(expected.path) as work_dir, ThreadPoolExecutor(1) as beside:
        work = Path(work_dir)
        mixing = None
        if planned.mix is not None:  # its own ffmpeg, on another core, while the picture is encoded
            mixing = beside.submit(_sound, planned.mix, mixed_sound, work / "sound.m4a")
        picture = work / "picture.mp4"
        path_name = "stream copy (concat demuxer, -c copy)" if expected.stream_copy else "one filtergraph, one encode"
        say(f"assembling {timeline.frames} frames ({timeline.duration:.2f}s) via {path_name}")
        _cut_picture(
            film,
            timeline,
            planned.clips,
            planned.infos,
            work,
            picture,
            stream_copy=expected.stream_copy,
            quick=planned.quick,
            say=say,
        )
        sound_file = mixing.result() if mixing is not None else None
        written = _mux(film, picture, sound_file, expected.subtitles, metadata or {}, expected.path, timeline.frames)
    if (written.width, written.height, written.has_audio) != (expected.width, expected.height, expected.has_audio):
        raise RuntimeError(f"assembled {written.width}x{written.height} film differs from its plan: a wanflow bug")
    return expected


def _cut_picture(
    film: Film,
    timeline: Timeline,
    clips: list[CutClip],
    infos: list[VideoInfo],
    work: Path,
    out: Path,
    *,
    stream_copy: bool,
    quick: bool,
    say: Callable[[str], None],
) -> None:
    """The film's picture alone: the clips joined as they are, or one filtergraph encoded once."""
    command = Command()
    if stream_copy:
        listing = work / "clips.txt"
        listing.write_text(concat_list([clip.path for clip in clips], CLIP_FORMAT), encoding="utf-8")
        command.add_input(*concat_input(listing))
        video_map, video_codec = "0:v:0", ["-c:v", "copy"]
    else:
        video_map = "[" + _picture_inputs(film, timeline, clips, infos, command, work) + "]"
        preset = QUICK_H264_PRESET if quick else H264_PRESET
        video_codec = ["-c:v", "libx264", "-preset", preset, "-crf", str(film.output.crf), "-pix_fmt", "yuv420p"]
        video_codec += ["-r", str(timeline.fps), *(QUICK_THREADS if quick else ())]
    graph = ["-filter_complex", ";".join(command.chains)] if command.chains else []
    args = [*(QUICK_GRAPH_THREADS if quick and graph else ()), *command.inputs, *graph]
    run_ffmpeg(
        [*args, "-map", video_map, *video_codec, "-f", "mp4", str(out)],
        what="assemble the film",
        file=out,
        on_frame=lambda frame: say(f"encoded {frame}/{timeline.frames} frames"),
    )


def _sound(mix: SoundMix, mixed_sound: Callable[[SoundMix], Path | None] | None, out: Path) -> Path:
    """The mix as `mixed_sound` gives it, else mixed into `out`."""
    return (mixed_sound(mix) if mixed_sound is not None else None) or mix_sound(mix, out)


def _mux(
    film: Film,
    picture: Path,
    sound: Path | None,
    subtitles: list[Path],
    metadata: dict[str, str],
    out_path: Path,
    frames: int,
) -> VideoInfo:
    """Picture, sound and captions into the film by stream copy, with its metadata and +faststart."""
    mux = Command()
    mux.add_input(*clip_input(picture))
    streams = ["-map", "0:v:0"]
    if sound is not None:
        streams += ["-map", f"{mux.add_input(*clip_input(sound))}:a:0"]
    if subtitles:
        index = mux.add_input(*subtitle_input(subtitles[0]))
        language = subtitle_language(film.lang)
        streams += ["-map", f"{index}:s:0", "-c:s", "mov_text", "-metadata:s:s:0", f"language={language}"]
    tags = ["-metadata", f"title={film.title}"]
    for key, value in metadata.items():
        tags += ["-metadata", f"{key}={value}"]
    with atomic_path(out_path) as temp:
        args = [*mux.inputs, *streams, "-c:v", "copy", "-c:a", "copy", *tags, "-movflags", "+faststart", "-f", "mp4"]
        run_ffmpeg([*args, str(temp)], what="assemble the film", file=out_path)
        written = probe(temp)
        if written.frames != frames:
            raise RuntimeError(f"assembled {written.frames} frames, planned {frames}: a wanflow bug")
    return written
