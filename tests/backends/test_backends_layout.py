"""Folders load as they declare themselves, and `models verify` names where they depart from Wan2.2.

The odd folders are saved from diffusers' own Wan2.2 test fixtures (tests/pipelines/wan/
test_wan_22.py and test_wan_22_image_to_video.py in diffusers 0.42): a `T5EncoderModel` text
encoder of hf-internal-testing/tiny-random-t5's shape (d_model 32, d_ff 37, d_kv 8, 4 heads,
5 layers, 8 buckets), a UniPC flow scheduler with shift 3, boundary 0.875 for both A14B
pipelines. The hub tokenizer is unreachable offline, so they carry wanflow's tiny T5 tokenizer.
The flow-match Euler scheduler is the one of diffusers' Wan2.1 fixture (test_wan.py).
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import pytest
import torch
from diffusers import (
    AutoencoderKLWan,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from transformers import T5Config, T5EncoderModel
from typer.testing import CliRunner

from wanflow import settings as environment
from wanflow.backends.generate import Generator, PromptEmbeds, TextEncoder
from wanflow.backends.layout import CLASS_DEFAULTS, check_layout, describe_layout, official_folder
from wanflow.backends.tiny import _tokenizer
from wanflow.backends.verify import verify_model
from wanflow.catalog import BACKENDS
from wanflow.cli.app import app
from wanflow.take import RenderSettings, TakeSettings


def _fixture_transformer(in_channels: int, out_channels: int) -> WanTransformer3DModel:
    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=out_channels,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )


def _fixture_vae(backend_id: str) -> AutoencoderKLWan:
    torch.manual_seed(0)
    if backend_id == "ti2v-5b":
        return AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        )
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def diffusers_fixture(backend_id: str) -> WanPipeline | WanImageToVideoPipeline:
    """The pipeline of diffusers' Wan2.2 fast test for this model, as its get_dummy_components builds it."""
    tokenizer = _tokenizer()
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=37,
        d_kv=8,
        num_heads=4,
        num_layers=5,
        relative_attention_num_buckets=8,
    )
    torch.manual_seed(0)
    parts = dict(
        vae=_fixture_vae(backend_id),
        scheduler=UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0),
        text_encoder=T5EncoderModel(config).eval(),
        tokenizer=tokenizer,
    )
    if backend_id == "ti2v-5b":
        return WanPipeline(
            transformer=_fixture_transformer(48, 48),
            transformer_2=None,
            boundary_ratio=None,
            expand_timesteps=True,
            **parts,
        )
    in_channels = 36 if backend_id == "i2v-a14b" else 16
    experts = dict(
        transformer=_fixture_transformer(in_channels, 16), transformer_2=_fixture_transformer(in_channels, 16)
    )
    if backend_id == "i2v-a14b":
        return WanImageToVideoPipeline(
            image_encoder=None, image_processor=None, boundary_ratio=0.875, **experts, **parts
        )
    return WanPipeline(boundary_ratio=0.875, **experts, **parts)


@pytest.fixture(scope="module")
def fixture_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diffusers-fixtures")
    folders = {}
    for backend_id in BACKENDS:
        diffusers_fixture(backend_id).save_pretrained(root / backend_id)
        folders[backend_id] = root / backend_id
    euler = root / "t2v-a14b-euler"
    shutil.copytree(folders["t2v-a14b"], euler)
    shutil.rmtree(euler / "scheduler")
    FlowMatchEulerDiscreteScheduler(shift=7.0).save_pretrained(euler / "scheduler")
    index = json.loads((euler / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "FlowMatchEulerDiscreteScheduler"]
    (euler / "model_index.json").write_text(json.dumps(index))
    folders["t2v-a14b-euler"] = euler
    return folders


def _named(backend_id: str, folder: Path) -> list[tuple[str, str, object, object]]:
    return [(d.component, d.key, d.found, d.expected) for d in check_layout(backend_id, folder)]


def test_the_diffusers_fixtures_are_named_where_they_differ(fixture_dirs: dict[str, Path]) -> None:
    t5 = ("text_encoder", "class", "T5EncoderModel", "UMT5EncoderModel")
    assert _named("t2v-a14b", fixture_dirs["t2v-a14b"]) == [t5]
    assert _named("ti2v-5b", fixture_dirs["ti2v-5b"]) == [t5]
    assert _named("i2v-a14b", fixture_dirs["i2v-a14b"]) == [t5, ("pipeline", "boundary_ratio", 0.875, 0.9)]
    euler = ("scheduler", "class", "FlowMatchEulerDiscreteScheduler", "UniPCMultistepScheduler")
    assert _named("t2v-a14b", fixture_dirs["t2v-a14b-euler"]) == [euler, t5]

    problems = verify_model("i2v-a14b", fixture_dirs["i2v-a14b"])
    assert problems == [
        "text_encoder class is T5EncoderModel, expected UMT5EncoderModel "
        "(diffusers loads the declared class; another one reads the UMT5 weights wrongly)",
        "pipeline boundary_ratio is 0.875, expected 0.9 "
        "(the timestep fraction where the high-noise expert hands over to the low-noise one)",
    ]


def test_official_folders_and_the_tiny_models_have_the_official_layout(tiny_model_dirs: dict[str, Path]) -> None:
    for backend_id, folder in tiny_model_dirs.items():
        assert check_layout(backend_id, official_folder(backend_id)) == []
        assert check_layout(backend_id, folder) == []


def test_image_embedding_channels_and_missing_configs_are_named(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    wan21_i2v = tmp_path / "i2v"
    shutil.copytree(tiny_model_dirs["i2v-a14b"], wan21_i2v)
    config_path = wan21_i2v / "transformer" / "config.json"
    config = json.loads(config_path.read_text()) | {"image_dim": 1280, "added_kv_proj_dim": 5120, "in_channels": 16}
    config_path.write_text(json.dumps(config))
    (wan21_i2v / "vae" / "config.json").unlink()
    named = {(d.component, d.key): (d.found, d.expected) for d in check_layout("i2v-a14b", wan21_i2v)}
    assert named == {
        ("transformer", "in_channels"): (16, 36),
        ("transformer", "image_dim"): (1280, None),
        ("transformer", "added_kv_proj_dim"): (5120, None),
        ("vae", "config"): ("missing", "readable"),
    }
    assert "vae/config.json is missing" in "\n".join(verify_model("i2v-a14b", wan21_i2v))
    assert describe_layout(wan21_i2v)["transformer.image_dim"] == 1280


def test_keys_missing_from_a_config_take_the_class_defaults() -> None:
    classes = {
        "WanPipeline": WanPipeline,
        "WanImageToVideoPipeline": WanImageToVideoPipeline,
        "UniPCMultistepScheduler": UniPCMultistepScheduler,
        "WanTransformer3DModel": WanTransformer3DModel,
        "AutoencoderKLWan": AutoencoderKLWan,
    }
    for name, defaults in CLASS_DEFAULTS.items():
        parameters = inspect.signature(classes[name].__init__).parameters
        for key, value in defaults.items():
            default = parameters[key].default
            assert (list(default) if isinstance(default, tuple) else default) == value, (name, key)


def test_the_official_folders_agree_with_the_registry() -> None:
    for backend_id, spec in BACKENDS.items():
        folder = official_folder(backend_id)
        layout = describe_layout(folder)
        assert layout["pipeline._class_name"] == spec.pipeline
        assert layout["pipeline.boundary_ratio"] == spec.boundary_ratio
        assert layout["pipeline.expand_timesteps"] == spec.expand_timesteps
        assert layout["transformer.in_channels"] == spec.transformer_in_channels()
        assert layout["transformer.out_channels"] == layout["vae.z_dim"] == spec.z_dim
        assert (layout["vae.scale_factor_temporal"], layout["vae.scale_factor_spatial"]) == spec.vae_stride[:2]
        assert layout["transformer.patch_size"][1] * spec.vae_stride[1] == spec.size_multiple
        assert (layout["transformer_2.class"] is not None) == (spec.experts == 2)


def test_a_t5_folder_loads_its_declared_t5_encoder(fixture_dirs: dict[str, Path]) -> None:
    """wanflow once always loaded UMT5EncoderModel: a T5 folder's relative attention came out random."""
    folder = fixture_dirs["t2v-a14b"]
    encoder = TextEncoder.load(folder)
    assert type(encoder._pipe.text_encoder) is T5EncoderModel
    pipe = DiffusionPipeline.from_pretrained(folder)
    with torch.no_grad():
        reference, _ = pipe.encode_prompt("一只猫", do_classifier_free_guidance=False, max_sequence_length=512)
    torch.testing.assert_close(encoder.encode("一只猫"), reference[0], rtol=1e-5, atol=1e-6)


def test_a_flow_match_euler_folder_samples_with_its_own_scheduler(fixture_dirs: dict[str, Path]) -> None:
    generator = Generator.load("t2v-a14b", fixture_dirs["t2v-a14b-euler"])
    embeds = torch.zeros(512, 32)
    take = TakeSettings(
        backend="t2v-a14b", seed=1, width=32, height=32, frames=5, fps=16, steps=2,
        guidance_high=4.0, guidance_low=3.0, shift=12.0, boundary_ratio=0.875,
    )  # fmt: skip
    assert generator.generate(take, PromptEmbeds(embeds, embeds)).shape == (1, 16, 2, 4, 4)
    assert type(generator.pipe.scheduler) is FlowMatchEulerDiscreteScheduler
    assert generator.pipe.scheduler.config.shift == 12.0


def test_models_verify_names_the_differences_and_exits_2(fixture_dirs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "models"
    shutil.copytree(fixture_dirs["i2v-a14b"], root / "i2v-a14b")
    result = CliRunner().invoke(app, ["models", "verify", "i2v-a14b"], env={"WANFLOW_MODELS": str(root)})
    assert result.exit_code == 2
    assert "text_encoder class is T5EncoderModel, expected UMT5EncoderModel" in result.output
    assert "boundary_ratio is 0.875, expected 0.9" in result.output


# 480x272 fits the diffusers fixture's small rotary embedding (512 pixels a side), as 1280x720 would not.
SPEC = """\
wanflow: 1
title: Layout test
lang: en
profiles:
  small: { text: t2v-a14b, image: i2v-a14b, size: 480x272 }
scenes:
  - id: one
    shots:
      - id: wade
        subject: an astronaut
        action: wades through a river
        duration: 1
"""


def test_plan_and_run_refuse_a_nonstandard_folder_unless_allowed(
    fixture_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wanflow.backends.realsize import GIB, real_size
    from wanflow.plan import make_plan
    from wanflow.plan.estimate import estimate
    from wanflow.storyboard import load_film

    root = tmp_path / "models"
    shutil.copytree(fixture_dirs["t2v-a14b"], root / "t2v-a14b")  # no tiny marker: planned as real weights
    monkeypatch.setenv("WANFLOW_MODELS", str(root))
    environment.reload()
    spec = tmp_path / "film.yaml"
    spec.write_text(SPEC, encoding="utf-8")

    plan = make_plan(load_film(spec), "small")
    [problem] = plan.problems
    assert "not the official Wan2.2 layout: text_encoder class is T5EncoderModel" in problem.message
    assert "--allow-nonstandard" in problem.message

    runner = CliRunner()
    for command in (["plan", str(spec)], ["run", str(spec), "--out", str(tmp_path / "out")]):
        refused = runner.invoke(app, [*command, "--profile", "small"])
        assert refused.exit_code == 2 and "T5EncoderModel" in refused.output, refused.output
    assert not (tmp_path / "out").exists()  # refused before anything loaded or was written

    settings = RenderSettings(offload=True, allow_nonstandard=True)
    [job] = make_plan(load_film(spec), "small", settings).jobs
    assert job.model_layout is not None and job.model_layout["text_encoder.class"] == "T5EncoderModel"
    seconds, memory = estimate(job, settings)
    assert seconds is not None
    assert (
        memory
        == real_size("t2v-a14b", dtype="auto", offload=True).peak_gpu_bytes(
            job.settings.width, job.settings.height, job.settings.frames
        )
        / GIB
    )
    from wanflow.plan.fit import card_budget, fit_plan

    plan = make_plan(load_film(spec), "small", settings)
    _, choices = fit_plan(plan, card_budget(plan, None, None, None), settings, default="offload")
    shown = runner.invoke(app, ["plan", str(spec), "--profile", "small", "--offload", "--allow-nonstandard"])
    assert shown.exit_code == 0, shown.output
    assert f"{choices[job.name].peak_gib:.0f} GiB" in shown.output  # the memory plan's peak, as fitted
