"""An animatic take in the run: its clip drawn into the cache, as a render would put it there.

No model is loaded and torch is not imported: the render task calls this instead of the
generator when the take is an animatic's (`TakeSettings.animatic`).
"""

from __future__ import annotations

import time
from pathlib import Path

from wanflow.cache import ArtifactStore
from wanflow.catalog import BACKENDS
from wanflow.media.animatic import AnimaticClip, end_picture, start_picture, write_animatic
from wanflow.media.animatic_moves import View
from wanflow.media.clips import cached_clip
from wanflow.plan import RenderJob
from wanflow.run.phases import ShotWork


def draw_take(
    job: RenderJob,
    store: ArtifactStore,
    *,
    upstream_clip: Path | None,
    end_clip: Path | None = None,
    force: bool = False,
    run: str | None = None,
) -> ShotWork:
    """The take's clip, drawn unless the cache holds it: a continuation from its upstream's clip,
    a take with an end frame cross-fading to it (its `end_image:`, or `end_clip`'s first frame).
    The clip's meta names the `run` (flow run id) that drew it."""
    started = time.perf_counter()
    take = job.settings
    existing = None if force else cached_clip(store, job.keys.clip)
    if existing is not None:  # a hit takes no lock: a read-only cache serves it
        return ShotWork(False, False, existing, time.perf_counter() - started)
    with store.lock("clips", job.keys.clip):
        existing = None if force else cached_clip(store, job.keys.clip)
        if existing is not None:
            return ShotWork(False, False, existing, time.perf_counter() - started)
        picture = start_picture(
            (take.width, take.height),
            image=take.image,
            upstream_clip=upstream_clip if take.image is None else None,
            panel=job.panel,
            fit=take.fit,
            spec=BACKENDS[take.backend],
        )
        end = end_picture(take, BACKENDS[take.backend], image=take.end_image, clip=end_clip)
        zoom, x, y = take.start_view
        clip = AnimaticClip(take.width, take.height, take.frames, take.fps, take.camera, View(zoom, x, y), take.seed)
        staging = store.scratch_dir() / f"{job.keys.clip}.mp4"
        write_animatic(picture, clip, staging, end)
        meta = {"shot": job.shot_id, "take": job.take, "frames": take.frames, "fps": take.fps, "animatic": True}
        if run is not None:
            meta["run"] = run
        path = store.put_file("clips", job.keys.clip, staging, meta)
    return ShotWork(True, True, path, time.perf_counter() - started)
