"""`wanflow models pull t2v-a14b --quant q4_k_s` and `models pull lightx2v`: single files, resumable.

Each file downloads with huggingface_hub into its place under the models root (the repository's
own relative path, so an interrupted pull resumes from huggingface_hub's `.cache/` beside it),
then its SHA-256 is written next to it (`<file>.sha256`), which `models verify` checks.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

from wanflow.atomic import write_text_atomic
from wanflow.backends.quantized import (
    EXPERT_COMPONENTS,
    GGUF_REPOS,
    LIGHTNING_FILES,
    LIGHTNING_REPO,
    gguf_folder,
    gguf_repo_file,
)
from wanflow.catalog import backend_spec
from wanflow.errors import UserError
from wanflow.hashing import file_sha256


def _download(repo_id: str, filename: str, folder: Path, again: str, token: str | None) -> Path:
    try:
        path = Path(hf_hub_download(repo_id, filename, local_dir=folder, token=token))
    except (LocalEntryNotFoundError, RepositoryNotFoundError, HfHubHTTPError, OSError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0].rstrip(".")
        raise UserError(
            f"could not download {filename} from {repo_id}: {reason}. Check the network (and HF_TOKEN / "
            f"HF_HUB_OFFLINE); run `{again}` again to resume"
        ) from None
    write_text_atomic(path.with_name(path.name + ".sha256"), file_sha256(path) + "\n")
    return path


def pull_gguf(backend_id: str, quant: str, root: Path, token: str | None = None) -> list[Path]:
    """A backend's GGUF experts of one quant type into `<root>/<id>-gguf/`."""
    spec = backend_spec(backend_id)
    files = [gguf_repo_file(spec.id, component, quant) for component in EXPERT_COMPONENTS[: spec.experts]]
    again = f"wanflow models pull {spec.id} --quant {quant}"
    return [_download(GGUF_REPOS[spec.id], name, gguf_folder(root, spec.id), again, token) for name in files]


def pull_lightning(root: Path, token: str | None = None) -> list[Path]:
    """The lightx2v 4-step LoRAs of both A14B models, per expert, into `<root>/lightx2v/`."""
    again = "wanflow models pull lightx2v"
    return [_download(LIGHTNING_REPO, name, root / "lightx2v", again, token) for name in LIGHTNING_FILES.values()]
