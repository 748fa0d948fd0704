"""First-last-frame on the tiny I2V-A14B model: the end frame reaches the transformer through diffusers' `last_image`.

The tiny models' random weights will not draw the end frame, so the test looks where the
pipeline puts it: the conditioning channels of the transformer's input (4 mask channels, then
16 channels of the VAE-encoded video [start frame, zeros, end frame]).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from wanflow.backends.generate import Generator, PromptEmbeds, TextEncoder, fit_end_image, fit_image
from wanflow.catalog import BACKENDS
from wanflow.errors import UserError
from wanflow.take import TakeSettings

WIDTH, HEIGHT, FRAMES = 48, 32, 9
Z = 16  # the Wan2.1 VAE's latent channels


@pytest.fixture(scope="module")
def generator(tiny_model_dirs: dict[str, Path]) -> Generator:
    return Generator.load("i2v-a14b", tiny_model_dirs["i2v-a14b"])


@pytest.fixture(scope="module")
def embeds(tiny_model_dirs: dict[str, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = TextEncoder.load(tiny_model_dirs["i2v-a14b"])
    return encoder.encode("海浪拍打礁石"), encoder.encode("")


def picture(color: str) -> Image.Image:
    image = Image.new("RGB", (72, 48), color)
    image.paste(Image.new("RGB", (24, 16), "white"), (6, 6))
    return image


def take(backend: str = "i2v-a14b", width: int = WIDTH, height: int = HEIGHT) -> TakeSettings:
    spec = BACKENDS[backend]
    return TakeSettings(
        backend=backend,
        seed=3,
        width=width,
        height=height,
        frames=FRAMES,
        fps=spec.fps,
        steps=2,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        shift=spec.shift,
        boundary_ratio=spec.boundary_ratio,
        fit="cover",
    )


def transformer_inputs(generator: Generator, embeds, end: Image.Image | None) -> list[torch.Tensor]:
    """The hidden states every transformer call of the render receives."""
    seen: list[torch.Tensor] = []

    def hook(module, args, kwargs):  # noqa: ANN001
        seen.append(kwargs["hidden_states"].detach().clone())

    handles = [
        getattr(generator.pipe, name).register_forward_pre_hook(hook, with_kwargs=True)
        for name in ("transformer", "transformer_2")
    ]
    try:
        generator.generate(take(), PromptEmbeds(*embeds), picture("blue"), end_image=end)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def encoded_condition(generator: Generator, start: Image.Image, end: Image.Image) -> torch.Tensor:
    """The video [start, zeros, end], each frame framed as the generator frames it, through the VAE, normalised."""
    pipe = generator.pipe
    frames = [
        pipe.video_processor.preprocess(fit_image(image, WIDTH, HEIGHT), height=HEIGHT, width=WIDTH)
        for image in (start, end)
    ]
    video = torch.cat([frames[0].unsqueeze(2), torch.zeros(1, 3, FRAMES - 2, HEIGHT, WIDTH), frames[1].unsqueeze(2)], 2)
    with torch.no_grad():
        latent = pipe.vae.encode(video.to(pipe.vae.dtype)).latent_dist.mode()
    mean = torch.tensor(pipe.vae.config.latents_mean).view(1, Z, 1, 1, 1)
    std = torch.tensor(pipe.vae.config.latents_std).view(1, Z, 1, 1, 1)
    return (latent - mean) / std


def test_the_end_frame_is_in_the_conditioning_the_transformer_receives(generator, embeds) -> None:
    red, green = picture("red"), picture("green")
    with_red = transformer_inputs(generator, embeds, red)
    with_green = transformer_inputs(generator, embeds, green)
    without = transformer_inputs(generator, embeds, None)
    assert len(with_red) == len(without) == 4  # 2 steps, cond + uncond
    condition = with_red[0][:, Z + 4 :]  # after the noise (16) and the mask (4)
    expected = encoded_condition(generator, picture("blue"), red)
    torch.testing.assert_close(condition, expected, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(step[:, Z:], with_red[0][:, Z:]) for step in with_red)  # every call, both experts
    mask = with_red[0][:, Z : Z + 4]  # one channel per video frame of a latent frame (4 per latent frame)
    assert torch.all(mask[:, -1, -1] == 1) and torch.all(mask[:, :-1, -1] == 0)  # the video's very last frame is given
    assert torch.all(without[0][:, Z : Z + 4, -1] == 0)
    assert not torch.equal(with_green[0][:, Z + 4 :, -1], condition[:, :, -1])  # the end frame's latent is its own
    assert torch.equal(with_green[0][:, Z + 4 :, 0], condition[:, :, 0])  # the start frame's is untouched


def test_backends_that_cannot_end_on_a_frame_say_which_can(tiny_model_dirs, embeds) -> None:
    ti2v = Generator.load("ti2v-5b", tiny_model_dirs["ti2v-5b"])
    with pytest.raises(UserError, match="ti2v-5b cannot end on a given frame; i2v-a14b can"):
        ti2v.generate(take("ti2v-5b", 64, 64), PromptEmbeds(*embeds), picture("blue"), end_image=picture("red"))


def test_an_end_picture_of_another_aspect_is_cropped_not_stretched_under_official() -> None:
    from dataclasses import replace

    official = replace(take(), fit="official")
    wide = Image.new("RGB", (96, 32), "black")
    wide.paste(Image.new("RGB", (48, 32), "white"), (24, 0))  # a white middle: what a crop keeps
    framed = fit_end_image(wide, official, BACKENDS["i2v-a14b"])
    assert framed.size == (WIDTH, HEIGHT) and framed.getpixel((0, 16)) == (255, 255, 255)
    same = Image.new("RGB", (96, 64), "red")  # the render's aspect: resized as the start frame is
    assert (
        fit_end_image(same, official, BACKENDS["i2v-a14b"]).tobytes()
        == fit_image(same, WIDTH, HEIGHT, "official", BACKENDS["i2v-a14b"]).tobytes()
    )
