"""`wanflow init`'s git repository: the storyboard repository is the git root above a spec.

Without one, a spec's repository shrinks to its own folder (`specs/`): `../assets/x.png` is
refused as outside, the cache lands in `specs/.wanflow`. So `init` makes the folder a git
repository, or says which one it is already inside. An empty repository is four plain files
(the layout `git init` writes: HEAD, config, objects/, refs/), written here directly because
wanflow starts no processes outside its media stage; git itself reads it as any other.
"""

from __future__ import annotations

from pathlib import Path

from wanflow.atomic import write_text_atomic
from wanflow.confine import repository_root

_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"


def ensure_repository(target: Path) -> str:
    """Make `target` a git repository unless it is inside one; the sentence that says which."""
    target = target.absolute()
    root = repository_root(target)
    if (root / ".git").exists():
        return f"inside the git repository {root}: its storyboard repository"
    git = target / ".git"
    for folder in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        (git / folder).mkdir(parents=True, exist_ok=True)
    write_text_atomic(git / "config", _CONFIG)
    write_text_atomic(git / "description", "Unnamed repository; edit this file to name it for gitweb.\n")
    write_text_atomic(git / "HEAD", "ref: refs/heads/main\n")  # written last: a folder with HEAD is a repository
    return f"made {target} a git repository (branch main): the storyboard repository"
