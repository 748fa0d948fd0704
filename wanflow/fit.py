"""A start picture in a take's frame: what `fit:` does to its pixels.

The plan fixes the frame's size (wanflow.plan.framing); this puts the picture into it, the same
way for every renderer: the Wan2.2 generator (backends) and the animatic (media) frame a start
image identically, so an animatic shows what the real profile will start from. Pillow only.
"""

from __future__ import annotations

import PIL.Image

from wanflow.catalog import BackendSpec
from wanflow.film import ImageFit
from wanflow.take import TakeSettings


def fit_image(
    image: PIL.Image.Image, width: int, height: int, fit: ImageFit = "cover", spec: BackendSpec | None = None
) -> PIL.Image.Image:
    """The start frame at exactly width x height, as `fit` says.

    `cover`: scaled to cover, centre cropped. `contain`: scaled to fit whole, centred on black.
    `official`: as the official code of `spec`'s model does it at its framed size: TI2V-5B
    covers and crops (textimage2video.py); I2V-A14B resizes to the size (image2video.py), with
    Pillow's bicubic as diffusers' Wan image-to-video example does.
    """
    image = image.convert("RGB")
    if fit == "official" and spec is not None and spec.image_sizing == "max_area":
        return image.resize((width, height), PIL.Image.BICUBIC)
    if fit == "contain":
        scale = min(width / image.width, height / image.height)
        inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        framed = PIL.Image.new("RGB", (width, height), (0, 0, 0))
        framed.paste(image.resize(inner, PIL.Image.LANCZOS), ((width - inner[0]) // 2, (height - inner[1]) // 2))
        return framed
    scale = max(width / image.width, height / image.height)
    resized = image.resize(
        (max(width, round(image.width * scale)), max(height, round(image.height * scale))), PIL.Image.LANCZOS
    )
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def fit_end_image(image: PIL.Image.Image, take: TakeSettings, spec: BackendSpec) -> PIL.Image.Image:
    """The last frame at the start frame's size, framed as the start frame is; under `official` a
    picture of another aspect is covered and centre-cropped (as diffusers' first-last-frame example
    and ComfyUI's WanFirstLastFrameToVideo do) rather than stretched."""
    fit = take.fit
    if fit == "official" and abs(image.width / image.height - take.width / take.height) > 0.01:
        fit = "cover"
    return fit_image(image, take.width, take.height, fit, spec)
