"""What a media file the storyboard names must be, told from its own bytes, at bounded cost.

A file's suffix is a claim; its first bytes say what it is. A soundtrack named `theme.wav`
that is a playlist, a manifest or a concat script (text naming other files) is refused here,
before ffmpeg sees it (ffmpeg also reads it as a WAV file only: `media.ffmpeg.audio_input`).

Start images are read by Pillow restricted to the format their suffix names, refused above
START_IMAGE_MAX_PIXELS before any pixel is decoded, and checked once per file however many
shots name them. Their EXIF orientation is NOT applied: the official Wan2.2 code opens a start
image with `PIL.Image.open(path).convert("RGB")`, which keeps the stored pixels as they are,
so a rotated phone photo reaches the model unrotated there too; wanflow frames and renders it
the same way (rotate the pixels themselves to change that).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

from wanflow.storyboard.bounds import START_IMAGE_MAX_PIXELS

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
AUDIO_KINDS = {  # suffix -> what the file must be
    ".wav": "WAV",
    ".mp3": "MP3",
    ".m4a": "MPEG-4 audio",
    ".aac": "AAC (ADTS)",
    ".flac": "FLAC",
    ".ogg": "Ogg",
    ".opus": "Ogg Opus",
}
HEAD_BYTES = 16


class MediaFileError(ValueError):
    """The file is not the media its name says; the message says why, in one line."""


def _mpeg_audio_sync(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _looks_like(suffix: str, head: bytes) -> bool:
    if suffix == ".wav":
        return head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE"
    if suffix == ".mp3":
        return head[:3] == b"ID3" or _mpeg_audio_sync(head)
    if suffix == ".m4a":
        return head[4:8] == b"ftyp"
    if suffix == ".aac":
        return head[:4] == b"ADIF" or head[:3] == b"ID3" or (_mpeg_audio_sync(head) and head[1] & 0x06 == 0)
    if suffix == ".flac":
        return head[:4] == b"fLaC" or head[:3] == b"ID3"
    return head[:4] == b"OggS"  # .ogg, .opus


def check_audio_file(path: Path) -> None:
    """Refuse an audio file whose first bytes are not what its suffix says (empty, text, another format)."""
    kind = AUDIO_KINDS.get(path.suffix.lower())
    if kind is None:
        raise MediaFileError(f"{path.name}: not an audio file wanflow reads ({', '.join(AUDIO_KINDS)})")
    with open(path, "rb") as file:
        head = file.read(HEAD_BYTES)
    if not head:
        raise MediaFileError(f"{path.name} is empty")
    if not _looks_like(path.suffix.lower(), head):
        text = head.lstrip().startswith((b"#", b"<", b"ffconcat", b"file ")) or head.isascii()
        guess = " (it is text: a playlist, a manifest or a script?)" if text else ""
        raise MediaFileError(f"{path.name} is not a {kind} file{guess}")


@dataclass(frozen=True)
class ImageFacts:
    width: int  # as stored: EXIF orientation is not applied (see the module's docstring)
    height: int
    format: str


def image_facts(path: Path) -> ImageFacts:
    """Size and format of a start image that decodes in full; read once per file and version
    (a film of 2000 shots naming one photo decodes it once)."""
    status = path.stat()
    facts = _image_facts(path, status.st_size, status.st_mtime_ns, status.st_ino)
    if isinstance(facts, str):
        raise MediaFileError(facts)
    return facts


@functools.lru_cache(maxsize=256)
def _image_facts(path: Path, size: int, mtime_ns: int, inode: int) -> ImageFacts | str:
    """The facts, or why the image is refused (kept too: a broken image is not decoded per shot)."""
    from PIL import Image

    try:
        with open_start_image(path) as image:
            image.load()
            return ImageFacts(image.width, image.height, image.format or "")
    except MediaFileError as error:
        return str(error)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return f"{path.name} cannot be decoded: {error}"


def open_start_image(path: Path):  # -> PIL.Image.Image (not imported at module level)
    """The image opened lazily, as its suffix's format only, refused above START_IMAGE_MAX_PIXELS."""
    from PIL import Image, UnidentifiedImageError

    expected = IMAGE_FORMATS.get(path.suffix.lower())
    if expected is None:
        raise MediaFileError(f"{path.name}: not an image wanflow reads ({', '.join(IMAGE_FORMATS)})")
    try:
        with warnings.catch_warnings():  # past 89 M pixels Pillow warns; the limit below is far lower
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=[expected])
    except UnidentifiedImageError:
        raise MediaFileError(f"{path.name} is not a {expected} image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MediaFileError(f"{path.name} cannot be decoded: {error}") from None
    pixels = image.width * image.height
    if pixels > START_IMAGE_MAX_PIXELS:
        image.close()
        raise MediaFileError(
            f"{path.name} is {image.width}x{image.height} ({pixels / 1e6:.0f} megapixels); a start image holds at most "
            f"{START_IMAGE_MAX_PIXELS / 1e6:.0f} megapixels (the model sees at most 1280x720): scale it down"
        )
    return image
