"""A clip read back from the cache is an mp4 file, or a broken entry that is rebuilt.

The cache checks an entry's bytes against its meta.json, but a committed cache can hold a
`data.mp4` that is a playlist or a manifest naming other files, with a meta.json to match.
So a clip is taken from the cache only when it starts like an ISO media file (an `ftyp` box),
and ffmpeg reads it as mp4 only (media/inputs.py): nothing in it can name another file.
"""

from __future__ import annotations

from pathlib import Path

from wanflow.cache import ArtifactStore


def check_mp4(path: Path) -> None:
    """Raise ValueError unless the file begins with an ISO base media `ftyp` box."""
    with open(path, "rb") as file:
        head = file.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise ValueError("not an mp4 file (no ftyp box at its start)")


def cached_clip(store: ArtifactStore, key: str) -> Path | None:
    """The clip stored under `key`, checked; None when missing, corrupt or not an mp4."""
    return store.get_file("clips", key, check=check_mp4)
