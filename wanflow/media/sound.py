"""The film's soundtrack, mixed by its own ffmpeg and kept in the cache by what it is made of.

The mix depends on the soundtrack files and the film's length, never on the pictures. So a run
mixes it on a spare core while the models load (`run/premix.py`), the cut takes it from the
cache, and a re-cut that keeps the film's length (a caption, a title's text, another take of
the same length) mixes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wanflow.cache import ArtifactStore
from wanflow.errors import Problem, UserError
from wanflow.film import Film
from wanflow.hashing import sha256_of_file
from wanflow.media.clips import check_mp4
from wanflow.media.ffmpeg import media_duration, run_ffmpeg
from wanflow.media.filtergraph import AUDIO_RATE, AudioUse, Command, audio_chains

KIND = "sounds"  # the cache kind of a mixed soundtrack


@dataclass(frozen=True)
class SoundMix:
    """The soundtrack files as they play in a film of `frames` at `fps`."""

    uses: tuple[AudioUse, ...]
    frames: int
    fps: int
    quick: bool  # the fast AAC coder: a film made to be checked

    def key(self) -> str:
        """The cache key: every file by content, with how it is placed, and the film's length."""
        tracks = [
            {
                "sha256": sha256_of_file(use.track.path),
                "seconds": use.seconds,
                "start": use.track.start,
                "trim_start": use.track.trim_start,
                "volume": use.track.volume,
                "fade_in": use.track.fade_in,
                "fade_out": use.track.fade_out,
            }
            for use in self.uses
        ]
        payload = {"tracks": tracks, "frames": self.frames, "fps": self.fps, "quick": self.quick, "rate": AUDIO_RATE}
        return ArtifactStore.key(KIND, payload)


def sound_mix(film: Film, frames: int, fps: int, quick: bool) -> tuple[SoundMix | None, list[str]]:
    """What of each soundtrack file plays in a film of `frames` (None: nothing plays), and a
    warning for each file that does not play at all."""
    seconds = frames / fps
    uses: list[AudioUse] = []
    warnings: list[str] = []
    problems = []
    for number, track in enumerate(film.soundtrack):
        if not track.path.is_file():
            problems.append(
                Problem(
                    file=str(film.path),
                    line=None,
                    column=None,
                    field=f"soundtrack[{number}].path",
                    message=f"audio file not found: {track.path}",
                )
            )
            continue
        available = media_duration(track.path) - track.trim_start
        wanted = available if track.duration is None else min(track.duration, available)
        plays = min(wanted, seconds - track.start)
        if plays <= 0:
            warnings.append(
                f"soundtrack {track.path.name}: starts after the film ends or has nothing left after trim_start; skipped"
            )
            continue
        uses.append(AudioUse(track=track, seconds=plays))
    if problems:
        raise UserError(problems)
    return (SoundMix(tuple(uses), frames, fps, quick) if uses else None), warnings


def mix_sound(mix: SoundMix, out: Path) -> Path:
    """The soundtrack mixed to the film's length and encoded as AAC (ffmpeg's own encoder: about
    0.7 s of one core for the example film's 25 s), with the fast coder for a film to check."""
    command = Command()
    label = audio_chains(command, list(mix.uses), mix.frames, mix.fps)
    args = [*command.inputs, "-filter_complex", ";".join(command.chains), "-map", f"[{label}]"]
    args += ["-c:a", "aac", "-b:a", "192k", "-ar", str(AUDIO_RATE), *(["-aac_coder", "fast"] if mix.quick else [])]
    run_ffmpeg([*args, "-f", "mp4", str(out)], what="mix the soundtrack", file=out)
    return out


def cached_sound(store: ArtifactStore, mix: SoundMix) -> Path:
    """The mix from the cache, mixed into it first when it is not there (one mixer per key)."""
    key = mix.key()
    found = store.get_file(KIND, key, check=check_mp4)  # a hit takes no lock: a read-only cache serves it
    if found is not None:
        return found
    with store.lock(KIND, key):
        found = store.get_file(KIND, key, check=check_mp4)
        if found is not None:
            return found
        staging = store.scratch_dir() / f"{key}.m4a"
        try:
            mix_sound(mix, staging)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        meta = {"frames": mix.frames, "fps": mix.fps, "files": [use.track.path.name for use in mix.uses]}
        return store.put_file(KIND, key, staging, meta)
