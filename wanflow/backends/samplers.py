"""The turbo tier's sampler: diffusers' flow-matching Euler on ComfyUI's `simple` schedule.

ComfyUI's ModelSamplingSD3 + `simple` scheduler takes `steps` sigmas evenly from t = 1 down to
1/steps, each shifted (shift * t / (1 + (shift - 1) * t)), then 0: at 4 steps and shift 5 the
timesteps 1000, 937.5, 833.3, 625 the lightx2v 4-step LoRAs were trained at. diffusers'
FlowMatchEulerDiscreteScheduler takes explicit sigmas and shifts them the same way; the Wan
pipelines ask only for a step count, so this subclass hands it the sigmas.
"""

from __future__ import annotations

import numpy
from diffusers import FlowMatchEulerDiscreteScheduler


class SimpleScheduleEuler(FlowMatchEulerDiscreteScheduler):
    def set_timesteps(self, num_inference_steps: int | None = None, device=None, **kwargs) -> None:  # type: ignore[override]
        if num_inference_steps is not None and kwargs.get("sigmas") is None:
            kwargs["sigmas"] = (1.0 - numpy.arange(num_inference_steps) / num_inference_steps).tolist()
            num_inference_steps = None
        super().set_timesteps(num_inference_steps, device=device, **kwargs)


def euler_scheduler(shift: float) -> SimpleScheduleEuler:
    return SimpleScheduleEuler(num_train_timesteps=1000, shift=shift)
