"""What a job will cost on a GPU, before any weights are read."""

from __future__ import annotations

from wanflow.catalog import BACKENDS
from wanflow.plan.jobs import RenderJob


def estimate(job: RenderJob) -> tuple[float | None, float | None]:
    """(GPU seconds, peak GB) scaled from the official single-GPU table; None for tiny models."""
    if job.tiny:
        return None, None
    spec = BACKENDS[job.backend]
    label = "720p" if job.width * job.height > 832 * 480 else "480p"
    if label not in spec.official_seconds:
        label = next(iter(spec.official_seconds))
    ref_w, ref_h = (1280, 720) if label == "720p" else (832, 480)
    if job.backend == "ti2v-5b":
        ref_w, ref_h = 1280, 704
    work = (job.width * job.height * job.frames * job.steps) / (ref_w * ref_h * spec.frames * spec.steps)
    return spec.official_seconds[label] * work, spec.official_peak_gb[label]
