"""ffmpeg primitives: write a clip, read frames back, probe a file, run ffmpeg with clear errors.

The only module that starts ffmpeg processes (through `media.children`: they die with the run). It uses the ffmpeg binary that the
imageio-ffmpeg wheel ships, so every machine runs the same build (it has no ffprobe: `probe`
reads `ffmpeg -i` and counts frames by demuxing, which is exact and cheap). Another ffmpeg runs
only when the user names it ($WANFLOW_FFMPEG); a bundled binary that cannot run stops the command.

Every file is opened as the one kind of media it must be (media/inputs.py).
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from wanflow.atomic import atomic_path
from wanflow.errors import Problem, UserError, file_error
from wanflow.media import children
from wanflow.media.inputs import audio_input, clip_input
from wanflow.settings import current

H264_PRESET = "veryfast"  # a sensible speed/size trade-off for the final encode
QUICK_H264_PRESET = "ultrafast"  # for films made to be checked, not delivered: a third of veryfast's time
FFMPEG_ENV = "WANFLOW_FFMPEG"  # an ffmpeg the user asks for instead of the bundled one


@dataclass(frozen=True)
class SubtitleStream:
    codec: str  # "mov_text"
    language: str  # ISO 639-2 code as stored ("chi", "eng"), "und" when unset


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    frames: int  # exact: counted by demuxing every video packet
    fps: float
    width: int
    height: int
    duration: float  # frames / fps: the length of the picture, not of the container
    codec: str
    pix_fmt: str
    timebase: str  # the video stream's "tbn", e.g. "16384"
    has_audio: bool
    audio_codec: str | None = None
    subtitles: tuple[SubtitleStream, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)  # container tags (title, comment, ...)


def bundled_ffmpeg() -> Path:
    """The binary inside the imageio-ffmpeg wheel (its own lookup would fall back, silently, to any ffmpeg on PATH)."""
    from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform

    return Path(imageio_ffmpeg.__file__).parent / "binaries" / FNAME_PER_PLATFORM.get(get_platform(), "ffmpeg")


def ffmpeg_exe() -> str:
    """The bundled ffmpeg, or the one $WANFLOW_FFMPEG names; checked once per process that it runs."""
    asked = current().ffmpeg
    return _runnable(str(asked) if asked else None)


@functools.cache
def _runnable(asked: str | None) -> str:
    exe = asked or str(bundled_ffmpeg())
    try:
        result = children.run([exe, "-hide_banner", "-version"], capture_output=True, timeout=60)
        reason = "" if result.returncode == 0 else f"exit code {result.returncode}"
    except subprocess.TimeoutExpired:
        reason = "no answer to -version within 60 s"
    except OSError as error:
        reason = error.strerror or repr(error)
    if reason:
        if asked:
            message = f"the ffmpeg named by {FFMPEG_ENV} cannot run ({exe}: {reason}); fix or unset {FFMPEG_ENV}"
        else:
            message = (
                f"the ffmpeg bundled with imageio-ffmpeg cannot run ({exe}: {reason}); reinstall imageio-ffmpeg "
                f"(pip install --force-reinstall imageio-ffmpeg), or set {FFMPEG_ENV} to an ffmpeg of your own"
            )
        raise UserError(Problem("wanflow", None, None, "ffmpeg", message))
    return exe


def run_ffmpeg(
    args: Sequence[str], *, what: str, file: Path | None = None, on_frame: Callable[[int], None] | None = None
) -> str:
    """Run ffmpeg; a failure becomes a UserError naming the job and ffmpeg's own last words.

    `on_frame` receives the number of frames written so far (from `-progress`), for progress bars.
    """
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y"]
    if on_frame is not None:
        command += ["-progress", "pipe:1", "-nostats"]
    command += list(args)
    with tempfile.TemporaryFile() as stderr_file:
        process = children.popen(command, stdout=subprocess.PIPE, stderr=stderr_file, text=True)
        with children.killed_on_error(process):
            assert process.stdout is not None
            for line in process.stdout:
                if on_frame is not None and line.startswith("frame="):
                    on_frame(int(line.split("=", 1)[1]))
            returncode = process.wait()
        stderr_file.seek(0)
        stderr = stderr_file.read().decode(errors="replace")
    if returncode != 0:
        message = f"ffmpeg failed to {what}: " + " | ".join(_error_lines(stderr))
        raise file_error(file or "ffmpeg", message)
    return stderr


def _pipe_ffmpeg(args: Sequence[str], *, what: str, file: Path, stdin: bytes | None = None) -> bytes:
    """Run ffmpeg with raw data on its pipes; a failure becomes a UserError with ffmpeg's reason."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    result = children.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise file_error(file, f"ffmpeg failed to {what}: " + result.stderr.decode(errors="replace")[-400:])
    return result.stdout


def _error_lines(stderr: str) -> list[str]:
    """The lines that say what went wrong: the first error messages, else the last lines."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    markers = ("[Parsed_", "rror", "Invalid", "No such", "not found", "Unable", "Cannot", "does not", "do not match")
    errors = [line for line in lines if any(marker in line for marker in markers)]
    return errors[:4] or lines[-4:]


def write_clip(frames: np.ndarray, fps: float, path: Path, *, crf: int = 18, preset: str = H264_PRESET) -> None:
    """uint8 [F, H, W, 3] -> H.264 yuv420p mp4, written atomically."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"write_clip wants uint8 [frames, height, width, 3], got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("write_clip needs at least one frame")
    stream_clip(iter(frames), (frames.shape[2], frames.shape[1]), fps, path, crf=crf, preset=preset)


def stream_clip(
    frames: Iterator[np.ndarray],
    size: tuple[int, int],
    fps: float,
    path: Path,
    *,
    crf: int = 18,
    preset: str = H264_PRESET,
    threads: int | None = None,
) -> None:
    """uint8 [H, W, 3] frames, as they are made -> H.264 yuv420p mp4, written atomically: ffmpeg
    encodes each frame while the next is drawn. `threads`: x264's (None: one per core and more)."""
    width, height = size
    if width % 2 or height % 2:
        raise ValueError(f"a clip needs an even size, got {width}x{height}")
    with atomic_path(path) as temp, tempfile.TemporaryFile() as errors:
        args = [
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{fps:g}",
            "-i",
            "pipe:0",
        ]
        args += ["-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
        args += [*(["-threads", str(threads)] if threads is not None else []), "-movflags", "+faststart"]
        args += ["-f", "mp4", str(temp)]
        command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
        process = children.popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        with children.killed_on_error(process):
            assert process.stdin is not None
            try:
                for frame in frames:
                    if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                        raise ValueError(f"a {width}x{height} clip wants uint8 frames, got {frame.dtype} {frame.shape}")
                    process.stdin.write(np.ascontiguousarray(frame).data)
            except BrokenPipeError:  # ffmpeg stopped reading: its own words say why, below
                pass
            finally:
                process.stdin.close()
            returncode = process.wait()
        if returncode != 0:
            errors.seek(0)
            raise file_error(path, "ffmpeg failed to write the clip: " + errors.read().decode(errors="replace")[-400:])


def read_frames(path: Path, indices: Sequence[int] | None = None, info: VideoInfo | None = None) -> np.ndarray:
    """Decode a clip to uint8 [F, H, W, 3]; `indices` picks frames (negative counts from the end).
    `info`: the clip's `probe`, when the caller has it already."""
    info = info if info is not None else probe(path)
    args = [*clip_input(path), "-map", "0:v:0"]
    wanted: list[int] = []
    if indices is not None:
        wanted = [i + info.frames if i < 0 else i for i in indices]
        if any(not 0 <= i < info.frames for i in wanted):
            raise ValueError(f"frame indices {list(indices)} out of range for {info.frames} frames in {path}")
        unique = sorted(set(wanted))
        select = "+".join(f"eq(n\\,{i})" for i in unique)
        args += ["-vf", f"select={select}", "-fps_mode", "passthrough"]
    args += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    frame_bytes = info.width * info.height * 3
    decoded = np.frombuffer(_pipe_ffmpeg(args, what="decode", file=path), dtype=np.uint8)
    decoded = decoded[: len(decoded) // frame_bytes * frame_bytes].reshape(-1, info.height, info.width, 3)
    if indices is None:
        return decoded
    position = {index: row for row, index in enumerate(sorted(set(wanted)))}
    return decoded[[position[i] for i in wanted]]


_VIDEO_RE = re.compile(
    r"Stream #0:\d+[^:]*: Video: (?P<codec>\w+).*?, (?P<pix>\w+)(?:\([^)]*\))?, (?P<w>\d+)x(?P<h>\d+)"
)
_FPS_RE = re.compile(r"(?P<fps>[\d.]+) fps")
_TBR_RE = re.compile(r"(?P<tbr>[\d.]+k?) tbr")
_TBN_RE = re.compile(r"(?P<tbn>[\d.]+k?) tbn")
_AUDIO_RE = re.compile(r"Stream #0:\d+[^:]*: Audio: (?P<codec>\w+)")
_SUB_RE = re.compile(r"Stream #0:\d+(?:\[\w+\])?(?:\((?P<lang>\w+)\))?: Subtitle: (?P<codec>\w+)")
_FRAME_RE = re.compile(r"frame=\s*(\d+)")


def probe(path: Path) -> VideoInfo:
    """What a video file holds: streams, exact frame count, size, fps and container tags."""
    if not path.is_file():
        raise file_error(path, "video file not found")
    # One ffmpeg run: the header (stderr), the frame count (demuxing every packet, no decode)
    # and the container tags (an ffmetadata output on stdout).
    result = children.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-stats_period",
            "1000",
            *clip_input(path),
            "-map",
            "0:v:0?",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
            "-map_metadata",
            "0",
            "-f",
            "ffmetadata",
            "pipe:1",
        ],
        capture_output=True,
        text=True,
        errors="replace",
    )
    header = result.stderr
    video = _VIDEO_RE.search(header)
    if video is None or result.returncode != 0:
        raise file_error(path, "not a readable video file (no video stream found)")
    stream_line = header[video.start() : header.find("\n", video.start())]
    rate = _FPS_RE.search(stream_line) or _TBR_RE.search(stream_line)
    fps = float(rate.group(1)) if rate else 0.0
    tbn = _TBN_RE.search(stream_line)
    frame_matches = _FRAME_RE.findall(header)
    frames = int(frame_matches[-1]) if frame_matches else 0
    audio = _AUDIO_RE.search(header)
    subtitles = tuple(
        SubtitleStream(codec=m.group("codec"), language=m.group("lang") or "und") for m in _SUB_RE.finditer(header)
    )
    return VideoInfo(
        path=path,
        frames=frames,
        fps=fps,
        width=int(video.group("w")),
        height=int(video.group("h")),
        duration=frames / fps if fps else 0.0,
        codec=video.group("codec"),
        pix_fmt=video.group("pix"),
        timebase=tbn.group(1) if tbn else "",
        has_audio=audio is not None,
        audio_codec=audio.group("codec") if audio else None,
        subtitles=subtitles,
        metadata=_parse_ffmetadata(result.stdout),
    )


def read_metadata(path: Path) -> dict[str, str]:
    """Container tags, read through ffmpeg's ffmetadata writer (values are unescaped exactly)."""
    result = children.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *clip_input(path), "-f", "ffmetadata", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    return _parse_ffmetadata(result.stdout)


def _parse_ffmetadata(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for raw in _logical_lines(text):
        if raw.startswith("["):
            break  # stream and chapter sections follow the global tags
        if raw.startswith(";") or "=" not in raw:
            continue
        key, value = _split_unescaped(raw)
        tags[key] = value
    return tags


def _logical_lines(text: str) -> list[str]:
    """ffmetadata escapes a newline inside a value with a backslash: join those back."""
    lines: list[str] = []
    current = ""
    for line in text.split("\n"):
        current += line
        trailing = len(current) - len(current.rstrip("\\"))
        if trailing % 2 == 1:
            current = current[:-1] + "\n"
            continue
        lines.append(current)
        current = ""
    return [line for line in lines if line]


def _split_unescaped(line: str) -> tuple[str, str]:
    out: list[str] = []
    key = ""
    escaped = False
    for char in line:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "=" and not key:
            key = "".join(out)
            out = []
        else:
            out.append(char)
    return key, "".join(out)


def media_duration(path: Path) -> float:
    """Seconds of a soundtrack file (its container's duration), read by the demuxer its suffix names."""
    if not path.is_file():
        raise file_error(path, "media file not found")
    header = children.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *audio_input(path)], capture_output=True, text=True, errors="replace"
    ).stderr
    match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", header)
    if match is None:
        raise file_error(path, "not a readable media file (ffmpeg reports no duration)")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def check_audio(path: Path, decode_seconds: float) -> float:
    """A soundtrack file's length in seconds, once its first `decode_seconds` decode without error."""
    result = children.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-xerror", *audio_input(path), "-map", "0:a:0"]
        + ["-t", f"{decode_seconds:g}", "-f", "null", "-"],
        capture_output=True,
        text=True,
        errors="replace",
    )
    if result.returncode != 0:
        raise file_error(path, "not a readable audio file: " + " | ".join(_error_lines(result.stderr)))
    match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", result.stderr)
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3)) if match else 0.0
    if seconds <= 0:
        raise file_error(path, "holds no sound (ffmpeg reads a length of 0 s)")
    return seconds


def audio_samples(path: Path, rate: int = 48000) -> int:
    """Decoded length of the first audio stream in samples at `rate` (priming already trimmed)."""
    args = [*clip_input(path), "-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1"]
    return len(_pipe_ffmpeg(args, what="decode audio", file=path)) // 2


def has_filter(name: str) -> bool:
    listing = children.run([ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in listing.splitlines() if line.strip())
