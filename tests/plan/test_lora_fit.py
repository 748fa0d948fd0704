"""A LoRA for another model is refused at plan time, from its .safetensors header, before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from typer.testing import CliRunner

from wanflow.backends.layout import OFFICIAL_ROOT
from wanflow.cli.app import app
from wanflow.plan import make_plan
from wanflow.plan.lora_fit import misfit, read_header_shapes
from wanflow.storyboard import load_film

runner = CliRunner()

# Where a layout puts block i's self-attention query and first feed-forward layer, and its A/B suffixes.
LAYOUTS = {
    "peft": (
        "transformer.blocks.{i}.attn1.to_q",
        "transformer.blocks.{i}.ffn.net.0.proj",
        "lora_A.weight",
        "lora_B.weight",
    ),
    "kijai": (
        "diffusion_model.blocks.{i}.self_attn.q",
        "diffusion_model.blocks.{i}.ffn.0",
        "lora_down.weight",
        "lora_up.weight",
    ),
    "musubi": ("lora_unet_blocks_{i}_self_attn_q", "lora_unet_blocks_{i}_ffn_0", "lora_down.weight", "lora_up.weight"),
    "diffsynth": ("blocks.{i}.self_attn.q", "blocks.{i}.ffn.0", "lora_A.default.weight", "lora_B.default.weight"),
}


def config_of(folder: Path, component: str = "transformer") -> dict:
    return json.loads((folder / component / "config.json").read_text(encoding="utf-8"))


def lora_tensors(config: dict, layout: str = "kijai", rank: int = 2, blocks: tuple[int, ...] = (0,)) -> dict:
    """A rank-`rank` LoRA made for a transformer of `config`, on a query and a feed-forward layer per block."""
    dim = config["num_attention_heads"] * config["attention_head_dim"]
    query, ffn, down, up = LAYOUTS[layout]
    tensors = {}
    for i in blocks:
        for module, (features_in, features_out) in ((query, (dim, dim)), (ffn, (dim, config["ffn_dim"]))):
            name = module.format(i=i)
            tensors[f"{name}.{down}"] = np.zeros((rank, features_in), np.float16)
            tensors[f"{name}.{up}"] = np.zeros((features_out, rank), np.float16)
            if layout in ("kijai", "musubi"):
                tensors[f"{name}.alpha"] = np.array(rank, np.float16)
    if layout == "kijai":
        tensors["diffusion_model.blocks.0.self_attn.q.diff_b"] = np.zeros((dim,), np.float16)
    return tensors


def write_lora(path: Path, tensors: dict) -> Path:
    save_file(tensors, str(path))
    return path


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_lora_made_for_the_model_fits_it_in_every_layout(layout: str, tmp_path: Path) -> None:
    a14b = config_of(OFFICIAL_ROOT / "t2v-a14b")
    shapes = read_header_shapes(write_lora(tmp_path / "a.safetensors", lora_tensors(a14b, layout, blocks=(0, 39))))
    assert shapes and misfit(shapes, a14b, "t2v-a14b", 2) is None


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_ti2v_5b_lora_on_an_a14b_expert_names_both_widths(layout: str, tmp_path: Path) -> None:
    five = config_of(OFFICIAL_ROOT / "ti2v-5b")
    shapes = read_header_shapes(write_lora(tmp_path / "s.safetensors", lora_tensors(five, layout)))
    assert misfit(shapes, config_of(OFFICIAL_ROOT / "t2v-a14b"), "t2v-a14b", 2) == (
        "is for a model of width 3072; t2v-a14b's experts are 5120 wide"
    )


def test_blocks_the_model_lacks_a_wrong_feed_forward_and_mismatched_ranks_are_named(tmp_path: Path) -> None:
    a14b, five = config_of(OFFICIAL_ROOT / "t2v-a14b"), config_of(OFFICIAL_ROOT / "ti2v-5b")
    five_wide_a14b = {**a14b, "num_attention_heads": 24}  # 3072 wide, 40 blocks
    shapes = {k: v.shape for k, v in lora_tensors(five_wide_a14b, blocks=(35,)).items()}
    assert misfit(shapes, five, "ti2v-5b") == "targets transformer block 35; ti2v-5b has 30 blocks (0-29)"
    shapes = {k: v.shape for k, v in lora_tensors(five_wide_a14b).items()}
    assert misfit(shapes, five, "ti2v-5b") == (
        "does not fit ti2v-5b: diffusion_model.blocks.0.ffn.0.lora_up.weight has shape [13824, 2], "
        "but blocks.0.ffn.0 of ti2v-5b takes 3072 features in and gives 14336 out"
    )
    shapes = {k: v.shape for k, v in lora_tensors(five).items()}
    shapes["diffusion_model.blocks.0.ffn.0.lora_up.weight"] = (14336, 4)
    assert "blocks.0.ffn.0 has rank 2 in lora_A/lora_down but 4 in lora_B/lora_up" in misfit(shapes, five, "ti2v-5b")
    assert "targets no module of a Wan2.2 transformer" in misfit(
        {"lora_unet_down_blocks_0_attentions_0.lora_down.weight": (4, 320)}, five, "ti2v-5b"
    )


def test_a_file_that_is_not_safetensors_is_left_to_the_loader(tmp_path: Path) -> None:
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 8 + b"not a header")
    assert read_header_shapes(tmp_path / "junk.safetensors") is None
    assert read_header_shapes(tmp_path / "gone.safetensors") is None


def storyboard(folder: Path, backend: str, expert: str = "both") -> Path:
    spec = folder / "film.yaml"
    spec.write_text(
        "wanflow: 1\ntitle: t\nlang: en\nprofiles:\n  test: { text: t2v-a14b, image: i2v-a14b, size: 64x48, steps: 2, tiny: true }\n"
        "scenes:\n  - id: a\n    shots:\n"
        f"      - {{ id: one, subject: a cat, action: sleeps, duration: 1, backend: {backend},\n"
        f"          lora: [{{file: style.safetensors, expert: {expert}}}] }}\n",
        encoding="utf-8",
    )
    return spec


def test_the_tiny_models_plan_with_their_own_loras_and_refuse_the_others(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    spec = storyboard(tmp_path, "t2v-a14b", "low")
    tiny = config_of(tiny_model_dirs["t2v-a14b"], "transformer_2")
    write_lora(tmp_path / "style.safetensors", lora_tensors(tiny, "peft", blocks=(0, tiny["num_layers"] - 1)))
    result = runner.invoke(app, ["plan", str(spec), "--profile", "test"])
    assert result.exit_code == 0, result.output
    wider = {**tiny, "num_attention_heads": 2 * tiny["num_attention_heads"]}  # the tiny models are all one width
    write_lora(tmp_path / "style.safetensors", lora_tensors(wider, "peft"))
    result = runner.invoke(app, ["plan", str(spec), "--profile", "test"])
    assert result.exit_code == 2, result.output
    width = tiny["num_attention_heads"] * tiny["attention_head_dim"]
    assert (
        f":9: shots.one.lora: LoRA style.safetensors is for a model of width {2 * width}; "
        f"t2v-a14b's experts are {width} wide"
    ) in " ".join(result.output.split())
    write_lora(tmp_path / "style.safetensors", lora_tensors(tiny, "kijai", blocks=(tiny["num_layers"],)))
    result = runner.invoke(app, ["plan", str(spec), "--profile", "test"])
    assert result.exit_code == 2 and f"targets transformer block {tiny['num_layers']}" in result.output
    assert "Traceback" not in result.output


def test_a_real_size_plan_checks_against_the_official_config_when_the_model_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANFLOW_MODELS", str(tmp_path / "models"))
    spec = storyboard(tmp_path, "t2v-a14b")
    write_lora(tmp_path / "style.safetensors", lora_tensors(config_of(OFFICIAL_ROOT / "t2v-a14b")))
    assert not make_plan(load_film(spec), "final").problems
    write_lora(tmp_path / "style.safetensors", lora_tensors(config_of(OFFICIAL_ROOT / "ti2v-5b")))
    assert [p.message for p in make_plan(load_film(spec), "final").problems] == [
        "LoRA style.safetensors is for a model of width 3072; t2v-a14b's experts are 5120 wide"
    ]
    result = runner.invoke(app, ["plan", str(spec), "--profile", "final"])
    assert result.exit_code == 2, result.output
    assert "shots.one.lora: LoRA style.safetensors is for a model of width 3072" in result.output


def test_a_header_nested_too_deep_is_not_a_traceback(tmp_path: Path) -> None:
    header = b"[" * 100_000 + b"]" * 100_000
    (tmp_path / "deep.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    assert read_header_shapes(tmp_path / "deep.safetensors") is None
