"""Every memory plan through diffusers' own code path, on tiny models whose experts quantize, on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import torch
from diffusers import WanPipeline

from wanflow.backends.generate import Decoder
from wanflow.backends.gguf_files import gguf_problems, quantize_q4_k, read_gguf_facts, write_gguf
from wanflow.backends.memory_plans import gguf_experts, place, text_encoder_fp8
from wanflow.backends.quantized import gguf_path
from wanflow.backends.tiny_gguf import write_tiny_gguf_model
from wanflow.catalog import BACKENDS
from wanflow.errors import UserError
from wanflow.memory import MEMORY_PLANS, memory_plan

BACKEND = "t2v-a14b"
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gguf-models")
    write_tiny_gguf_model(BACKEND, root)
    return root


def render(root: Path, plan_name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised latents of one 4-step shot under a plan, the pipeline built as the generator builds it."""
    spec, folder, plan = BACKENDS[BACKEND], root / BACKEND, memory_plan(plan_name)
    experts = gguf_experts(spec, folder, plan, dtype, root)
    pipe = WanPipeline.from_pretrained(folder, text_encoder=None, tokenizer=None, dtype=dtype, **experts)
    place(pipe, plan, CPU, dtype)
    pipe.set_progress_bar_config(disable=True)
    embeds = torch.randn(1, 512, 32, generator=torch.Generator().manual_seed(1)).to(dtype)
    with torch.inference_mode():
        return pipe(
            prompt_embeds=embeds,
            negative_prompt_embeds=torch.zeros_like(embeds),
            height=64,
            width=64,
            num_frames=9,
            num_inference_steps=4,
            guidance_scale=spec.guidance_high,
            guidance_scale_2=spec.guidance_low,
            generator=torch.Generator().manual_seed(7),
            output_type="latent",
        ).frames.float()


def psnr(a: numpy.ndarray, b: numpy.ndarray) -> float:
    mse = numpy.mean((a.astype(numpy.float64) - b.astype(numpy.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * numpy.log10(255.0**2 / mse)


def test_plans_that_only_move_weights_give_the_same_numbers(root: Path) -> None:
    resident = render(root, "resident")
    for name in ("offload", "stream"):
        torch.testing.assert_close(render(root, name), resident, rtol=0, atol=0)


def test_fp8_and_gguf_stay_close_to_bf16(root: Path) -> None:
    """bf16 compute for all; the frames decoded by the tiny VAE (the PSNR is in benchmarks/README.md)."""
    decoder = Decoder.load(root / BACKEND)
    frames = {name: decoder.decode(render(root, name, torch.bfloat16)) for name in ("resident", "fp8", "gguf-q8")}
    latents_q4 = render(root, "gguf-q4", torch.bfloat16)
    assert latents_q4.isfinite().all()
    for name in ("fp8", "gguf-q8"):
        assert 25 < psnr(frames[name], frames["resident"]) < float("inf"), name  # changed, and close


def test_every_plan_has_a_code_path_here(root: Path) -> None:
    for name in MEMORY_PLANS:
        if name not in ("resident", "offload", "stream", "gguf-q8", "gguf-q4"):  # those run above
            assert render(root, name).isfinite().all(), name


def test_fp8_stores_weights_in_float8_and_computes_in_the_model_dtype(root: Path) -> None:
    pipe = WanPipeline.from_pretrained(root / BACKEND, text_encoder=None, tokenizer=None, dtype=torch.float32)
    place(pipe, memory_plan("fp8-stream"), CPU, torch.float32)
    dtypes = {p.dtype for p in pipe.transformer.blocks.parameters()}
    assert torch.float8_e4m3fn in dtypes and torch.float32 in dtypes  # linear weights fp8; norms, tables not


def test_text_encoder_in_fp8_encodes_close_to_full_precision(tiny_model_dirs: dict[str, Path]) -> None:
    from transformers import UMT5EncoderModel

    folder = tiny_model_dirs[BACKEND] / "text_encoder"
    ids = torch.tensor([[5, 9, 30, 1]])
    full = UMT5EncoderModel.from_pretrained(folder).eval()
    fp8 = text_encoder_fp8(UMT5EncoderModel.from_pretrained(folder).eval(), torch.float32)
    assert any(p.dtype == torch.float8_e4m3fn for p in fp8.parameters())
    with torch.no_grad():
        a, b = full(ids).last_hidden_state, fp8(ids).last_hidden_state
    assert 0 < float((a - b).norm() / a.norm()) < 0.1


def test_q4_k_blocks_decode_with_ggufs_own_dequantizer() -> None:
    import gguf

    values = numpy.random.default_rng(0).standard_normal((4, 512)).astype(numpy.float32)
    decoded = gguf.quants.dequantize(quantize_q4_k(values), gguf.GGMLQuantizationType.Q4_K)
    step = (values.max() - values.min()) / 15
    assert decoded.shape == values.shape and numpy.abs(decoded - values).max() < step


def test_gguf_files_say_what_they_hold(root: Path) -> None:
    for quant, kind in (("q8_0", "Q8_0"), ("q4_k_s", "Q4_K")):
        facts = read_gguf_facts(gguf_path(root, BACKEND, "transformer", quant))
        assert (facts.architecture, facts.quant) == ("wan", kind)
        assert (
            gguf_problems(gguf_path(root, BACKEND, "transformer", quant), root / BACKEND / "transformer", quant) == []
        )


def test_a_gguf_of_the_wrong_quant_shapes_or_architecture_is_refused_before_loading(
    root: Path, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    config = root / BACKEND / "transformer"
    q8 = gguf_path(root, BACKEND, "transformer", "q8_0")
    [wrong_quant] = gguf_problems(q8, config, "q4_k_s")
    assert "Q8_0, not Q4_K" in wrong_quant
    # the preview's tiny expert (24 wide) is not the 256-wide one this folder's config describes
    from diffusers import WanTransformer3DModel

    narrow = WanTransformer3DModel.from_pretrained(tiny_model_dirs[BACKEND] / "transformer")
    [wrong_shapes] = gguf_problems(write_gguf(narrow, tmp_path / "narrow.gguf", "q8_0"), config, "q8_0")
    assert "does not fit the model's config" in wrong_shapes and "wants" in wrong_shapes
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "llama.gguf"), "llama")
    writer.add_tensor("token_embd.weight", numpy.zeros((4, 32), numpy.float32))
    writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_tensors_to_file(), writer.close()
    [wrong_arch] = gguf_problems(tmp_path / "llama.gguf", config, "q8_0")
    assert "'llama', not a Wan transformer" in wrong_arch
    with pytest.raises(UserError, match="not a readable GGUF file"):
        read_gguf_facts(config / "config.json")


def test_a_missing_gguf_names_the_pull_command(tmp_path: Path, root: Path) -> None:
    with pytest.raises(UserError, match="wanflow models pull t2v-a14b --quant q8_0"):
        gguf_experts(BACKENDS[BACKEND], root / BACKEND, memory_plan("gguf-q8"), torch.float32, tmp_path)


def test_unknown_plans_and_cards_are_one_message() -> None:
    from wanflow.memory import check_card

    with pytest.raises(UserError, match="--memory must be one of resident, offload"):
        memory_plan("tiny-ram")
    with pytest.raises(UserError, match="--card is the GPU's memory in GiB"):
        check_card(0.5)


def test_the_generator_holds_its_experts_as_the_takes_memory_plan_says(root: Path) -> None:
    from factories import take_settings

    from wanflow.backends.generate import Generator, PromptEmbeds

    embeds = PromptEmbeds(torch.randn(512, 32), torch.zeros(512, 32))
    take = take_settings(width=64, height=64, frames=9, memory="gguf-q8")
    generator = Generator.load(BACKEND, root / BACKEND, memory="gguf-q8")
    assert type(generator.pipe.transformer.blocks[0].attn1.to_q).__name__ == "GGUFLinear"
    assert generator.generate(take, embeds).isfinite().all()
    with pytest.raises(ValueError, match="a gguf-q8 take handed to a resident generator"):
        Generator.load(BACKEND, root / BACKEND).generate(take, embeds)
