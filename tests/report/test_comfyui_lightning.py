"""`wanflow export comfyui --profile turbo`: the official template's Lightning branch, set to the shot.

The reference is the installed template itself with its own Lightning toggle on (tests/comfyui_rules.py),
so a template change shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from comfyui_rules import assert_template_graph, template_api
from test_comfyui_cli import example_copy, export

from wanflow.backends.quantized import LIGHTNING_FILES, lightning_path
from wanflow.catalog import LIGHTNING
from wanflow.report.comfyui import shot_template
from wanflow.run.export import comfyui_shot

SAMPLER_FIELDS = ("add_noise", "steps", "cfg", "sampler_name", "scheduler", "start_at_step", "end_at_step")


def branch(workflow: dict) -> list[dict]:
    """Per expert (high-noise first): its sampler's settings, its shift, and the LoRA files its model chain loads."""
    experts = []
    samplers = [n for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"]
    for sampler in sorted(samplers, key=lambda n: n["inputs"]["add_noise"] != "enable"):
        loras, shift, link = [], None, sampler["inputs"]["model"]
        while link is not None:
            node = workflow[link[0]]
            if node["class_type"] == "ModelSamplingSD3":
                shift = node["inputs"]["shift"]
            if node["class_type"] == "LoraLoaderModelOnly":
                loras.append((node["inputs"]["lora_name"], node["inputs"]["strength_model"]))
            link = node["inputs"].get("model")
        experts.append({"sampler": {f: sampler["inputs"][f] for f in SAMPLER_FIELDS}, "shift": shift, "loras": loras})
    return experts


def test_turbo_exports_the_templates_lightning_branch_with_its_settings_and_lora_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    for (backend, component), _ in LIGHTNING_FILES.items():  # `wanflow models pull lightx2v`, as files
        lightning_path(models, backend, component).parent.mkdir(parents=True, exist_ok=True)
        lightning_path(models, backend, component).write_bytes(f"{backend} {component}".encode())
    monkeypatch.setenv("WANFLOW_MODELS", str(models))
    spec = example_copy(tmp_path, "        lora:\n          - {file: style.safetensors}\n")
    (spec.parent / "style.safetensors").write_bytes(b"style")
    for shot_id, backend, own in (("sea", "t2v-a14b", 1), ("carriage", "i2v-a14b", 0)):  # sea: one LoRA of its own
        result, workflow = export(spec, shot_id, "--profile", "turbo")
        assert result.exit_code == 0, result.output
        shot = comfyui_shot(spec, shot_id, "turbo").shot
        template = assert_template_graph(workflow, shot)
        official = branch(template_api(template, shot.start_image is not None, lightning=True))
        exported = branch(workflow)
        for ours, theirs, component in zip(exported, official, ("transformer", "transformer_2"), strict=True):
            assert ours["sampler"] == theirs["sampler"]  # 4 steps split 2/2, cfg 1, euler / simple
            assert ours["shift"] == pytest.approx(theirs["shift"]) == LIGHTNING.shift
            ((lightx2v, strength),) = theirs["loras"]
            assert lightx2v == lightning_path(models, backend, component).name  # what `models pull` fetches
            assert ours["loras"][-1] == (lightx2v, pytest.approx(strength))  # the template's loader, once
            assert [name for name, _ in ours["loras"]].count(lightx2v) == 1 and len(ours["loras"]) == 1 + own
            copy = f"cp -n {lightning_path(models, backend, component)} ComfyUI/models/loras/{lightx2v}"
            assert copy in " ".join(result.stdout.split())
        assert exported[0]["sampler"]["end_at_step"] == LIGHTNING.high_steps
        assert exported[0]["sampler"]["steps"] == LIGHTNING.steps and exported[0]["sampler"]["cfg"] == 1.0
        seeds = {n["inputs"]["noise_seed"] for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"}
        assert seeds == {shot.take.seed}
        assert ("LoRA style-" in result.stdout) == bool(own)  # the shot's own, chained after the 4-step one


def test_a_turbo_shot_ending_on_a_frame_is_refused_the_flf2v_template_has_no_lightning_branch(
    tmp_path: Path,
) -> None:
    spec = example_copy(tmp_path)
    text = spec.read_text(encoding="utf-8")
    marker = "        image: assets/subway.png   # image-to-video: the drawn start frame\n"
    spec.write_text(text.replace(marker, marker + "        end_image: assets/subway.png\n"), encoding="utf-8")
    assert shot_template(comfyui_shot(spec, "carriage", "turbo").shot) == "video_wan2_2_14B_flf2v"
    result, workflow = export(spec, "carriage", "--profile", "turbo")
    assert result.exit_code == 2 and workflow == {}
    assert "video_wan2_2_14B_flf2v has no Lightning branch" in " ".join(result.stderr.split())
