"""`wanflow models pull`: the only code path that downloads weights.

Files download into a hidden `.<id>.partial/` folder next to the final one (huggingface_hub
resumes from it after an interruption) and the folder is renamed into place only when
complete, so a model folder is never half-written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
)

from wanflow.backends.store import missing_parts, models_root
from wanflow.catalog import backend_spec
from wanflow.errors import UserError
from wanflow.nofollow import refuse_links


def pull_model(backend_id: str, *, root: Path | None = None, token: str | None = None) -> Path:
    """Download a backend's Diffusers repo into `<root>/<id>/`; returns the folder."""
    spec = backend_spec(backend_id)
    root = root or models_root()
    final = root / backend_id
    if final.is_dir() and not missing_parts(final):
        return final
    partial = root / f".{backend_id}.partial"
    refuse_links(root, final, partial)  # a download is never written, nor a folder removed, through a link
    partial.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(spec.repo_id, local_dir=partial, token=token)
    except (LocalEntryNotFoundError, RepositoryNotFoundError, HfHubHTTPError, OSError) as error:
        if not any(partial.iterdir()):
            partial.rmdir()  # nothing arrived: leave no trace
        reason = (str(error).splitlines() or [type(error).__name__])[0].rstrip(".")
        raise UserError(
            f"could not download {spec.repo_id}: {reason}. Check the network (and HF_TOKEN / HF_HUB_OFFLINE); "
            f"nothing was installed; run `wanflow models pull {backend_id}` again to resume"
        ) from None
    missing = missing_parts(partial)
    if missing:
        raise UserError(
            f"download of {spec.repo_id} is incomplete (missing {', '.join(missing)}); pull again to resume"
        )
    shutil.rmtree(partial / ".cache", ignore_errors=True)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final
