"""A start image into the frame: `fit_image` against the official code's own steps, on the tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import torch
from PIL import Image

from wanflow.backends.generate import Generator, PromptEmbeds, TextEncoder, fit_image
from wanflow.catalog import BACKENDS
from wanflow.plan.framing import official_size
from wanflow.take import TakeSettings


def portrait(size: tuple[int, int] = (300, 520)) -> Image.Image:
    """A picture whose every region differs, so any crop, stretch or bar shows in the pixels."""
    y, x = numpy.mgrid[0 : size[1], 0 : size[0]]
    pixels = numpy.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], axis=-1).astype(numpy.uint8)
    return Image.fromarray(pixels)


def official_textimage2video_frame(img: Image.Image, ow: int, oh: int) -> Image.Image:
    """wan/textimage2video.py (TI2V-5B): scale to cover the framed size, centre-crop."""
    iw, ih = img.width, img.height
    scale = max(ow / iw, oh / ih)
    img = img.resize((round(iw * scale), round(ih * scale)), Image.LANCZOS)
    x1, y1 = (img.width - ow) // 2, (img.height - oh) // 2
    return img.crop((x1, y1, x1 + ow, y1 + oh))


def test_official_fit_is_each_models_official_preprocessing() -> None:
    image = portrait()
    width, height = official_size(BACKENDS["ti2v-5b"], image.size, 1280 * 704)
    assert (width, height) == (704, 1248)  # not 704x1280: the picture's own aspect
    ti2v = fit_image(image, width, height, "official", BACKENDS["ti2v-5b"])
    assert numpy.array_equal(numpy.asarray(ti2v), numpy.asarray(official_textimage2video_frame(image, width, height)))

    width, height = official_size(BACKENDS["i2v-a14b"], image.size, 1280 * 720)
    i2v = fit_image(image, width, height, "official", BACKENDS["i2v-a14b"])
    # diffusers' Wan image-to-video example: `image.resize((width, height))` at the official size
    assert numpy.array_equal(numpy.asarray(i2v), numpy.asarray(image.resize((width, height))))


def test_cover_crops_and_contain_keeps_the_whole_picture_with_bars() -> None:
    image = portrait()
    cover = numpy.asarray(fit_image(image, 256, 144, "cover")).astype(int)
    contain = numpy.asarray(fit_image(image, 256, 144, "contain")).astype(int)
    assert cover.shape == contain.shape == (144, 256, 3)
    # contain: the picture scaled to 144 rows high is 83 wide, centred; black bars either side
    assert contain[:, :86].max() == 0 and contain[:, 86 + 83 :].max() == 0
    assert contain[:, 86 : 86 + 83].mean() > 40
    # cover: no bars, the full width; green grows down the picture, and the middle rows are kept
    # (scaled to 256x444, rows 150-294 stay: green about 86 at the top, 169 at the bottom)
    assert cover[:, :4, 0].max() < 10 and cover[:, -4:, 0].min() > 245  # red spans the width
    assert 76 < cover[0, :, 1].mean() < 96 and 159 < cover[-1, :, 1].mean() < 179


@pytest.fixture(scope="module")
def embeds(tiny_model_dirs: dict[str, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = TextEncoder.load(tiny_model_dirs["i2v-a14b"])
    return encoder.encode("灯塔看守人登上楼梯"), encoder.encode("色调艳丽，过曝")


@pytest.mark.parametrize("backend_id", ["ti2v-5b", "i2v-a14b"])
def test_a_portrait_start_image_renders_at_its_official_size(
    backend_id: str, tiny_model_dirs: dict[str, Path], embeds
) -> None:
    spec = BACKENDS[backend_id]
    generator = Generator.load(backend_id, tiny_model_dirs[backend_id])
    width, height = official_size(spec, (300, 520), 96 * 64)
    assert height > width  # portrait, inside a landscape profile's area

    def generate(fit: str) -> torch.Tensor:
        take = TakeSettings(
            backend=backend_id,
            seed=3,
            width=width,
            height=height,
            frames=5,
            fps=spec.fps,
            steps=2,
            guidance_high=spec.guidance_high,
            guidance_low=spec.guidance_low,
            shift=spec.shift,
            boundary_ratio=spec.boundary_ratio,
            fit=fit,  # type: ignore[arg-type]
        )
        return generator.generate(take, PromptEmbeds(*embeds), portrait())

    official, cover, contain = generate("official"), generate("cover"), generate("contain")
    assert official.shape[-2:] == (height // spec.vae_stride[1], width // spec.vae_stride[2])
    assert not torch.equal(official, contain)
    if spec.image_sizing == "best_output_size":
        assert torch.equal(official, cover)  # TI2V-5B's official framing is cover at its framed size
    else:
        assert not torch.equal(official, cover)  # I2V-A14B's is a resize: no pixel cut away
