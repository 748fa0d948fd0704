"""The Wan VAE's fast paths on the CPU: its channel norms and its 3D convolutions.

Both are PyTorch kernel choices that are slow for this VAE's shapes; wanflow computes the same
values the fast way on the CPU, and CUDA keeps the class's own forward.

- Norms: `AutoencoderKLWan` normalises every feature map over its channels with `F.normalize`.
  PyTorch's CPU norm kernels do not vectorise a reduction over an outer dimension (pytorch
  issues 91373 and 120229): about 160 ns per pixel whatever the channel count, against 3 ns for
  `sum(x * x)`. That was half of a tiny 256x144 decode (0.66 of 1.3 s per preview clip).
- Convolutions: PyTorch sends a float32 convolution to oneDNN only when batch x channels x the
  next two sizes exceed 20480, a rule written for 2D images. A 3D feature map of few channels
  at full resolution falls under it and takes the native `slow_conv3d`, 3-4x slower than oneDNN
  on the same tensor (14 against 4 ms for 2 channels, 6 frames of 256x144): 0.32 of a tiny
  decode's remaining 0.5 s.
"""

from __future__ import annotations

import types

import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

_EPSILON = 1e-12  # F.normalize's default


def _norm_forward(self: WanRMS_norm, x: torch.Tensor) -> torch.Tensor:
    """`WanRMS_norm.forward` with the norm as a square root of a sum of squares."""
    dim = 1 if self.channel_first else -1
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    norm = work.mul(work).sum(dim, keepdim=True).sqrt().clamp_min(_EPSILON)
    return work.div(norm).to(x.dtype) * self.scale * self.gamma + self.bias


def _onednn_conv_forward(
    self: torch.nn.Conv3d, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """`Conv3d._conv_forward` through oneDNN for float32 CPU tensors, PyTorch's choice otherwise."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or weight.dtype != torch.float32:
        return torch.nn.Conv3d._conv_forward(self, x, weight, bias)
    return torch.ops.aten.mkldnn_convolution(
        x, weight, bias, list(self.padding), list(self.stride), list(self.dilation), self.groups
    )


def fast_cpu_vae(vae: torch.nn.Module) -> None:
    """Every channel norm and 3D convolution of a VAE on the CPU computes its value the fast
    way (in place, on this instance)."""
    onednn = torch.backends.mkldnn.is_available()
    for module in vae.modules():
        if isinstance(module, WanRMS_norm):
            module.forward = types.MethodType(_norm_forward, module)
        elif onednn and isinstance(module, torch.nn.Conv3d) and module.padding_mode == "zeros":
            module._conv_forward = types.MethodType(_onednn_conv_forward, module)
