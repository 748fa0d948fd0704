"""The VAE's CPU fast paths give the pixels of the VAE classes' own forwards."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy
import pytest
import torch
from diffusers.models.autoencoders.autoencoder_kl_wan import WanRMS_norm

from wanflow.backends.generate import Decoder
from wanflow.backends.pool import ModelPool
from wanflow.take import RenderSettings


@pytest.mark.parametrize("backend_id", ["t2v-a14b", "ti2v-5b"])  # the Wan2.1 VAE and the Wan2.2 one
def test_a_cpu_decode_uses_the_fast_paths_and_keeps_every_pixel(
    backend_id: str, tiny_model_dirs: dict[str, Path]
) -> None:
    decoder = Decoder.load(tiny_model_dirs[backend_id])
    norms = [module for module in decoder.vae.modules() if isinstance(module, WanRMS_norm)]
    convs = [module for module in decoder.vae.modules() if isinstance(module, torch.nn.Conv3d)]
    assert norms and all("forward" in vars(module) for module in norms)  # replaced on this instance
    assert convs and all("_conv_forward" in vars(module) for module in convs)
    z_dim = decoder.vae.config.z_dim
    latents = torch.randn(1, z_dim, 3, 6, 8, generator=torch.Generator().manual_seed(3))
    fast = decoder.decode(latents)
    for module in norms:
        del module.forward  # the class's own F.normalize
    for module in convs:
        del module._conv_forward  # PyTorch's own choice of kernel
    stock = decoder.decode(latents)
    assert fast.shape == stock.shape and numpy.abs(fast.astype(int) - stock.astype(int)).max() <= 1


def test_the_fast_convolution_takes_onednn_where_pytorch_takes_its_slow_kernel(
    tiny_model_dirs: dict[str, Path],
) -> None:
    decoder = Decoder.load(tiny_model_dirs["t2v-a14b"])
    latents = torch.randn(1, decoder.vae.config.z_dim, 2, 18, 32, generator=torch.Generator().manual_seed(4))
    with torch.profiler.profile() as profile:
        decoder.decode(latents)
    kernels = {event.key for event in profile.key_averages()}
    assert "aten::mkldnn_convolution" in kernels and "aten::slow_conv3d_forward" not in kernels


def test_two_threads_decode_at_once_each_with_its_own_causal_cache(tiny_model_dirs: dict[str, Path]) -> None:
    """An in-process preview decodes two clips at once with one VAE (`ModelPool.decode_slots`)."""
    decoder = Decoder.load(tiny_model_dirs["t2v-a14b"])
    z_dim = decoder.vae.config.z_dim
    latents = [torch.randn(1, z_dim, 6, 6, 8, generator=torch.Generator().manual_seed(seed)) for seed in (5, 6)]
    alone = [decoder.decode(one) for one in latents]
    pool = ModelPool(RenderSettings(), decode_slots=2)
    inside = threading.Barrier(2, timeout=30)

    def decode(one: torch.Tensor) -> numpy.ndarray:
        with pool.decoding():
            inside.wait()  # both threads hold the decode stage before either decodes
            return decoder.decode(one)

    with ThreadPoolExecutor(2) as threads:
        together = list(threads.map(decode, latents))
    assert all(numpy.array_equal(a, b) for a, b in zip(alone, together, strict=True))
