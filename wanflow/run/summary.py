"""What a run did, shot by shot: the values tasks return, and `out/run.json`."""

from __future__ import annotations

from dataclasses import dataclass, field

from wanflow.plan import RenderJob, RenderPlan


@dataclass(frozen=True)
class TaskReport:
    """What one task returns to the flow: small values only, never tensors or video bytes."""

    worker: str  # the Dask worker's name, or "local" in-process
    loads: tuple[str, ...] = ()  # models this task loaded ("generator:t2v-a14b", ...)
    generated: bool = False
    seconds: float = 0.0
    clip: str | None = None
    started: float | None = None  # wall clock (Unix time) where it ran
    ended: float | None = None
    decoded: bool = False  # the clip was decoded now (its latents may come from a dead attempt)
    made_this_run: bool = False  # this task, or an earlier try of it in this run, made the clip


@dataclass
class TakeOutcome:
    """One take of a shot: its own task, seed and clip."""

    take: int
    seed: int
    status: str  # rendered | cached | failed | skipped | not selected
    clip: str | None = None  # out/takes/<shot>/take-<k>.mp4 once written, the cache's file before
    chosen: bool = False  # the film uses this take
    seconds: float = 0.0
    worker: str | None = None
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    attempts: list[dict] = field(default_factory=list)  # {"worker", "status": done|failed|retried, "error"}


# A shot's status is its worst take's: one failed take fails the shot (and the run).
_PRECEDENCE = ("failed", "skipped", "rendered", "cached", "not selected")


@dataclass
class ShotOutcome:
    shot_id: str
    backend: str
    status: str  # rendered | cached | failed | skipped | not selected (of its takes, the first in that order)
    seconds: float = 0.0  # generation and decoding of this run, every take (0 when cached)
    clip: str | None = None  # the clip of the take the film uses
    worker: str | None = None  # who rendered it (the chosen take, else another); None when nothing ran for it
    started: float | None = None  # Unix time its first task started and its last ended
    ended: float | None = None
    error: str | None = None
    take: int = 1  # the take the film uses
    takes: list[TakeOutcome] = field(default_factory=list)
    end_frame: str | None = None  # what it ends on (first-last-frame): an image file, or "first frame of <shot>"

    def workers_story(self) -> str:
        """Who did what, for a table: `w24`, or `w80 (died), w24` when a worker died under it."""
        tries = [a for take in self.takes for a in take.attempts]
        if not any(attempt["status"] == "retried" for attempt in tries):
            return self.worker or ""
        return ", ".join(a["worker"] + (" (died)" if a["status"] == "retried" else "") for a in tries)

    def take_outcome(self, take: int) -> TakeOutcome:
        return next(outcome for outcome in self.takes if outcome.take == take)

    def settle(self) -> None:
        """The shot's own fields from its takes', once they are known."""
        if not self.takes:
            return
        chosen = next(take for take in self.takes if take.chosen)
        ran = sorted((take for take in self.takes if take.worker), key=lambda take: not take.chosen)
        self.status = min((take.status for take in self.takes), key=_PRECEDENCE.index)
        self.seconds = sum(take.seconds for take in self.takes)
        self.clip = chosen.clip
        self.worker = ran[0].worker if ran else None
        self.started = min((take.started for take in ran if take.started is not None), default=None)
        self.ended = max((take.ended for take in ran if take.ended is not None), default=None)
        errors = [take for take in self.takes if take.error]
        if errors:
            prefix = len(self.takes) > 1
            self.error = "; ".join(f"take {t.take}: {t.error}" if prefix else str(t.error) for t in errors)


def planned_outcomes(plan: RenderPlan) -> dict[str, ShotOutcome]:
    """Every shot of the plan with every take, "not selected" until the run says otherwise."""
    outcomes = {
        job.shot_id: ShotOutcome(
            job.shot_id,
            "animatic" if job.settings.animatic else job.backend,
            "not selected",
            take=job.take,
            end_frame=_end_frame(job),
        )
        for job in plan.jobs
    }
    for job in plan.takes:
        outcomes[job.shot_id].takes.append(TakeOutcome(job.take, job.settings.seed, "not selected", chosen=job.chosen))
    return outcomes


def _end_frame(job: RenderJob) -> str | None:
    if job.settings.end_image is not None:
        return str(job.settings.end_image)
    return f"first frame of {job.end_shot}" if job.end_shot else None


@dataclass
class RunSummary:
    spec: str
    profile: str
    shots: list[ShotOutcome]
    phases: dict[str, float] = field(default_factory=dict)  # phase name -> seconds
    loads: list[dict[str, str]] = field(default_factory=list)  # {"worker", "model"} in the order reported
    workers: list[str] = field(default_factory=list)  # the workers the run was placed on
    film: str | None = None
    report: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    def retried(self) -> list[dict]:
        """Every attempt that died with its worker in this run: shot, take, worker, what happened."""
        return [
            {"shot": shot.shot_id, "take": take.take, **attempt}
            for shot in self.shots
            for take in shot.takes
            for attempt in take.attempts
            if attempt["status"] == "retried"
        ]

    def count(self, status: str) -> int:
        return sum(1 for shot in self.shots if shot.status == status)

    def count_takes(self, status: str) -> int:
        return sum(1 for shot in self.shots for take in shot.takes if take.status == status)

    def outcome(self, shot_id: str) -> ShotOutcome:
        return next(shot for shot in self.shots if shot.shot_id == shot_id)
