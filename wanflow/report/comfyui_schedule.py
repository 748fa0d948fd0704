"""Where the A14B experts hand over: on the official schedule, and on the one ComfyUI runs.

Both switch the same way, a step running the high-noise expert while its timestep is at least
`boundary × 1000`; they differ in the timesteps.

- The official Wan2.2 code (text2video.py / image2video.py, FlowUniPCMultistepScheduler) and
  diffusers' UniPC flow scheduler: sigmas evenly spaced from 1 - 1/1000 down to 0 (steps + 1
  points, the last dropped), shifted by shift·σ / (1 + (shift - 1)·σ), timestep = 1000·σ.
- ComfyUI (comfy/samplers.py, comfy/model_sampling.py): `ModelSamplingSD3` tabulates
  σ_i = shift(i / 1000) for i = 1 .. 1000 in float32; the `simple` scheduler takes n of them
  evenly by index from the top, then 0; `KSampler` asks samplers that discard the penultimate
  sigma (uni_pc, uni_pc_bh2, dpm_2, ...) for steps + 1 of them and drops the next-to-last; a
  step's timestep is 1000·σ (float32). `KSamplerAdvanced`'s start/end steps slice that list.

With the defaults (40 steps) both give 26 high-noise steps for T2V-A14B and 15 for I2V-A14B;
at other step counts they often differ by one (T2V 30 steps: 19 official, 20 in ComfyUI).
Plain Python: float32 is emulated with `struct`, so this module needs no torch.
"""

from __future__ import annotations

import struct
from functools import lru_cache

NUM_TRAIN_TIMESTEPS = 1000
# comfy/samplers.py KSampler.DISCARD_PENULTIMATE_SIGMA_SAMPLERS
DISCARD_PENULTIMATE_SIGMA_SAMPLERS = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def _shift(shift: float, sigma: float) -> float:
    return shift * sigma / (1 + (shift - 1) * sigma)


def official_boundary_step(steps: int, shift: float, boundary_ratio: float) -> int:
    """How many of `steps` the high-noise expert runs in the official code (and in diffusers)."""
    sigma_max = 1 - 1 / NUM_TRAIN_TIMESTEPS
    timesteps = (_shift(shift, sigma_max - index * sigma_max / steps) * NUM_TRAIN_TIMESTEPS for index in range(steps))
    return sum(1 for timestep in timesteps if timestep >= boundary_ratio * NUM_TRAIN_TIMESTEPS)


def _f32(value: float) -> float:
    """`value` rounded to float32 (one correctly rounded float64 operation, then this, is float32's own)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


@lru_cache(maxsize=8)
def _model_sampling_sigmas(shift: float) -> tuple[float, ...]:
    """ModelSamplingDiscreteFlow.set_parameters: time_snr_shift(shift, i / 1000), i = 1 .. 1000, in float32."""
    shift32 = _f32(shift)
    sigmas = []
    for index in range(1, NUM_TRAIN_TIMESTEPS + 1):
        t = _f32(_f32(_f32(index / NUM_TRAIN_TIMESTEPS) * NUM_TRAIN_TIMESTEPS) / NUM_TRAIN_TIMESTEPS)
        if shift32 == 1.0:
            sigmas.append(t)
            continue
        numerator = _f32(shift32 * t)  # torch: a Python float times a float32 tensor, in float32
        denominator = _f32(1 + _f32(_f32(shift - 1) * t))  # (shift - 1) is Python arithmetic
        sigmas.append(_f32(numerator / denominator))
    return tuple(sigmas)


def comfyui_sigmas(steps: int, shift: float, sampler: str, scheduler: str = "simple") -> list[float]:
    """The sigmas a ComfyUI KSampler(Advanced) builds for `steps` (steps + 1 values, the last 0)."""
    if scheduler != "simple":
        raise ValueError(f"only ComfyUI's simple scheduler is modelled, not {scheduler!r}")
    count = steps + 1 if sampler in DISCARD_PENULTIMATE_SIGMA_SAMPLERS else steps
    table = _model_sampling_sigmas(shift)
    stride = len(table) / count
    sigmas = [table[-(1 + int(index * stride))] for index in range(count)] + [0.0]
    if sampler in DISCARD_PENULTIMATE_SIGMA_SAMPLERS:
        del sigmas[-2]
    return sigmas


def comfyui_timesteps(steps: int, shift: float, sampler: str, scheduler: str = "simple") -> list[float]:
    """The timestep the model sees at each of the `steps` steps (ModelSamplingDiscreteFlow.timestep)."""
    return [_f32(sigma * NUM_TRAIN_TIMESTEPS) for sigma in comfyui_sigmas(steps, shift, sampler, scheduler)[:-1]]


def comfyui_boundary_step(
    steps: int, shift: float, boundary_ratio: float, sampler: str, scheduler: str = "simple"
) -> int:
    """How many of `steps` run on the high-noise expert in ComfyUI: the steps whose timestep >= the boundary."""
    timesteps = comfyui_timesteps(steps, shift, sampler, scheduler)
    return sum(1 for timestep in timesteps if timestep >= boundary_ratio * NUM_TRAIN_TIMESTEPS)
