"""The turbo tier: its settings are the official ComfyUI template's Lightning branch, 4 passes a shot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from factories import take_settings

from wanflow.backends.quantized import LIGHTNING_FILES
from wanflow.catalog import BACKENDS, LIGHTNING, LIGHTNING_BACKENDS
from wanflow.plan import make_plan
from wanflow.report.comfyui import TEMPLATES, template_path
from wanflow.storyboard import load_film

REPO = Path(__file__).resolve().parents[2]


def lightning_branch(backend_id: str) -> dict[str, object]:
    """The Lightning nodes of the installed official template: LoRAs, samplers, model sampling."""
    template = json.loads(template_path(TEMPLATES[backend_id]).read_text(encoding="utf-8"))
    nodes = template["nodes"] + [n for g in template.get("definitions", {}).get("subgraphs", []) for n in g["nodes"]]
    loras = [n["widgets_values"] for n in nodes if n["type"] == "LoraLoaderModelOnly"]
    samplers = sorted(
        (n["widgets_values"] for n in nodes if n["type"] == "KSamplerAdvanced" and n["widgets_values"][3] == 4),
        key=lambda values: values[7],  # start_at_step
    )
    shifts = {n["widgets_values"][0] for n in nodes if n["type"] == "ModelSamplingSD3"}
    return {"loras": loras, "samplers": samplers, "shifts": shifts}


@pytest.mark.parametrize("backend_id", LIGHTNING_BACKENDS)
def test_turbo_settings_are_the_templates_lightning_branch(backend_id: str) -> None:
    branch = lightning_branch(backend_id)
    names = {Path(LIGHTNING_FILES[(backend_id, c)]).name for c in ("transformer", "transformer_2")}
    assert {values[0] for values in branch["loras"]} == names
    assert {round(values[1], 6) for values in branch["loras"]} == {LIGHTNING.lora_strength}
    high, low = branch["samplers"]
    # add_noise, seed, control, steps, cfg, sampler, scheduler, start, end, leftover noise
    assert high[3:9] == [LIGHTNING.steps, LIGHTNING.guidance, LIGHTNING.sampler, "simple", 0, LIGHTNING.high_steps]
    # the low-noise sampler runs from the split to the end (its end_at_step is linked, its widget stale)
    assert low[3:8] == [LIGHTNING.steps, LIGHTNING.guidance, LIGHTNING.sampler, "simple", LIGHTNING.high_steps]
    assert {round(shift, 6) for shift in branch["shifts"]} == {LIGHTNING.shift}


@pytest.mark.parametrize("backend_id", LIGHTNING_BACKENDS)
def test_the_pipeline_switches_experts_where_the_template_does(backend_id: str) -> None:
    from wanflow.backends.samplers import euler_scheduler

    scheduler = euler_scheduler(LIGHTNING.shift)
    scheduler.set_timesteps(LIGHTNING.steps)
    high = sum(float(t) >= BACKENDS[backend_id].boundary_ratio * 1000 for t in scheduler.timesteps)
    assert high == LIGHTNING.high_steps
    assert [round(float(t), 1) for t in scheduler.timesteps] == [1000.0, 937.5, 833.3, 625.0]  # lightx2v's


def test_turbo_plans_the_film_with_4_steps_guidance_1_and_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANFLOW_MODELS", str(tmp_path))
    plan = make_plan(load_film(REPO / "specs" / "film.yaml"), "turbo")
    for job in plan.takes:
        take = job.settings
        assert (take.steps, take.guidance_high, take.guidance_low, take.shift, take.sampler) == (
            4,
            1.0,
            1.0,
            5.0,
            "euler",
        )
    assert any("run `wanflow models pull lightx2v`" in p.message for p in plan.missing_models)
    final = make_plan(load_film(REPO / "specs" / "film.yaml"), "final")
    assert {job.keys.latents for job in plan.takes}.isdisjoint(job.keys.latents for job in final.takes)


def test_turbo_refuses_ti2v_5b_shots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANFLOW_MODELS", str(tmp_path))
    spec = tmp_path / "film.yaml"
    spec.write_text(
        "wanflow: 1\ntitle: t\nlang: en\nscenes:\n  - id: a\n    shots:\n"
        "      - { id: one, subject: a cat, action: sleeps, duration: 1, backend: ti2v-5b }\n",
        encoding="utf-8",
    )
    plan = make_plan(load_film(spec), "turbo")
    assert any("no published 4-step distillation LoRA for ti2v-5b" in p.message for p in plan.problems)


def count_passes(generator, take) -> int:
    from wanflow.backends.generate import PromptEmbeds

    passes = []
    handles = [t.register_forward_pre_hook(lambda *_: passes.append(1)) for t in generator.transformers()]
    try:
        generator.generate(take, PromptEmbeds(torch.randn(512, 32), torch.randn(512, 32)))
    finally:
        for handle in handles:
            handle.remove()
    return len(passes)


def test_a_final_shot_runs_80_transformer_passes_and_a_turbo_shot_4(tiny_model_dirs: dict[str, Path]) -> None:
    from wanflow.backends.generate import Generator

    generator = Generator.load("t2v-a14b", tiny_model_dirs["t2v-a14b"])
    spec = BACKENDS["t2v-a14b"]
    small = dict(width=32, height=32, frames=5)
    final = take_settings(**small, steps=spec.steps, guidance_high=spec.guidance_high, guidance_low=spec.guidance_low)
    turbo = take_settings(
        **small, steps=LIGHTNING.steps, guidance_high=1.0, guidance_low=1.0, shift=LIGHTNING.shift, sampler="euler"
    )
    assert count_passes(generator, final) == 80  # 40 steps, two passes each with classifier-free guidance
    assert count_passes(generator, turbo) == 4


def test_the_comfyui_export_writes_a_turbo_shot_on_the_templates_lightning_branch() -> None:
    from wanflow.report.comfyui import ShotSettings, shot_workflow

    turbo = take_settings(steps=4, guidance_high=1.0, guidance_low=1.0, shift=5.0, sampler="euler")
    workflow = shot_workflow(ShotSettings("sea", "p", "n", turbo, None))
    samplers = [n["inputs"] for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"]
    assert {(s["steps"], s["cfg"], s["sampler_name"]) for s in samplers} == {(4, 1.0, "euler")}
    loras = [n["inputs"]["lora_name"] for n in workflow.values() if n["class_type"] == "LoraLoaderModelOnly"]
    assert len(loras) == 2 and all("lightx2v_4steps" in name for name in loras)
