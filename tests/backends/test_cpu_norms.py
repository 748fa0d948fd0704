"""The CPU channel norms give the pixels of the VAE class's own forward."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

from wanflow.backends.generate import Decoder


@pytest.mark.parametrize("backend_id", ["t2v-a14b", "ti2v-5b"])  # the Wan2.1 VAE and the Wan2.2 one
def test_a_cpu_decode_uses_the_fast_norms_and_keeps_every_pixel(backend_id: str, tiny_model_dirs: dict[str, Path]) -> None:
    decoder = Decoder.load(tiny_model_dirs[backend_id])
    norms = [module for module in decoder.vae.modules() if isinstance(module, WanRMS_norm)]
    assert norms and all("forward" in vars(module) for module in norms)  # replaced on this instance
    z_dim = decoder.vae.config.z_dim
    latents = torch.randn(1, z_dim, 3, 6, 8, generator=torch.Generator().manual_seed(3))
    fast = decoder.decode(latents)
    for module in norms:
        del module.forward  # the class's own F.normalize
    stock = decoder.decode(latents)
    assert fast.shape == stock.shape and numpy.abs(fast.astype(int) - stock.astype(int)).max() <= 1
