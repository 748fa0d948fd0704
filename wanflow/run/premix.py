"""The soundtrack mixed on a spare core while the models load: the cut then finds it in the cache.

The mix needs only the film's length, which the plan knows before a clip exists: each shot's
clip is planned to `frames` at `fps`. Mixing it early costs a run nothing (one ffmpeg beside the
single-threaded imports of torch and diffusers) and takes it off the cut's path. A clip that
comes out at another length gives the cut another key: it mixes that one itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from wanflow.cache import ArtifactStore
from wanflow.media.children import Scope
from wanflow.media.ffmpeg import VideoInfo
from wanflow.media.sound import SoundMix, cached_sound, sound_mix
from wanflow.media.timeline import CutClip, plan_timeline
from wanflow.plan import RenderPlan
from wanflow.run.prepare import PreparedRun

log = logging.getLogger("wanflow.run.premix")


def planned_mix(plan: RenderPlan) -> SoundMix | None:
    """The mix of the film as planned (every clip at its planned length); None: no soundtrack, or
    a film the cut will refuse (the cut says why)."""
    if not plan.film.soundtrack:
        return None
    clips, infos = [], []
    for job in plan.jobs:
        settings = job.settings
        clips.append(CutClip(shot=job.shot, path=Path(f"{job.shot_id}.mp4")))
        infos.append(
            VideoInfo(
                path=clips[-1].path,
                frames=settings.frames,
                fps=float(settings.fps),
                width=settings.width,
                height=settings.height,
                duration=settings.frames / settings.fps,
                codec="h264",
                pix_fmt="yuv420p",
                timebase="",
                has_audio=False,
            )
        )
    try:
        timeline = plan_timeline(plan.film, clips, infos, width=plan.width, height=plan.height)
        return sound_mix(plan.film, timeline.frames, timeline.fps, plan.for_checking)[0]
    except Exception as error:  # the cut meets the same problem and reports it in full
        log.debug("no soundtrack mixed ahead of the cut: %s", error)
        return None


def soundtrack_keys(spec_path: Path) -> set[str]:
    """The `sounds` keys of the spec's film as planned under each profile it can run (for gc)."""
    from wanflow.plan.jobs import make_plan
    from wanflow.plan.profiles import available_profiles
    from wanflow.storyboard.load import load_film

    film = load_film(spec_path)
    mixes = (planned_mix(make_plan(film, name)) for name in available_profiles(film))
    return {mix.key() for mix in mixes if mix is not None}


@contextmanager
def sound_mixed_meanwhile(prepared: PreparedRun) -> Iterator[None]:
    """Mix the film's soundtrack into the cache while the block runs; it waits for the mix on
    leaving (and stops it when the block fails), so no ffmpeg outlives the run. A run of some
    shots only (`--only`) mixes nothing."""
    cut_follows = {job.shot_id for job in prepared.jobs} == {job.shot_id for job in prepared.plan.jobs}
    mix = planned_mix(prepared.plan) if cut_follows else None
    if mix is None:
        yield
        return
    mixing = Scope()  # a run that fails or is interrupted stops the mix's ffmpeg
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wanflow-premix") as mixer:
        mixed = mixer.submit(mixing.call, cached_sound, ArtifactStore(prepared.cache_dir), mix)
        try:
            yield
        except BaseException:
            mixing.kill()
            raise
        finally:
            error = mixed.exception()  # waits: an error here is the cut's to meet and report
            if error is not None:
                log.debug("the soundtrack was not mixed ahead of the cut: %s", error)
