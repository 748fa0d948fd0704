"""The ffmpeg command for a planned cut: inputs plus ONE filtergraph (video, captions, audio).

Every segment is normalised to the film's size, fps and pixel format, padded or cut to its
exact frame count, then joined pairwise with `concat` (cuts) or `xfade` at frame-exact offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wanflow.film import AudioTrack, FitMode
from wanflow.media.inputs import audio_input
from wanflow.media.timeline import Segment, Timeline

AUDIO_RATE = 48000


@dataclass
class Command:
    """ffmpeg arguments being built: inputs in order, and the filtergraph's chains."""

    inputs: list[str] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    count: int = 0

    def add_input(self, *args: str) -> int:
        self.inputs += list(args)
        self.count += 1
        return self.count - 1


@dataclass(frozen=True)
class AudioUse:
    """How much of a soundtrack file plays, already cut to the film's length."""

    track: AudioTrack
    seconds: float


def fit_filter(fit: FitMode, width: int, height: int, label_in: str, label_out: str, tag: str) -> str:
    """Scale a picture of another shape to the film's size: bars, crop, or a blurred backdrop."""
    contain = f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    cover = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    if fit == "contain":
        return f"[{label_in}]{contain},pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1[{label_out}]"
    if fit == "cover":
        return f"[{label_in}]{cover},setsar=1[{label_out}]"
    sigma = max(2, min(width, height) // 20)
    return (
        f"[{label_in}]split[{tag}a][{tag}b];[{tag}a]{cover},gblur=sigma={sigma}[{tag}bg];"
        f"[{tag}b]{contain}[{tag}fg];[{tag}bg][{tag}fg]overlay=(W-w)/2:(H-h)/2,setsar=1[{label_out}]"
    )


def shot_chain(
    segment: Segment,
    source_index: int,
    timeline: Timeline,
    *,
    fit: FitMode,
    width: int,
    height: int,
    source_size: tuple[int, int],
    interpolate: bool,
) -> tuple[str, str]:
    """Trim, speed, size, fps, hold: one shot becomes exactly `segment.frames` frames."""
    tag = f"s{segment.start_frame}_{source_index}"
    fps = timeline.fps
    head = f"[{source_index}:v:0]trim=start_frame={segment.source_first}:end_frame={segment.source_end},setpts=PTS-STARTPTS"
    if segment.speed != 1.0:
        head += f",setpts=PTS/{segment.speed:g}"
    if source_size == (width, height):
        sized = f"{head},setsar=1[{tag}fit]"
    else:
        sized = f"{head}[{tag}raw];" + fit_filter(fit, width, height, f"{tag}raw", f"{tag}fit", tag)
    effective_fps = segment.source_fps * segment.speed
    if interpolate and abs(effective_fps - fps) > 1e-6:
        rate = f"minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:vsbmc=1"
    else:
        rate = f"fps={fps}"
    exact = f"tpad=stop=-1:stop_mode=clone,trim=end_frame={segment.frames},settb=1/{fps},setpts=N"
    return f"{sized};[{tag}fit]{rate},{exact},format=yuv420p[{tag}]", tag


def still_frames(frames: int) -> str:
    """One still picture (`image_input`) as `frames` frames: converted once, then repeated."""
    return f"format=yuv420p,tpad=stop={frames - 1}:stop_mode=clone,trim=end_frame={frames}"


def card_chain(segment: Segment, source_index: int, fps: int) -> tuple[str, str]:
    tag = f"c{segment.start_frame}_{source_index}"
    chain = f"[{source_index}:v:0]{still_frames(segment.frames)},settb=1/{fps},setpts=N,setsar=1[{tag}]"
    return chain, tag


def join_chains(timeline: Timeline, labels: list[str]) -> tuple[list[str], str]:
    """Pairwise joins at frame-exact offsets: the result lasts `timeline.frames` frames."""
    chains: list[str] = []
    current = labels[0]
    for index in range(1, len(labels)):
        before = timeline.segments[index - 1]
        joined = f"j{index}"
        if before.transition == "cut":
            chains.append(f"[{current}][{labels[index]}]concat=n=2:v=1:a=0,settb=1/{timeline.fps}[{joined}]")
        else:
            offset = timeline.segments[index].start_frame / timeline.fps
            duration = before.transition_frames / timeline.fps
            chains.append(
                f"[{current}][{labels[index]}]xfade=transition={before.transition}:"
                f"duration={duration:.6f}:offset={offset:.6f}[{joined}]"
            )
        current = joined
    return chains, current


def finish_chain(timeline: Timeline, label: str, caption_inputs: list[tuple[int, int, int]]) -> tuple[list[str], str]:
    """Film fades and burned-in captions (each an RGBA still shown over its cue's frames)."""
    chains: list[str] = []
    fps = timeline.fps
    current = label
    for number, (input_index, start, end) in enumerate(caption_inputs):
        shown = f"between(t\\,{(start - 0.5) / fps:.6f}\\,{(end - 0.5) / fps:.6f})"
        chains.append(f"[{current}][{input_index}:v:0]overlay=0:0:enable='{shown}'[cap{number}]")
        current = f"cap{number}"
    fades = []
    if timeline.fade_in_frames:
        fades.append(f"fade=t=in:s=0:n={timeline.fade_in_frames}")
    if timeline.fade_out_frames:
        fades.append(f"fade=t=out:s={timeline.frames - timeline.fade_out_frames}:n={timeline.fade_out_frames}")
    chains.append(f"[{current}]{','.join([*fades, 'format=yuv420p'])}[vout]")
    return chains, "vout"


def audio_chains(command: Command, uses: list[AudioUse], total_frames: int, fps: int) -> str | None:
    """Soundtrack files trimmed, faded, placed and mixed; the mix lasts exactly the film."""
    labels = []
    for number, use in enumerate(uses):
        track = use.track
        index = command.add_input(*audio_input(track.path))
        chain = (
            f"[{index}:a:0]atrim=start={track.trim_start:.6f}:duration={use.seconds:.6f},asetpts=PTS-STARTPTS,"
            f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,volume={track.volume:g}"
        )
        if track.fade_in > 0:
            chain += f",afade=t=in:st=0:d={min(track.fade_in, use.seconds):.6f}"
        if track.fade_out > 0:
            fade = min(track.fade_out, use.seconds)
            chain += f",afade=t=out:st={use.seconds - fade:.6f}:d={fade:.6f}"
        if track.start > 0:
            chain += f",adelay=delays={round(track.start * 1000)}:all=1"
        command.chains.append(f"{chain}[a{number}]")
        labels.append(f"a{number}")
    if not labels:
        return None
    samples = total_frames * AUDIO_RATE // fps
    mixed = "".join(f"[{label}]" for label in labels)
    mix = f"amix=inputs={len(labels)}:duration=longest:normalize=0," if len(labels) > 1 else ""
    command.chains.append(f"{mixed}{mix}apad,atrim=end_sample={samples},asetpts=PTS-STARTPTS[aout]")
    return "aout"


def subtitle_language(lang: str) -> str:
    """ISO 639-2 code for the soft subtitle track (what mp4 players show)."""
    return {"zh": "chi", "en": "eng"}.get(lang, "und")


def concat_list(paths: list[Path], demuxer: str) -> str:
    """The concat demuxer's list file (stream copy path); quotes escaped the way it wants. Each
    file may be opened by `demuxer` only (a clip that is itself a list or a playlist is refused)."""
    quoted = ("'" + str(path.resolve()).replace("'", "'\\''") + "'" for path in paths)
    return "ffconcat version 1.0\n" + "".join(f"file {path}\noption format_whitelist {demuxer}\n" for path in quoted)
