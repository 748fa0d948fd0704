"""An animatic clip: a start picture moved by the shot's camera, drawn with Pillow and encoded once.

The picture is already in the take's frame (`wanflow.fit.fit_image`, or a storyboard panel, or
an upstream clip's last frame); every frame is an affine view of it (`animatic_moves.View`),
so a clip's first frame is its starting view exactly. Where a move looks past the picture's
edge (a pull back, a shake's first frames) it sees the picture's own surroundings, mirrored,
blurred and dimmed: clearly outside the shot, never black bars. An end picture (`end_image:`)
is cross-faded in over the second half of the way to its frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from wanflow.catalog import BackendSpec
from wanflow.film import ImageFit
from wanflow.fit import fit_end_image, fit_image
from wanflow.media.animatic_moves import View, camera_path
from wanflow.media.animatic_panel import Panel, draw_panel
from wanflow.media.ffmpeg import read_frames, stream_clip
from wanflow.storyboard.mediafiles import open_start_image
from wanflow.take import TakeSettings

CRF = 12  # fine enough that a continuation, drawn from its upstream's decoded last frame, matches it
PRESET = "superfast"  # a third of veryfast's time for twice the bytes: an animatic is drawn often, kept briefly
ENCODER_THREADS = 1  # takes are drawn one per core: x264's own threads only cost (7 clips, 2 cores: 0.57 -> 0.50 s)
SURROUND_DIM = 0.45  # brightness of what lies past the picture's edge
SURROUND_MARGIN = 0.5  # the surround reaches this share of the frame past each edge


@dataclass(frozen=True)
class AnimaticClip:
    """Everything that draws one clip besides its pictures (what its cache key must hold)."""

    width: int
    height: int
    frames: int
    fps: float
    camera: tuple[str, ...] = ()  # canonical camera terms, as the shot lists them
    start: View = field(default_factory=View)  # the view of the first frame
    seed: int = 0  # the handheld shake's
    end_frame: int | None = None  # the frame that shows the end picture whole (with an end picture)


def start_picture(
    size: tuple[int, int],
    *,
    image: Path | None = None,
    upstream_clip: Path | None = None,
    panel: Panel | None = None,
    fit: ImageFit = "official",
    spec: BackendSpec | None = None,
) -> Image.Image:
    """A take's first picture, in its frame: the start image or the upstream clip's last frame
    framed as the real model would frame it (`fit:` on `spec`), else the shot's panel."""
    if image is not None:
        with open_start_image(image) as opened:  # its format only, within the pixel limit
            return fit_image(opened, size[0], size[1], fit, spec)
    if upstream_clip is not None:
        return fit_image(Image.fromarray(read_frames(upstream_clip, [-1])[0]), size[0], size[1], fit, spec)
    if panel is None:
        raise ValueError("an animatic take starts from a start image, an upstream clip or a panel")
    return draw_panel(panel, size[0], size[1])


def end_picture(
    take: TakeSettings, spec: BackendSpec, *, image: Path | None = None, clip: Path | None = None
) -> Image.Image | None:
    """The picture a take ends on, framed as the generator frames its last frame: the end image,
    or the first frame of the clip it ends on; None when it ends on neither."""
    if image is not None:
        with open_start_image(image) as opened:  # its format only, within the pixel limit
            return fit_end_image(opened, take, spec)
    if clip is not None:
        return fit_end_image(Image.fromarray(read_frames(clip, [0])[0]), take, spec)
    return None


def draw_frames(picture: Image.Image, clip: AnimaticClip, end: Image.Image | None = None) -> np.ndarray:
    """The clip's frames, uint8 [frames, height, width, 3]."""
    out = np.empty((clip.frames, clip.height, clip.width, 3), dtype=np.uint8)
    for index, frame in enumerate(iter_frames(picture, clip, end)):
        out[index] = frame
    return out


def iter_frames(picture: Image.Image, clip: AnimaticClip, end: Image.Image | None = None) -> Iterator[np.ndarray]:
    """The clip's frames one by one, uint8 [height, width, 3], each drawn when asked for."""
    size = (clip.width, clip.height)
    if picture.size != size or (end is not None and end.size != size):
        raise ValueError(f"animatic pictures must be {size[0]}x{size[1]}, got {picture.size} and {end and end.size}")
    canvas, margin = _canvas(picture.convert("RGB"))
    path = camera_path(clip.camera, clip.seed)
    last = max(1, clip.frames - 1)
    for index in range(clip.frames):
        view = clip.start.then(path(index / last, index / clip.fps))
        frame = _look(canvas, margin, size, view)
        if end is not None:
            weight = _fade_weight(index, clip.end_frame if clip.end_frame is not None else last)
            if weight > 0:
                frame = Image.blend(frame, end.convert("RGB"), weight)
        yield np.asarray(frame)


def write_animatic(picture: Image.Image, clip: AnimaticClip, path: Path, end: Image.Image | None = None) -> None:
    """Draw the clip and write it as H.264, atomically: each frame is encoded while the next is drawn."""
    frames = iter_frames(picture, clip, end)
    stream_clip(frames, (clip.width, clip.height), clip.fps, path, crf=CRF, preset=PRESET, threads=ENCODER_THREADS)


def _canvas(picture: Image.Image) -> tuple[Image.Image, tuple[int, int]]:
    """The picture inside its surroundings: mirrored, blurred and dimmed past each edge."""
    width, height = picture.size
    margin = (
        max(1, min(width - 1, round(width * SURROUND_MARGIN))),
        max(1, min(height - 1, round(height * SURROUND_MARGIN))),
    )
    pixels = np.asarray(picture)
    padded = np.pad(pixels, ((margin[1], margin[1]), (margin[0], margin[0]), (0, 0)), mode="reflect")
    surround = Image.fromarray(padded).filter(ImageFilter.BoxBlur(max(1, width // 60)))
    surround = ImageEnhance.Brightness(surround).enhance(SURROUND_DIM)
    surround.paste(picture, margin)
    return surround, margin


def _look(canvas: Image.Image, margin: tuple[int, int], size: tuple[int, int], view: View) -> Image.Image:
    """The frame the view sees: frame pixel centres mapped back into the canvas."""
    width, height = size
    if view == View():
        return canvas.crop((margin[0], margin[1], margin[0] + width, margin[1] + height))
    scale = 1.0 / view.zoom
    centre_x = margin[0] + width / 2 + view.x * width
    centre_y = margin[1] + height / 2 + view.y * height
    box = (
        centre_x - scale * width / 2,
        centre_y - scale * height / 2,
        centre_x + scale * width / 2,
        centre_y + scale * height / 2,
    )
    if view.turn == 0 and box[0] >= 0 and box[1] >= 0 and box[2] <= canvas.width and box[3] <= canvas.height:
        return canvas.resize(size, Image.Resampling.BILINEAR, box=box)  # separable: three times the speed
    angle = math.radians(view.turn)
    a, b = scale * math.cos(angle), -scale * math.sin(angle)
    d, e = scale * math.sin(angle), scale * math.cos(angle)
    matrix = (a, b, centre_x - a * width / 2 - b * height / 2, d, e, centre_y - d * width / 2 - e * height / 2)
    return canvas.transform(size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR)


def _fade_weight(index: int, end_frame: int) -> float:
    """How much of the end picture a frame shows: none for the first half of the way, all at its frame."""
    if end_frame <= 0:
        return 1.0
    begin = end_frame / 2
    if index <= begin:
        return 0.0
    p = min(1.0, (index - begin) / (end_frame - begin))
    return p * p * (3.0 - 2.0 * p)
