"""Where a storyboard may read: inside its own repository, and in folders the user allows.

Storyboard repositories come from other people (a pull request rendered by a scheduled
deployment). So every file a storyboard names (start images, soundtrack, LoRAs, the grammar's
templates and vocabulary) is resolved, symlinks included, and must lie inside the storyboard
repository (its git root; the spec's folder when it is not in git) or inside a folder the
person running wanflow allows: `--allow-read DIR` or `WANFLOW_ALLOW_READ` (folders separated
by the system's path separator). A path that leads outside gets one message that does not
say whether anything exists there.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from wanflow import settings
from wanflow.errors import Problem, UserError

ALLOW_ENV = "WANFLOW_ALLOW_READ"
ALLOW_HINT = f"allow a folder with --allow-read DIR or {ALLOW_ENV}"
MAX_PATH_CHARS = 1024


class OutsideError(ValueError):
    """A path leads outside the repository and the allowed folders (the message says which path)."""


def repository_root(folder: Path) -> Path:
    """The git root above `folder` (a `.git` folder or file), else `folder` itself."""
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def allowed_folders() -> tuple[Path, ...]:
    """The folders `WANFLOW_ALLOW_READ` names, resolved; a name that is no folder is a UserError."""
    folders = []
    for entry in settings.current().allowed_entries():
        folder = Path(entry).expanduser().resolve()
        if not folder.is_dir():
            raise UserError(Problem(ALLOW_ENV, None, None, "", f"{entry} is not a folder"))
        folders.append(folder)
    return tuple(dict.fromkeys(folders))


def allow_reading(folders: list[Path] | None) -> None:
    """`--allow-read DIR`: the same as adding DIR to WANFLOW_ALLOW_READ, for this command."""
    entries = [str(Path(folder).expanduser().resolve()) for folder in folders or ()]
    for entry, folder in zip(entries, folders or ()):
        if not Path(entry).is_dir():
            raise UserError(Problem("wanflow", None, None, "--allow-read", f"{folder} is not a folder"))
    if entries:
        present = settings.current()
        allowed = os.pathsep.join(dict.fromkeys([*entries, *present.allowed_entries()]))
        settings.use(present.model_copy(update={"allow_read": allowed}))


@dataclass(frozen=True)
class Confinement:
    """The storyboard repository and the allowed folders: the only places a storyboard reads."""

    root: Path  # resolved
    allowed: tuple[Path, ...] = ()  # resolved

    @classmethod
    def of_spec(cls, spec_path: Path) -> Confinement:
        """The confinement of a spec: the repository of the folder it is written in."""
        return cls.of_folder(Path(os.path.abspath(spec_path)).parent)

    @classmethod
    def of_folder(cls, folder: Path) -> Confinement:
        """The confinement of work in `folder` (the current directory of `wanflow vocab`)."""
        return cls(repository_root(folder), allowed_folders())

    def contains(self, path: Path) -> bool:
        """`path` (already resolved) is inside the repository or an allowed folder."""
        return any(path == folder or folder in path.parents for folder in (self.root, *self.allowed))

    def resolve(self, written: str | Path, base: Path) -> Path:
        """`written` (relative to `base`) resolved, symlinks included; OutsideError if it leads outside."""
        text = str(written)
        if len(text) > MAX_PATH_CHARS or "\0" in text:
            raise OutsideError(f"{text[:80]!r}... is not a usable path")
        try:
            path = (base / Path(text).expanduser()).resolve()
        except (OSError, RuntimeError):  # a symlink loop, a name too long
            raise OutsideError(f"{text!r} cannot be resolved (a symlink loop?)") from None
        if not self.contains(path):
            raise OutsideError(f"{text!r} is outside {self.describe()}; a storyboard reads only there ({ALLOW_HINT})")
        return path

    def describe(self) -> str:
        where = f"the storyboard repository {self.root}"
        if self.allowed:
            where += " and the allowed folders " + ", ".join(str(folder) for folder in self.allowed)
        return where


def regular_file_inside(folder: Path, name: str | Path) -> Path | None:
    """`folder/name` resolved, when it is a regular file inside `folder` (resolved); None when it is
    not there. OutsideError when it leads out of the folder or is not a regular file."""
    folder = folder.resolve()
    candidate = folder / name
    if not os.path.lexists(candidate):
        return None
    try:
        path = candidate.resolve()
    except (OSError, RuntimeError):
        raise OutsideError(f"{name} cannot be resolved (a symlink loop?)") from None
    if folder not in path.parents:
        raise OutsideError(f"{name} leads outside {folder}; only files inside it are read")
    try:
        mode = path.stat().st_mode
    except OSError:
        raise OutsideError(f"{name} is a link to nothing inside {folder}") from None
    if not stat.S_ISREG(mode):
        raise OutsideError(f"{name} is not a regular file")
    return path
