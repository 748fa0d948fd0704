"""What a run did, shot by shot: the values tasks return, and `out/run.json`."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass
class ShotOutcome:
    shot_id: str
    backend: str
    status: str  # rendered | cached | failed | skipped | not selected
    seconds: float = 0.0  # generation and decoding of this run (0 when cached)
    clip: str | None = None
    worker: str | None = None  # who rendered it; None when nothing ran for it
    started: float | None = None  # Unix time the task started and ended on its worker
    ended: float | None = None
    error: str | None = None


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

    def count(self, status: str) -> int:
        return sum(1 for shot in self.shots if shot.status == status)

    def outcome(self, shot_id: str) -> ShotOutcome:
        return next(shot for shot in self.shots if shot.shot_id == shot_id)
