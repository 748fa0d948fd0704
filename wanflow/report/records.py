"""What the report knows about each shot of the film and each of its takes (plain records from the run)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wanflow.film import Shot
from wanflow.take import TakeSettings


@dataclass(frozen=True)
class TakeRecord:
    """One take of a shot: shown beside the shot's other takes, the one the film uses marked."""

    take: int
    seed: int
    clip: Path  # out/takes/<shot>/take-<k>.mp4
    chosen: bool  # the film uses this take
    cached: bool  # nothing rendered for it this run
    seconds: float  # this run's seconds for it (0 when cached)


@dataclass(frozen=True)
class ShotRecord:
    """What the pipeline knows about one rendered shot."""

    shot: Shot
    clip: Path
    prompt: str
    negative: str
    mode: str  # "t2v" | "i2v"
    warnings: tuple[str, ...]  # lint warnings, as text
    settings: TakeSettings  # what decided its pixels, as the plan fixed it (held, not copied)
    weights_fingerprint: str
    cache_keys: dict[str, str]
    cached: bool  # no generation this run: the clip or its latents came from the cache
    # The run's wall seconds for this shot, the number run.json and the console show: its start
    # frame, the model load when it is the first shot on its model, and the denoising; 0 if cached.
    seconds: float
    tiny: bool  # rendered by the tiny random-weight models: the pictures are noise
    model_layout: dict[str, object] | None = None  # a non-official folder's own layout (--allow-nonstandard)
    takes: tuple[TakeRecord, ...] = ()  # every take with a clip, in take order (the chosen one included)

    @property
    def backend(self) -> str:
        return self.settings.backend

    @property
    def compared(self) -> bool:
        """More than one take to choose from: the report shows them side by side."""
        return len(self.takes) > 1
