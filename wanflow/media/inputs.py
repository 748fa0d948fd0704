"""The ffmpeg arguments that open one input file as the one kind of media it must be.

ffmpeg picks a demuxer from a file's content, and a text file named `theme.wav` or `data.mp4`
can be a playlist, a manifest or a concat script naming other files (outside the repository,
a FIFO). So each input forces its demuxer (`-f`), allows only it (`-format_whitelist`, which
nested opens inherit) and reads local files only (`-protocol_whitelist file`).
"""

from __future__ import annotations

from pathlib import Path

from wanflow.errors import file_error

CLIP_FORMAT = "mov"  # mp4 clips; the mov demuxer never follows data references (enable_drefs is off)
AUDIO_FORMATS = {  # a soundtrack file's suffix -> the one demuxer that may read it
    ".wav": "wav",
    ".mp3": "mp3",
    ".m4a": "mov",
    ".aac": "aac",
    ".flac": "flac",
    ".ogg": "ogg",
    ".opus": "ogg",
}


def media_input(path: Path, demuxer: str, *options: str) -> list[str]:
    """`-i path` read by `demuxer` only, from local files only (see the module's docstring)."""
    return ["-protocol_whitelist", "file", "-format_whitelist", demuxer, "-f", demuxer, *options, "-i", str(path)]


def clip_input(path: Path) -> list[str]:
    """An mp4 clip: wanflow's own (the cache, the cut, cards), read as mp4 and nothing else."""
    return media_input(path, CLIP_FORMAT)


def audio_demuxer(path: Path) -> str:
    demuxer = AUDIO_FORMATS.get(path.suffix.lower())
    if demuxer is None:
        raise file_error(path, f"not an audio file wanflow reads ({', '.join(AUDIO_FORMATS)})")
    return demuxer


def audio_input(path: Path) -> list[str]:
    """A soundtrack file, read by the demuxer its suffix names (a `.wav` is a WAV file)."""
    return media_input(path, audio_demuxer(path))


def image_input(path: Path, *, fps: int | None = None) -> list[str]:
    """One PNG still (a card, a caption), read once, its frame timed at `fps`. A card's chain
    repeats that frame (`tpad`): `-loop 1` would decode the PNG again for every frame it shows."""
    rate = ["-framerate", str(fps)] if fps is not None else []
    return media_input(path, "image2", "-pattern_type", "none", *rate)


def subtitle_input(path: Path) -> list[str]:
    return media_input(path, "srt")


def concat_input(listing: Path) -> list[str]:
    """The concat demuxer on wanflow's own list of clips, each of which it may open as mp4 only."""
    return ["-protocol_whitelist", "file", "-format_whitelist", f"concat,{CLIP_FORMAT}"] + [
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
    ]
