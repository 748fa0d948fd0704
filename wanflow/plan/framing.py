"""The size a shot renders at when it starts from a picture: the `fit:` of its start image.

`official` (the default) is what the official Wan2.2 code does with a start image: the video
keeps the image's aspect within the profile's area (width x height), each side a multiple of
the model's stride. The two official scripts round differently, and wanflow follows each:

- TI2V-5B, `wan/textimage2video.py`: `best_output_size` (wan/utils/utils.py) rounds the width
  first, then the height first, and keeps the pair nearer the image's aspect; the image is then
  scaled to cover that size and centre-cropped.
- I2V-A14B, `wan/image2video.py` (and diffusers' Wan image-to-video example): each side of the
  image's aspect at that area is rounded down to the stride; the image is resized to it.

`cover` and `contain` render at the profile's size (the image is cropped, or fitted whole with
bars). A continuation's start picture is its upstream's last frame, so under `official` it keeps
the upstream's size. Pure: the image's stored size comes from `storyboard.mediafiles.image_facts`, read
once per file (loading the storyboard already did; EXIF orientation is not applied, as officially).
"""

from __future__ import annotations

from math import sqrt
from pathlib import Path

from wanflow.catalog import BackendSpec
from wanflow.film import ImageFit
from wanflow.storyboard.mediafiles import MediaFileError, image_facts

Size = tuple[int, int]  # (width, height)


def image_size(path: Path) -> Size | None:
    """The picture's stored (width, height), read once per file; None when it is refused (a spec problem)."""
    try:
        facts = image_facts(path)
    except (OSError, MediaFileError):
        return None
    return facts.width, facts.height


def best_output_size(width: int, height: int, stride: int, area: int) -> Size | None:
    """TI2V-5B's rule (official `best_output_size`): of width-first and height-first rounding,
    the size whose aspect is nearer the picture's. None when the picture is too thin to fit."""
    ratio = width / height
    ideal_width = sqrt(area * ratio)
    ideal_height = area / ideal_width
    w1 = int(ideal_width // stride * stride)
    width_first = (w1, int(area / w1 // stride * stride)) if w1 > 0 else (0, 0)
    h2 = int(ideal_height // stride * stride)
    height_first = (int(area / h2 // stride * stride), h2) if h2 > 0 else (0, 0)

    def distance(size: Size) -> float:  # how far the size's aspect is from the picture's, >= 1
        if size[0] <= 0 or size[1] <= 0:
            return float("inf")
        return max(ratio / (size[0] / size[1]), (size[0] / size[1]) / ratio)

    # As the official code: width-first only when strictly nearer, else height-first.
    best = width_first if distance(width_first) < distance(height_first) else height_first
    return best if distance(best) != float("inf") else None


def max_area_size(width: int, height: int, stride: int, area: int) -> Size | None:
    """I2V-A14B's rule (official image2video.py): each side at the picture's aspect, rounded down
    to the stride. None when the picture is too thin to fit."""
    aspect = height / width
    out_height = int(sqrt(area * aspect) // stride * stride)
    out_width = int(sqrt(area / aspect) // stride * stride)
    return (out_width, out_height) if out_width > 0 and out_height > 0 else None


def official_size(spec: BackendSpec, picture: Size, area: int) -> Size | None:
    """The size the official code renders `picture` at within `area` pixels, on this model."""
    rule = best_output_size if spec.image_sizing == "best_output_size" else max_area_size
    return rule(picture[0], picture[1], spec.size_multiple, area)


def framed_size(
    spec: BackendSpec, fit: ImageFit, profile_size: Size, picture: Size | None, *, continuation: bool
) -> Size | None:
    """The shot's render size: the profile's, or under `official` the picture's own framing.

    `picture` is the start image's size, or the upstream shot's size for a continuation (None:
    unknown, the profile's size stands). None when the picture cannot be framed (too thin).
    """
    if fit != "official" or picture is None:
        return profile_size
    if continuation and picture[0] % spec.size_multiple == 0 and picture[1] % spec.size_multiple == 0:
        return picture  # the upstream's last frame, at the size it was rendered
    return official_size(spec, picture, profile_size[0] * profile_size[1])
