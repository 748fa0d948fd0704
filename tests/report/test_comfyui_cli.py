"""`wanflow export comfyui` as a person runs it: LoRA copy lines, takes, a continuation's start frame."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from comfyui_rules import assert_template_graph
from PIL import Image
from typer.testing import CliRunner

from wanflow.cache import ArtifactStore, default_cache_dir
from wanflow.catalog import BUILTIN_PROFILES
from wanflow.cli.app import app
from wanflow.media.ffmpeg import write_clip
from wanflow.plan import make_plan
from wanflow.plan.takes import take_seed
from wanflow.report.comfyui import shot_workflow
from wanflow.run.export import comfyui_shot
from wanflow.storyboard import load_film

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner(env={"COLUMNS": "200"})


def example_copy(tmp_path: Path, sea_extra: str = "") -> Path:
    """The example film in its own folder (its own cache), `sea_extra` added to the `sea` shot."""
    folder = tmp_path / "film"
    shutil.copytree(REPO / "specs", folder)
    spec = folder / "film.yaml"
    text = spec.read_text(encoding="utf-8")
    marker = "        seed: 42\n"
    assert marker in text
    spec.write_text(text.replace(marker, marker + sea_extra, 1), encoding="utf-8")
    return spec


def export(spec: Path, shot: str, *args: str) -> tuple[object, dict]:
    out = spec.parent / "export" / f"{shot}.json"
    result = runner.invoke(app, ["export", "comfyui", str(spec), "--shot", shot, *args, "-o", str(out)])
    workflow = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return result, workflow


def test_lora_copy_lines_cannot_overwrite_and_name_experts_only_on_a14b(tmp_path: Path) -> None:
    loras = "        lora:\n          - {file: a/style.safetensors, expert: high}\n          - {file: b/style.safetensors, expert: low}\n"
    spec = example_copy(tmp_path, loras)
    for folder, content in (("a", b"one"), ("b", b"two")):
        (spec.parent / folder).mkdir()
        (spec.parent / folder / "style.safetensors").write_bytes(content)
    result, workflow = export(spec, "sea")
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("LoRA ")]
    names = sorted(n["inputs"]["lora_name"] for n in workflow.values() if n["class_type"] == "LoraLoaderModelOnly")
    assert len(lines) == 2 and len(set(names)) == 2
    for line, expert in zip(lines, ("high", "low"), strict=True):
        assert f"({expert} expert, scale 1)" in line and " cp -n " in f" {line.split(': ', 1)[1]}"
        assert any(f"ComfyUI/models/loras/{name}" in line for name in names)
    result, _ = export(spec, "sea", "--profile", "draft")  # TI2V-5B: one model, no experts
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("LoRA ")]
    assert result.exit_code == 0 and len(lines) == 2 and not any("expert" in line for line in lines)


def test_the_example_films_workflows_keep_the_templates_graph_under_every_profile(tmp_path: Path) -> None:
    spec = example_copy(tmp_path)
    text = spec.read_text(encoding="utf-8")
    marker = "profiles:\n"
    spec.write_text(text.replace(marker, marker + "  steps30: {text: t2v-a14b, image: i2v-a14b, steps: 30}\n"), "utf-8")
    profiles = ["final", "draft", "steps30", *(["turbo"] if "turbo" in BUILTIN_PROFILES else [])]
    film = load_film(spec)
    seen = set()
    for profile in profiles:
        plan = make_plan(film, profile)
        for job in plan.jobs:
            shot = comfyui_shot(spec, job.shot_id, profile, plan=plan).shot
            seen.add(assert_template_graph(shot_workflow(shot), shot))
            if profile == "steps30" and shot.take.boundary_ratio is not None:
                assert shot.take.steps == 30
    assert {"video_wan2_2_14B_t2v", "video_wan2_2_14B_i2v", "video_wan2_2_5B_ti2v"} <= seen


def test_take_picks_that_takes_seed(tmp_path: Path) -> None:
    spec = example_copy(tmp_path)
    first, chosen = export(spec, "sea")
    third, workflow = export(spec, "sea", "--take", "3")
    assert first.exit_code == 0 and third.exit_code == 0, third.output
    seeds = [n["inputs"]["noise_seed"] for n in workflow.values() if n["inputs"].get("add_noise") == "enable"]
    assert seeds == [take_seed(42, 3)] and f"seed {take_seed(42, 3)}" in third.stdout
    assert "seed 42" in first.stdout
    result, _ = export(spec, "sea", "--take", "0")
    assert result.exit_code == 2 and "--take: must be 1 .. 16, not 0" in result.stderr


def test_a_continuation_says_which_run_writes_its_start_frame_then_writes_it(tmp_path: Path) -> None:
    spec = example_copy(tmp_path)
    result, workflow = export(spec, "wave")
    assert result.exit_code == 0, result.output
    assert "NOT WRITTEN" in result.stdout and "ComfyUI refuses this workflow until ComfyUI/input/wave_start.png" in (
        " ".join(result.stdout.split())
    )
    assert "--profile final --only wade" in result.stdout
    assert not (spec.parent / "export" / "wave_start.png").exists()
    # Once `wade` is rendered (a clip in the cache under its key), the export writes its last frame.
    plan = make_plan(load_film(spec), "final")
    frames = np.zeros((5, 48, 64, 3), dtype=np.uint8)
    frames[-1, :, :, 0] = 200  # the last frame is red
    clip = tmp_path / "wade.mp4"
    write_clip(frames, 16, clip)
    ArtifactStore(default_cache_dir(spec)).put_file("clips", plan.job("wade").keys.clip, clip, {})
    result, workflow = export(spec, "wave")
    written = spec.parent / "export" / "wave_start.png"
    assert result.exit_code == 0 and "NOT WRITTEN" not in result.stdout and written.exists()
    with Image.open(written) as image:
        red, green, blue = image.convert("RGB").getpixel((32, 24))
    assert red > 150 and green < 60 and blue < 60
    assert [n["inputs"]["image"] for n in workflow.values() if n["class_type"] == "LoadImage"] == ["wave_start.png"]


def test_a_shot_with_an_end_frame_exports_as_flf2v_with_both_frames_beside_it(tmp_path: Path) -> None:
    spec = example_copy(tmp_path)
    text = spec.read_text(encoding="utf-8")
    marker = "        image: assets/subway.png   # image-to-video: the drawn start frame\n"
    assert marker in text
    spec.write_text(text.replace(marker, marker + "        end_at: city\n"), encoding="utf-8")
    result, workflow = export(spec, "carriage")
    assert result.exit_code == 0, result.output
    shot = comfyui_shot(spec, "carriage", "final").shot
    assert assert_template_graph(workflow, shot) == "video_wan2_2_14B_flf2v"
    assert (spec.parent / "export" / "carriage_start.png").exists()
    assert "end image: NOT WRITTEN: it is the first frame of city" in " ".join(result.stdout.split())
    assert not (spec.parent / "export" / "carriage_end.png").exists()
    spec.write_text(text.replace(marker, marker + "        end_image: assets/subway.png\n"), encoding="utf-8")
    result, workflow = export(spec, "carriage")
    assert result.exit_code == 0 and (spec.parent / "export" / "carriage_end.png").exists()
    (node,) = [n["inputs"] for n in workflow.values() if n["class_type"] == "WanFirstLastFrameToVideo"]
    assert workflow[node["end_image"][0]]["inputs"]["image"] == "carriage_end.png"
    result, _ = export(spec, "carriage", "--profile", "draft")
    assert result.exit_code == 2 and "ti2v-5b cannot end on a given frame; i2v-a14b can" in result.stderr
