"""The Wan VAE's channel RMS norms, computed as a sum of squares on the CPU.

`AutoencoderKLWan` normalises every feature map over its channels with `F.normalize`. On the
CPU, PyTorch's norm kernels do not vectorise a reduction over an outer dimension (pytorch issues
91373 and 120229): about 160 ns per pixel whatever the channel count, against 3 ns for
`sum(x * x)`. That was half of a tiny 256x144 decode (0.66 of 1.3 s per preview clip). On the
CPU wanflow computes the same value, x / max(||x||, 1e-12), the fast way; CUDA keeps the
class's own forward.
"""

from __future__ import annotations

import types

import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

_EPSILON = 1e-12  # F.normalize's default


def _forward(self: WanRMS_norm, x: torch.Tensor) -> torch.Tensor:
    """`WanRMS_norm.forward` with the norm as a square root of a sum of squares."""
    dim = 1 if self.channel_first else -1
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    norm = work.mul(work).sum(dim, keepdim=True).sqrt().clamp_min(_EPSILON)
    return work.div(norm).to(x.dtype) * self.scale * self.gamma + self.bias


def fast_cpu_norms(vae: torch.nn.Module) -> None:
    """Every channel norm of a VAE on the CPU computes its value the fast way (in place)."""
    for module in vae.modules():
        if isinstance(module, WanRMS_norm):
            module.forward = types.MethodType(_forward, module)
