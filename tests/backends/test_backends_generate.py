"""The generation phases on tiny models: shapes, seeds, the MoE switch, images, LoRAs."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy
import pytest
import torch
from diffusers import DiffusionPipeline
from PIL import Image
from safetensors.torch import save_file

from wanflow.backends.generate import Decoder, Generator, PromptEmbeds, TextEncoder
from wanflow.catalog import BACKENDS
from wanflow.errors import UserError
from wanflow.film import Lora
from wanflow.take import RenderSettings, TakeSettings

SIZES = {"ti2v-5b": (64, 64), "t2v-a14b": (48, 32), "i2v-a14b": (48, 32)}


@pytest.fixture(scope="module")
def embeds(tiny_model_dirs: dict[str, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    encoder = TextEncoder.load(tiny_model_dirs["t2v-a14b"])
    return encoder.encode("一只猫在雨中奔跑 a cat runs in the rain"), encoder.encode("色调艳丽，过曝")


@pytest.fixture(scope="module")
def generators(tiny_model_dirs: dict[str, Path]) -> dict[str, Generator]:
    return {b: Generator.load(b, folder) for b, folder in tiny_model_dirs.items()}


def picture(color: str, size: tuple[int, int] = (80, 60)) -> Image.Image:
    image = Image.new("RGB", size, color)
    image.paste(Image.new("RGB", (size[0] // 2, size[1] // 2), "white"), (0, 0))
    return image


Call = tuple[TakeSettings, PromptEmbeds, Image.Image | None]


def request(backend_id: str, embeds: tuple[torch.Tensor, torch.Tensor], **changes: object) -> Call:
    """The arguments of one `Generator.generate` call: a take's settings, its embeddings, its image."""
    spec = BACKENDS[backend_id]
    width, height = SIZES[backend_id]
    image = changes.pop("image", picture("blue") if spec.needs_image else None)
    values: dict[str, object] = dict(
        backend=backend_id,
        seed=7,
        width=width,
        height=height,
        frames=9,
        steps=4,
        fps=spec.fps,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        shift=spec.shift,
        boundary_ratio=spec.boundary_ratio,
        fit="cover",
    )
    values.update(changes)
    return TakeSettings(**values), PromptEmbeds(*embeds), image  # type: ignore[arg-type]


def test_text_encoder_matches_the_pipeline_and_tells_languages_apart(tiny_model_dirs: dict[str, Path]) -> None:
    folder = tiny_model_dirs["ti2v-5b"]
    encoder = TextEncoder.load(folder)
    zh, en = encoder.encode("一只猫"), encoder.encode("a cat")
    assert zh.shape == (512, 32) and zh.device.type == "cpu"
    assert not torch.equal(zh, en)
    assert torch.count_nonzero(zh[20:]) == 0  # padding positions are zeroed, as the pipeline does
    pipe = DiffusionPipeline.from_pretrained(folder)
    with torch.no_grad():
        reference, _ = pipe.encode_prompt("一只猫", do_classifier_free_guidance=False, max_sequence_length=512)
    torch.testing.assert_close(zh, reference[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend_id", list(BACKENDS))
def test_each_backend_renders_the_requested_shape(
    backend_id: str, generators: dict[str, Generator], embeds, tiny_model_dirs
) -> None:
    steps: list[tuple[int, int]] = []
    latents = generators[backend_id].generate(*request(backend_id, embeds), progress=lambda i, n: steps.append((i, n)))
    spec = BACKENDS[backend_id]
    width, height = SIZES[backend_id]
    assert latents.shape == (1, spec.z_dim, 3, height // spec.vae_stride[1], width // spec.vae_stride[2])
    assert latents.dtype == torch.float32 and latents.device.type == "cpu"
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    frames = Decoder.load(tiny_model_dirs[backend_id]).decode(latents)
    assert frames.shape == (9, height, width, 3) and frames.dtype == numpy.uint8


def test_split_phases_give_the_pixels_of_a_whole_pipeline_run(generators, embeds, tiny_model_dirs) -> None:
    folder = tiny_model_dirs["t2v-a14b"]
    frames = Decoder.load(folder).decode(generators["t2v-a14b"].generate(*request("t2v-a14b", embeds)))
    pipe = DiffusionPipeline.from_pretrained(folder)
    whole = pipe(
        prompt_embeds=embeds[0][None],
        negative_prompt_embeds=embeds[1][None],
        height=32,
        width=48,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=4.0,
        guidance_scale_2=3.0,
        output_type="np",
        generator=torch.Generator().manual_seed(7),
    ).frames[0]
    assert numpy.abs(frames.astype(int) - numpy.round(whole * 255).astype(int)).max() <= 1


def test_a_seed_reproduces_bit_identical_latents(generators, embeds) -> None:
    generator = generators["ti2v-5b"]
    first = generator.generate(*request("ti2v-5b", embeds))
    assert torch.equal(first, generator.generate(*request("ti2v-5b", embeds)))
    assert not torch.equal(first, generator.generate(*request("ti2v-5b", embeds, seed=8)))


def record_calls(generator: Generator) -> tuple[dict[str, list[tuple[float, torch.Tensor]]], list]:
    calls: dict[str, list[tuple[float, torch.Tensor]]] = {"transformer": [], "transformer_2": []}
    handles = []
    for name in calls:

        def hook(module, args, kwargs, output, name=name):  # noqa: ANN001
            calls[name].append((float(kwargs["timestep"].flatten()[0]), output[0].clone()))

        handles.append(getattr(generator.pipe, name).register_forward_hook(hook, with_kwargs=True))
    return calls, handles


def test_each_expert_runs_on_its_side_of_the_boundary(generators, embeds) -> None:
    generator = generators["t2v-a14b"]
    calls, handles = record_calls(generator)
    try:
        generator.generate(*request("t2v-a14b", embeds, steps=10))
    finally:
        for handle in handles:
            handle.remove()
    boundary = BACKENDS["t2v-a14b"].boundary_ratio * 1000
    assert calls["transformer"] and calls["transformer_2"]
    assert all(t >= boundary for t, _ in calls["transformer"])
    assert all(t < boundary for t, _ in calls["transformer_2"])
    assert len(calls["transformer"]) + len(calls["transformer_2"]) == 20  # cond + uncond per step


def test_guidance_low_only_changes_the_low_noise_stage(generators, embeds) -> None:
    generator = generators["t2v-a14b"]
    runs = []
    for guidance_low in (3.0, 6.0):
        calls, handles = record_calls(generator)
        latents = generator.generate(*request("t2v-a14b", embeds, steps=10, guidance_low=guidance_low))
        for handle in handles:
            handle.remove()
        runs.append((calls, latents))
    (a, latents_a), (b, latents_b) = runs
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a["transformer"], b["transformer"]))
    assert not torch.equal(latents_a, latents_b)


def test_the_start_image_is_latent_frame_zero_for_ti2v(generators, embeds) -> None:
    generator = generators["ti2v-5b"]
    red = generator.generate(*request("ti2v-5b", embeds, image=picture("red")))
    red_other_seed = generator.generate(*request("ti2v-5b", embeds, image=picture("red"), seed=99))
    green = generator.generate(*request("ti2v-5b", embeds, image=picture("green")))
    assert torch.equal(red[:, :, 0], red_other_seed[:, :, 0])  # pinned by the image, not the noise
    assert not torch.equal(red[:, :, 1:], red_other_seed[:, :, 1:])
    assert not torch.equal(red[:, :, 0], green[:, :, 0])


def test_the_start_image_steers_i2v(generators, embeds) -> None:
    generator = generators["i2v-a14b"]
    assert not torch.equal(
        generator.generate(*request("i2v-a14b", embeds, image=picture("red"))),
        generator.generate(*request("i2v-a14b", embeds, image=picture("green"))),
    )
    with pytest.raises(UserError, match="needs a start image"):
        generator.generate(*request("i2v-a14b", embeds, image=None))
    with pytest.raises(UserError, match="does not take a start image"):
        generators["t2v-a14b"].generate(*request("t2v-a14b", embeds, image=picture("red")))


def write_lora(path: Path, seed: int, style: str = "peft") -> Path:
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for block in (0, 1):
        down, up = torch.randn(4, 24, generator=g), torch.randn(24, 4, generator=g)
        if style == "peft":
            tensors[f"transformer.blocks.{block}.attn1.to_q.lora_A.weight"] = down
            tensors[f"transformer.blocks.{block}.attn1.to_q.lora_B.weight"] = up
        elif style == "comfyui":
            tensors[f"diffusion_model.blocks.{block}.self_attn.q.lora_down.weight"] = down
            tensors[f"diffusion_model.blocks.{block}.self_attn.q.lora_up.weight"] = up
        else:  # DiffSynth-Studio
            tensors[f"blocks.{block}.self_attn.q.lora_A.default.weight"] = down
            tensors[f"blocks.{block}.self_attn.q.lora_B.default.weight"] = up
    save_file(tensors, str(path))
    return path


def test_a_lora_on_the_low_expert_changes_only_the_low_noise_stage(tiny_model_dirs, embeds, tmp_path) -> None:
    generator = Generator.load("t2v-a14b", tiny_model_dirs["t2v-a14b"])
    lora = Lora(path=write_lora(tmp_path / "low.safetensors", 1), scale=1.0, expert="low")
    runs = []
    for loras in ((), (lora,)):
        calls, handles = record_calls(generator)
        generator.generate(*request("t2v-a14b", embeds, steps=10, loras=loras))
        for handle in handles:
            handle.remove()
        runs.append(calls)
    plain, with_lora = runs
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(plain["transformer"], with_lora["transformer"]))
    assert not torch.equal(plain["transformer_2"][0][1], with_lora["transformer_2"][0][1])


@pytest.mark.parametrize("style", ["comfyui", "diffsynth"])
def test_comfyui_and_diffsynth_key_names_load(style: str, tiny_model_dirs, embeds, tmp_path) -> None:
    generator = Generator.load("ti2v-5b", tiny_model_dirs["ti2v-5b"])
    plain = generator.generate(*request("ti2v-5b", embeds))
    lora = Lora(path=write_lora(tmp_path / f"{style}.safetensors", 2, style))
    assert not torch.equal(plain, generator.generate(*request("ti2v-5b", embeds, loras=(lora,))))


def test_switching_loras_reuses_loaded_adapters_and_base_weights(tiny_model_dirs, embeds, tmp_path) -> None:
    generator = Generator.load("ti2v-5b", tiny_model_dirs["ti2v-5b"])
    transformer = generator.pipe.transformer
    first = Lora(path=write_lora(tmp_path / "a.safetensors", 3), scale=0.8)
    second = Lora(path=write_lora(tmp_path / "b.safetensors", 4), scale=1.0)
    plain = generator.generate(*request("ti2v-5b", embeds))
    with_first = generator.generate(*request("ti2v-5b", embeds, loras=(first,)))
    with_second = generator.generate(*request("ti2v-5b", embeds, loras=(second,)))
    assert torch.equal(with_first, generator.generate(*request("ti2v-5b", embeds, loras=(first,))))
    assert torch.equal(plain, generator.generate(*request("ti2v-5b", embeds)))
    assert not torch.equal(with_first, with_second)
    assert generator.loras.loads == 2 and generator.pipe.transformer is transformer
    with pytest.raises(UserError, match="LoRA file not found"):
        generator.generate(*request("ti2v-5b", embeds, loras=(Lora(path=tmp_path / "gone.safetensors"),)))


def test_step_cache_runs_on_both_experts_and_repeats_exactly(tiny_model_dirs, embeds) -> None:
    generator = Generator.load("t2v-a14b", tiny_model_dirs["t2v-a14b"], RenderSettings(step_cache="first-block"))
    first = generator.generate(*request("t2v-a14b", embeds, steps=10))
    assert first.shape == (1, 16, 3, 4, 6)
    assert torch.equal(first, generator.generate(*request("t2v-a14b", embeds, steps=10)))
    with pytest.raises(UserError, match="--step-cache must be one of"):
        Generator.load("t2v-a14b", tiny_model_dirs["t2v-a14b"], RenderSettings(step_cache="magic"))


def test_full_size_models_on_cpu_warn_and_broken_folders_are_refused(tiny_model_dirs, tmp_path, caplog) -> None:
    looks_real = tmp_path / "ti2v-5b"
    shutil.copytree(tiny_model_dirs["ti2v-5b"], looks_real)
    (looks_real / "wanflow_tiny.json").unlink()
    with caplog.at_level(logging.WARNING, logger="wanflow.backends"):
        TextEncoder.load(looks_real, RenderSettings(device="cpu"))
    assert "impractical" in caplog.text or "many hours" in caplog.text
    shutil.rmtree(looks_real / "transformer")
    with pytest.raises(UserError, match="incomplete"):
        Generator.load("ti2v-5b", looks_real)


def _float32_outside_keep_list(module: torch.nn.Module) -> list[str]:
    keep = getattr(module, "_keep_in_fp32_modules", None) or []
    return [
        name
        for name, parameter in module.named_parameters()
        if parameter.dtype == torch.float32 and not any(part in name.split(".") for part in keep)
    ]


@pytest.mark.parametrize("backend_id", list(BACKENDS))
@pytest.mark.parametrize("dtype, torch_dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_every_expert_keeps_the_requested_dtype_in_text_and_image_mode(
    backend_id: str, dtype: str, torch_dtype: torch.dtype, tiny_model_dirs: dict[str, Path]
) -> None:
    """TI2V-5B's image mode once went through `from_pipe`, which recast its bf16 transformer to float32."""
    generator = Generator.load(backend_id, tiny_model_dirs[backend_id], RenderSettings(dtype=dtype))
    pipes = [p for p in (generator.pipe, generator.image_pipe) if p is not None]
    for pipe in pipes:
        for transformer in (pipe.transformer, getattr(pipe, "transformer_2", None)):
            if transformer is not None:
                assert _float32_outside_keep_list(transformer) == []
                assert {p.dtype for p in transformer.parameters()} >= {torch_dtype}
        if pipe.vae is not None:  # the VAE stays float32 on purpose
            assert {p.dtype for p in pipe.vae.parameters()} == {torch.float32}
    if generator.image_pipe is not None and generator.image_pipe is not generator.pipe:
        assert generator.image_pipe.transformer is generator.pipe.transformer  # shared, not copied
