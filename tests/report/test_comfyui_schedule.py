"""The A14B expert split of the ComfyUI export, on the schedule ComfyUI runs, for every step count.

`ComfyKSampler` below is ComfyUI's own sigma construction, written out with torch the way
comfy/model_sampling.py (ModelSamplingDiscreteFlow, as ModelSamplingSD3 sets it up),
comfy/samplers.py (simple_scheduler, KSampler.calculate_sigmas with its discarded penultimate
sigma, KSampler.sample's start/last step slicing) and the uni_pc sampler (one model call per
sigma but the last) do it: independent of wanflow's float32-emulating plain-Python version.
"""

from __future__ import annotations

import functools

import pytest
import torch

from wanflow.catalog import BACKENDS
from wanflow.report.comfyui import SAMPLER, SCHEDULER, ShotSettings, shot_workflow
from wanflow.report.comfyui_schedule import comfyui_sigmas, comfyui_timesteps, official_boundary_step
from wanflow.take import TakeSettings

DISCARD_PENULTIMATE = {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}


@functools.lru_cache(maxsize=8)
def model_sampling_sigmas(shift: float) -> torch.Tensor:
    """ModelSamplingDiscreteFlow.set_parameters(shift=shift, multiplier=1000)."""
    timestep = (torch.arange(1, 1001, 1) / 1000) * 1000
    t = timestep / 1000
    return t if shift == 1.0 else shift * t / (1 + (shift - 1) * t)


def simple_scheduler(sigmas: torch.Tensor, steps: int) -> torch.Tensor:
    stride = len(sigmas) / steps
    return torch.FloatTensor([float(sigmas[-(1 + int(x * stride))]) for x in range(steps)] + [0.0])


def ksampler_sigmas(steps: int, shift: float, sampler: str) -> torch.Tensor:
    """KSampler.calculate_sigmas for the simple scheduler."""
    discard = sampler in DISCARD_PENULTIMATE
    sigmas = simple_scheduler(model_sampling_sigmas(shift), steps + 1 if discard else steps)
    return torch.cat([sigmas[:-2], sigmas[-1:]]) if discard else sigmas


def advanced_segment(sigmas: torch.Tensor, start: int, end: int, force_full_denoise: bool) -> torch.Tensor:
    """KSampler.sample's slicing for KSamplerAdvanced(start_at_step, end_at_step)."""
    sigmas = sigmas.clone()
    if end < len(sigmas) - 1:
        sigmas = sigmas[: end + 1]
        if force_full_denoise:
            sigmas[-1] = 0
    if start < len(sigmas) - 1:
        return sigmas[start:]
    return sigmas[:0]  # ComfyUI returns the latent untouched: no model call


def model_timesteps(segment: torch.Tensor) -> list[float]:
    """The timestep of every model call over a segment: each sigma but the last, times the multiplier."""
    return [float(sigma * 1000) for sigma in segment[:-1]]


def exported_segments(backend: str, steps: int) -> tuple[list[float], list[float]]:
    """The timesteps each expert's KSamplerAdvanced of the exported workflow calls its model at, in ComfyUI."""
    spec = BACKENDS[backend]
    take = TakeSettings(
        backend=backend,
        seed=1,
        width=832,
        height=480,
        frames=81,
        fps=16,
        steps=steps,
        shift=spec.shift,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        boundary_ratio=spec.boundary_ratio,
    )
    shot = ShotSettings("x", "p", "n", take, start_image="x_start.png" if spec.needs_image else None)
    workflow = shot_workflow(shot)
    samplers = [node["inputs"] for node in workflow.values() if node["class_type"] == "KSamplerAdvanced"]
    high, low = sorted(samplers, key=lambda inputs: inputs["add_noise"] != "enable")
    calls = []
    for node in (high, low):
        shift = workflow[node["model"][0]]["inputs"]["shift"]
        assert workflow[node["model"][0]]["class_type"] == "ModelSamplingSD3"
        sigmas = ksampler_sigmas(node["steps"], shift, node["sampler_name"])
        force_full = node["return_with_leftover_noise"] != "enable"
        segment = advanced_segment(sigmas, node["start_at_step"], node["end_at_step"], force_full)
        calls.append(model_timesteps(segment))
    return calls[0], calls[1]


@pytest.mark.parametrize("backend", ["t2v-a14b", "i2v-a14b"])
def test_every_step_count_switches_experts_where_the_timestep_falls_below_the_boundary(backend: str) -> None:
    boundary = BACKENDS[backend].boundary_ratio * 1000
    differ = []
    for steps in range(2, 81):
        high, low = exported_segments(backend, steps)
        assert len(high) + len(low) == steps, steps  # every step runs, once, on one expert
        assert high and all(t >= boundary for t in high), (steps, high)
        assert all(t < boundary for t in low), (steps, low)
        if len(high) != official_boundary_step(steps, BACKENDS[backend].shift, BACKENDS[backend].boundary_ratio):
            differ.append(steps)
    # The official schedule is not ComfyUI's: a split taken from it would be one step off here.
    assert 30 in differ and 40 not in differ


@pytest.mark.parametrize("shift", [12.0, 5.0, 8.0, 3.3, 1.0])
@pytest.mark.parametrize("sampler", ["uni_pc_bh2", "euler"])
def test_the_plain_python_schedule_is_comfyuis_to_the_bit(shift: float, sampler: str) -> None:
    for steps in (2, 3, 7, 20, 30, 40, 50, 80, 999):
        expected = ksampler_sigmas(steps, shift, sampler)
        assert comfyui_sigmas(steps, shift, sampler) == expected.tolist()
        assert comfyui_timesteps(steps, shift, sampler) == [float(s * 1000) for s in expected[:-1]]


def test_the_export_runs_the_official_solver_variant() -> None:
    assert (SAMPLER, SCHEDULER) == ("uni_pc_bh2", "simple")


def test_issue_examples_thirty_steps() -> None:
    """T2V 30 steps, shift 12: the low expert used to start at t=883.8 (>= 875); I2V at 901.2 (>= 900)."""
    high, low = exported_segments("t2v-a14b", 30)
    assert (len(high), round(low[0], 1)) == (20, 868.5)
    high, low = exported_segments("i2v-a14b", 30)
    assert len(high) == 12 and low[0] < 900
