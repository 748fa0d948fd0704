"""What a job will cost on a GPU, before any weights are read."""

from __future__ import annotations

from wanflow.catalog import BACKENDS
from wanflow.plan.jobs import RenderJob
from wanflow.take import RenderSettings


def estimate(job: RenderJob, settings: RenderSettings = RenderSettings()) -> tuple[float | None, float | None]:
    """(GPU seconds, peak GiB); None for tiny models.

    Seconds are scaled from the official single-GPU table by size, frames and steps. Memory
    comes from the real-size model built on the meta device under these settings: the weights
    each phase keeps on the GPU plus an activation term (`wanflow.backends.realsize`). The
    first real-model estimate imports torch and diffusers (seconds); later ones are cached.
    """
    if job.tiny:
        return None, None
    from wanflow.backends.realsize import GIB, real_size

    spec = BACKENDS[job.backend]
    label = "720p" if job.settings.width * job.settings.height > 832 * 480 else "480p"
    if label not in spec.official_seconds:
        label = next(iter(spec.official_seconds))
    ref_w, ref_h = (1280, 720) if label == "720p" else (832, 480)
    if job.backend == "ti2v-5b":
        ref_w, ref_h = 1280, 704
    work = (job.settings.width * job.settings.height * job.settings.frames * job.settings.steps) / (
        ref_w * ref_h * spec.frames * spec.steps
    )
    size = real_size(
        job.backend, dtype=settings.dtype, offload=settings.offload, text_encoder_cpu=settings.text_encoder_cpu
    )
    return spec.official_seconds[label] * work, size.peak_gpu_bytes(
        job.settings.width, job.settings.height, job.settings.frames
    ) / GIB
