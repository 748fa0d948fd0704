"""`wanflow export comfyui`: a shot as an API-format workflow, checked against ComfyUI's own Wan2.2 templates."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from comfyui_rules import assert_template_graph
from diffusers import UniPCMultistepScheduler
from typer.testing import CliRunner

from wanflow.cli.app import app
from wanflow.errors import UserError
from wanflow.film import Lora
from wanflow.report.comfyui import (
    FLF2V_TEMPLATE,
    TEMPLATES,
    ShotSettings,
    boundary_step,
    load_template,
    lora_file_name,
    shot_workflow,
    template_path,
)
from wanflow.report.comfyui_graph import SUBGRAPH_INPUT, SUBGRAPH_OUTPUT, fold_constants, to_api
from wanflow.report.comfyui_schedule import official_boundary_step
from wanflow.take import TakeSettings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "specs" / "film.yaml"
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("steps", "shift", "boundary"),
    [(40, 12.0, 0.875), (40, 5.0, 0.9), (20, 5.0, 0.9), (4, 12.0, 0.875), (50, 8.0, 0.875)],
)
def test_the_split_step_is_where_diffusers_switches_experts(steps: int, shift: float, boundary: float) -> None:
    scheduler = UniPCMultistepScheduler(
        num_train_timesteps=1000, prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift
    )
    scheduler.set_timesteps(steps)
    high_noise = sum(1 for t in scheduler.timesteps if t >= boundary * 1000)  # WanPipeline's test, step by step
    assert official_boundary_step(steps, shift, boundary) == high_noise


def test_official_defaults_split_where_the_wan22_repository_says() -> None:
    assert official_boundary_step(40, 12.0, 0.875) == 26 and official_boundary_step(40, 5.0, 0.9) == 15


def ui_links(graph: dict) -> list[tuple[str, int, str, str]]:
    """Every link between two real nodes of a UI graph, subgraphs flattened by hand: (origin, slot, target, input)."""
    found = []
    subgraphs = {d["id"]: d for d in graph.get("definitions", {}).get("subgraphs", [])}
    instances = {n["id"]: n for n in graph["nodes"] if n["type"] in subgraphs}
    for definition in subgraphs.values():
        outer = next(n for n in instances.values() if n["type"] == definition["id"])
        nodes = {n["id"]: n for n in definition["nodes"]}
        for link in definition["links"]:
            origin, target = link["origin_id"], link["target_id"]
            if target == SUBGRAPH_OUTPUT:
                continue
            input_name = nodes[target]["inputs"][link["target_slot"]]["name"]
            if origin == SUBGRAPH_INPUT:
                name = definition["inputs"][link["origin_slot"]]["name"]
                outer_input = next((i for i in outer["inputs"] if i["name"] == name), None)
                if outer_input is None or outer_input.get("link") is None:
                    continue
                top = next(item for item in graph["links"] if item[0] == outer_input["link"])
                found.append((str(top[1]), top[2], f"{outer['id']}:{target}", input_name))
            else:
                found.append((f"{outer['id']}:{origin}", link["origin_slot"], f"{outer['id']}:{target}", input_name))
    nodes = {n["id"]: n for n in graph["nodes"]}
    for _, origin, slot, target, target_slot, _ in graph["links"]:
        if origin in instances or target in instances or nodes[origin].get("mode") == 4:
            continue
        found.append((str(origin), slot, str(target), nodes[target]["inputs"][target_slot]["name"]))
    return found


@pytest.mark.parametrize("template", [*TEMPLATES.values(), FLF2V_TEMPLATE])
def test_api_format_keeps_every_node_and_link_of_the_template(template: str) -> None:
    graph = json.loads(template_path(template).read_text(encoding="utf-8"))  # read apart from the converter
    api = to_api(load_template(template))
    for origin, slot, target, input_name in ui_links(graph):
        assert api[target]["inputs"][input_name] == [origin, slot], (target, input_name)
    subgraphs = graph.get("definitions", {}).get("subgraphs", [])
    every = graph["nodes"] + [n for d in subgraphs for n in d["nodes"]]
    kept = [
        n["type"]
        for n in every
        if n.get("mode", 0) == 0 and n["type"] not in {"MarkdownNote", "Note", *(d["id"] for d in subgraphs)}
    ]
    assert sorted(node["class_type"] for node in api.values()) == sorted(kept)


def settings(
    backend: str, start_image: str | None = None, end_image: str | None = None, **fields: object
) -> ShotSettings:
    base = dict(
        backend=backend,
        seed=42,
        width=1280,
        height=720,
        frames=81,
        fps=16,
        steps=40,
        shift=12.0,
        guidance_high=4.0,
        guidance_low=3.0,
        boundary_ratio=0.875,
    )
    take = TakeSettings(**{**base, **fields})  # type: ignore[arg-type]
    return ShotSettings(
        shot_id="sea",
        prompt="一望无际的浅海",
        negative="色调艳丽",
        take=take,
        start_image=start_image,
        end_image=end_image,
    )


def links(api: dict) -> set[tuple[str, str, str, int]]:
    return {
        (node_id, name, value[0], value[1])
        for node_id, node in api.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
    }


def through_loras(api: dict, link: tuple[str, str, str, int]) -> tuple[str, str, str, int]:
    """A link into an added LoRA chain, seen from the template: the chain's own source."""
    node_id, name, origin, slot = link
    while origin.startswith("wanflow:"):
        origin, slot = api[origin]["inputs"]["model"]
    return node_id, name, origin, slot


@pytest.mark.parametrize("backend", ["t2v-a14b", "i2v-a14b"])
def test_a14b_workflow_is_the_template_with_two_experts_split_at_the_boundary(backend: str) -> None:
    shot = settings(backend, start_image="sea_start.png" if backend == "i2v-a14b" else None)
    workflow = shot_workflow(shot)
    assert assert_template_graph(workflow, shot) == TEMPLATES[backend]
    template = fold_constants(to_api(load_template(TEMPLATES[backend])))
    for node_id, node in workflow.items():
        assert node_id.startswith("wanflow:") or template[node_id]["class_type"] == node["class_type"]
    template_links = links(template)
    for link in links(workflow):
        if not link[0].startswith("wanflow:"):
            assert through_loras(workflow, link) in template_links, link
    high, low = sorted(
        (n["inputs"] for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"),
        key=lambda inputs: inputs["start_at_step"],
    )
    split = boundary_step(shot)
    assert split == 26  # at 40 steps ComfyUI's schedule and the official one agree
    assert {high["sampler_name"], low["sampler_name"]} == {"uni_pc_bh2"}
    assert (high["start_at_step"], high["end_at_step"], high["cfg"], high["add_noise"]) == (0, split, 4.0, "enable")
    assert (low["start_at_step"], low["end_at_step"], low["cfg"], low["add_noise"]) == (split, 40, 3.0, "disable")
    assert high["noise_seed"] == 42 and high["steps"] == low["steps"] == 40
    texts = [n["inputs"]["text"] for n in workflow.values() if n["class_type"] == "CLIPTextEncode"]
    assert sorted(texts) == sorted(["一望无际的浅海", "色调艳丽"])
    assert {n["inputs"]["shift"] for n in workflow.values() if n["class_type"] == "ModelSamplingSD3"} == {12.0}
    assert not any(n["class_type"] in ("ComfySwitchNode", "PrimitiveInt", "PrimitiveFloat") for n in workflow.values())
    images = [n["inputs"]["image"] for n in workflow.values() if n["class_type"] == "LoadImage"]
    assert images == (["sea_start.png"] if backend == "i2v-a14b" else [])


def write_lora_file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_loras_load_on_the_expert_they_target(tmp_path: Path) -> None:
    style = Lora(write_lora_file(tmp_path / "style.safetensors", b"style"), 0.8, "high")
    face = Lora(write_lora_file(tmp_path / "face.safetensors", b"face"), 1.0, "both")
    workflow = shot_workflow(settings("t2v-a14b", loras=(style, face)))

    def chain_to_loader(sampler: dict) -> tuple[list[str], str]:
        sampling = workflow[sampler["model"][0]]
        names, origin = [], sampling["inputs"]["model"][0]
        while workflow[origin]["class_type"] == "LoraLoaderModelOnly":
            names.append(workflow[origin]["inputs"]["lora_name"])
            origin = workflow[origin]["inputs"]["model"][0]
        return names, workflow[origin]["inputs"]["unet_name"]

    samplers = {
        n["inputs"]["add_noise"]: n["inputs"] for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"
    }
    high_loras, high_model = chain_to_loader(samplers["enable"])
    low_loras, low_model = chain_to_loader(samplers["disable"])
    assert "high_noise" in high_model and sorted(high_loras) == sorted([lora_file_name(face), lora_file_name(style)])
    assert "low_noise" in low_model and low_loras == [lora_file_name(face)]


def test_two_lora_files_of_one_name_stay_two_files_in_comfyui(tmp_path: Path) -> None:
    first = Lora(write_lora_file(tmp_path / "a" / "style.safetensors", b"first"), 1.0, "high")
    second = Lora(write_lora_file(tmp_path / "b" / "style.safetensors", b"second"), 1.0, "low")
    workflow = shot_workflow(settings("t2v-a14b", loras=(first, second)))
    names = sorted(n["inputs"]["lora_name"] for n in workflow.values() if n["class_type"] == "LoraLoaderModelOnly")
    assert len(set(names)) == 2 and all(name.startswith("style-") and name.endswith(".safetensors") for name in names)
    same_bytes = Lora(write_lora_file(tmp_path / "c" / "style.safetensors", b"first"))
    assert lora_file_name(same_bytes) == lora_file_name(first)  # one file in ComfyUI, whatever its path here


def test_ti2v_loras_are_not_labelled_with_experts(tmp_path: Path) -> None:
    lora = Lora(write_lora_file(tmp_path / "look.safetensors", b"look"), 0.5, "high")
    shot = settings("ti2v-5b", boundary_ratio=None, width=1280, height=704, frames=121, fps=24, steps=50, shift=5.0)
    workflow = shot_workflow(replace(shot, take=replace(shot.take, loras=(lora,))))
    (node,) = [n for n in workflow.values() if n["class_type"] == "LoraLoaderModelOnly"]
    assert node["_meta"]["title"] == f"LoRA {lora_file_name(lora)}" and "expert" not in node["_meta"]["title"]


def test_an_i2v_shot_with_an_end_frame_is_the_flf2v_templates_graph() -> None:
    shot = settings("i2v-a14b", shift=5.0, boundary_ratio=0.9, start_image="a_start.png", end_image="a_end.png")
    workflow = shot_workflow(shot)
    assert assert_template_graph(workflow, shot) == FLF2V_TEMPLATE
    (node,) = [n["inputs"] for n in workflow.values() if n["class_type"] == "WanFirstLastFrameToVideo"]
    assert workflow[node["start_image"][0]]["inputs"]["image"] == "a_start.png"
    assert workflow[node["end_image"][0]]["inputs"]["image"] == "a_end.png"
    assert (node["width"], node["height"], node["length"]) == (1280, 720, 81)
    high, low = sorted(
        (n["inputs"] for n in workflow.values() if n["class_type"] == "KSamplerAdvanced"),
        key=lambda inputs: inputs["start_at_step"],
    )
    assert high["end_at_step"] == low["start_at_step"] == boundary_step(shot) == 15
    with pytest.raises(UserError, match="i2v-a14b can"):
        shot_workflow(settings("ti2v-5b", boundary_ratio=None, start_image="a.png", end_image="b.png"))


def test_ti2v_workflow_switches_on_the_templates_start_image_node() -> None:
    shot = settings("ti2v-5b", boundary_ratio=None, width=1280, height=704, frames=121, fps=24, steps=50, shift=5.0)
    text_only = shot_workflow(shot)
    with_image = shot_workflow(replace(shot, start_image="x_start.png"))
    assert "56" not in text_only and "start_image" not in text_only["55"]["inputs"]
    assert (
        with_image["55"]["inputs"]["start_image"] == ["56", 0] and with_image["56"]["inputs"]["image"] == "x_start.png"
    )
    sampler = text_only["3"]["inputs"]
    assert (sampler["seed"], sampler["steps"], sampler["cfg"], text_only["48"]["inputs"]["shift"]) == (42, 50, 4.0, 5.0)


def test_export_comfyui_writes_the_example_films_sea_shot(tmp_path: Path) -> None:
    out = tmp_path / "sea.comfy.json"
    result = runner.invoke(
        app, ["export", "comfyui", str(EXAMPLE), "--shot", "sea", "--profile", "final", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    workflow = json.loads(out.read_text(encoding="utf-8"))
    assert sum(1 for n in workflow.values() if n["class_type"] == "KSamplerAdvanced") == 2
    prompts = [n["inputs"]["text"] for n in workflow.values() if n["class_type"] == "CLIPTextEncode"]
    assert any(text.startswith("白天，极端全景") for text in prompts)
    assert "high-noise expert 0-26" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shot", "nope"], "--shot: no shot 'nope' in the film"),
        (["--shot", "sea", "--profile", "nope"], "--profile: unknown profile 'nope'"),
    ],
)
def test_bad_input_is_one_message_exit_2_and_nothing_written(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x.json"
    result = runner.invoke(app, ["export", "comfyui", str(EXAMPLE), *args, "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr.count("error:") == 1 and message in result.stderr and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_template_of_another_shape_is_a_user_error_naming_file_and_field(tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "video_wan2_2_14B_t2v.json"
    broken.write_text('{"nodes": [{"id": "x", "type": "UNETLoader"}], "links": []}', encoding="utf-8")
    monkeypatch.setattr("wanflow.report.comfyui.template_path", lambda template: broken)
    with pytest.raises(UserError) as caught:
        load_template("video_wan2_2_14B_t2v")
    assert [(p.file, p.field) for p in caught.value.problems] == [(str(broken), "nodes.0.id")]
