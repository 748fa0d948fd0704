"""The official template's own graph rules, as a test checks an exported workflow against them.

An exported workflow is the template (converted to API format, its switches folded) with the
shot's values set, plus LoRA loaders wanflow adds between a model loader and its
ModelSamplingSD3 (a turbo take: the template with its own Lightning toggle on): so every other node is the template's node of the same id and class with the
same inputs, every link is one of the template's links (seen through the added LoRA chain), no
link dangles, and the sampler values are ones ComfyUI's node definitions accept.
"""

from __future__ import annotations

from wanflow.report.comfyui import shot_template
from wanflow.report.comfyui_graph import MODE_ALWAYS, fold_constants, is_link, prune, to_api

# comfy/samplers.py KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"] (the ones the templates and wanflow use)
SAMPLERS = {"euler", "uni_pc", "uni_pc_bh2", "dpmpp_2m"}
REPLACED = {"ComfyMathExpression"}  # template arithmetic a shot's own values replace
SCHEDULERS = {"simple", "normal", "karras", "exponential", "sgm_uniform", "ddim_uniform", "beta"}


def template_api(template: str, image_nodes_on: bool, lightning: bool = False) -> dict:
    """The template as a person sets it in ComfyUI: its image node on, and (turbo) its Lightning toggle on."""
    from wanflow.report.comfyui import load_template

    graph = load_template(template)
    if image_nodes_on:
        for node in graph.nodes:
            if node.type == "LoadImage":
                node.mode = MODE_ALWAYS
    api = to_api(graph)
    if lightning:  # the one boolean the template's switch nodes read
        (toggle,) = {n["inputs"]["switch"][0] for n in api.values() if n["class_type"] == "ComfySwitchNode"}
        assert api[toggle]["class_type"] == "PrimitiveBoolean" and api[toggle]["inputs"]["value"] is False
        api[toggle]["inputs"]["value"] = True
    return fold_constants(api)


def _through_loras(workflow: dict, origin: str, slot: int) -> tuple[str, int]:
    while origin.startswith("wanflow:"):
        assert workflow[origin]["class_type"] == "LoraLoaderModelOnly", origin
        origin, slot = workflow[origin]["inputs"]["model"]
    return origin, slot


def assert_template_graph(workflow: dict, shot) -> str:
    """Fails with the first broken rule; returns the template id the workflow follows."""
    template = shot_template(shot)
    reference = template_api(template, shot.start_image is not None, shot.take.sampler == "euler")
    kept = prune(reference)
    assert any(node["class_type"] == "SaveVideo" for node in workflow.values())
    for node_id, node in workflow.items():
        for name, value in node["inputs"].items():
            if is_link(value):
                assert value[0] in workflow, (node_id, name, value)  # no dangling link
        if node_id.startswith("wanflow:"):
            inputs = node["inputs"]
            assert node["class_type"] == "LoraLoaderModelOnly" and set(inputs) == {
                "model",
                "lora_name",
                "strength_model",
            }
            assert inputs["lora_name"].endswith(".safetensors") and isinstance(inputs["strength_model"], float)
            continue
        assert node_id in kept and kept[node_id]["class_type"] == node["class_type"], node_id
        assert set(node["inputs"]) == set(kept[node_id]["inputs"]), node_id
        for name, value in node["inputs"].items():
            expected = kept[node_id]["inputs"][name]
            if is_link(value):
                assert list(_through_loras(workflow, *value)) == expected, (node_id, name, value, expected)
            else:  # a literal where the template computes the value (its frame-count arithmetic): replaced
                assert not is_link(expected) or kept[expected[0]]["class_type"] in REPLACED, (node_id, name)
        if node["class_type"] in ("KSampler", "KSamplerAdvanced"):
            inputs = node["inputs"]
            assert inputs["sampler_name"] in SAMPLERS and inputs["scheduler"] in SCHEDULERS
            assert isinstance(inputs["steps"], int) and inputs["steps"] >= 1
        if node["class_type"] == "KSamplerAdvanced":
            inputs = node["inputs"]
            assert 0 <= inputs["start_at_step"] <= inputs["end_at_step"] <= inputs["steps"]
            assert inputs["add_noise"] in ("enable", "disable")
    left_out = {kept[node_id]["class_type"] for node_id in set(kept) - set(workflow)}
    assert left_out <= REPLACED, left_out  # nothing of the template's work left out but what the shot's values replace
    return template
