"""Where models live on disk: the models root, the Hugging Face cache, completeness, identity.

Nothing here downloads (that is `pull.py`) or imports torch, so `wanflow models list`
starts fast. A model is a Diffusers-format folder: `<root>/<id>/` for real weights,
`<root>/tiny/<id>/` for tiny ones, or a snapshot of the repo id in the Hugging Face cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from huggingface_hub import try_to_load_from_cache

from wanflow import settings
from wanflow.catalog import BACKENDS, backend_spec
from wanflow.errors import UserError

TINY_MARKER = "wanflow_tiny.json"  # written by tiny.py; kept here so store needs no torch
TINY_FORMAT = 5
"""Bumped when the tiny models change (3: VAEs of 2 base channels and no residual blocks, decoding
about 15x faster than format 1; 4: a rotary table that places the longest shot at the largest size;
5: transformers of one attention head, not two):
folders of an older format read as not installed, and the next preview writes them anew."""
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
_MIB = 1 << 20


def models_root() -> Path:
    """$WANFLOW_MODELS, or the per-user cache folder."""
    configured = settings.current().models
    if configured:
        return configured.expanduser().absolute()
    return Path(platformdirs.user_cache_dir("wanflow")) / "models"


def hf_cache_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of a repo (offline: only looks at the local cache)."""
    found = try_to_load_from_cache(repo_id, "model_index.json")
    return Path(found).parent if isinstance(found, str) else None


def is_tiny(folder: Path) -> bool:
    return (folder / TINY_MARKER).is_file()


def tiny_format(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / TINY_MARKER).read_text(encoding="utf-8"))["format"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def missing_parts(folder: Path) -> list[str]:
    """What a Diffusers folder lacks: model_index.json, component folders, configs, weight files."""
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        return ["model_index.json"]
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        return [f"model_index.json (unreadable: {error})"]
    missing: list[str] = []
    for name, entry in sorted(index.items()):
        if name.startswith("_") or not isinstance(entry, list) or entry[0] is None:
            continue
        part = folder / name
        if not part.is_dir():
            missing.append(f"{name}/")
        elif name == "tokenizer":
            if not any((part / f).is_file() for f in ("tokenizer.json", "spiece.model")):
                missing.append("tokenizer/tokenizer.json")
        elif name == "scheduler":
            if not (part / "scheduler_config.json").is_file():
                missing.append("scheduler/scheduler_config.json")
        else:
            if not (part / "config.json").is_file():
                missing.append(f"{name}/config.json")
            missing += [f"{name}/{shard}" for shard in _missing_weights(part)]
    return missing


def _missing_weights(part: Path) -> list[str]:
    indexes = sorted(part.glob("*.index.json"))
    if indexes:
        try:
            shards = set(json.loads(indexes[0].read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, json.JSONDecodeError, KeyError) as error:
            return [f"{indexes[0].name} (unreadable: {error})"]
        return sorted(shard for shard in shards if not (part / shard).is_file())
    if any(path.suffix in _WEIGHT_SUFFIXES for path in part.iterdir()):
        return []
    return ["*.safetensors (no weights)"]


def _fix_hint(backend_id: str, tiny: bool) -> str:
    return "run `wanflow models make-tiny`" if tiny else f"run `wanflow models pull {backend_id}`"


def find_model(backend_id: str, *, tiny: bool = False, root: Path | None = None) -> tuple[Path, str] | None:
    """(folder, where) of an installed model, or None; where is "models root" or "hf cache"."""
    spec = backend_spec(backend_id)
    root = root or models_root()
    local = root / "tiny" / backend_id if tiny else root / backend_id
    if local.is_dir() and (not tiny or tiny_format(local) == TINY_FORMAT):
        return local, "models root"
    if not tiny:
        snapshot = hf_cache_snapshot(spec.repo_id)
        if snapshot is not None:
            return snapshot, "hf cache"
    return None


def model_dir(backend_id: str, *, tiny: bool = False, root: Path | None = None) -> Path:
    """The folder of an installed, complete model; a UserError saying how to fix anything else."""
    found = find_model(backend_id, tiny=tiny, root=root)
    kind = "tiny model" if tiny else "model"
    if found is None:
        where = (root or models_root()) / ("tiny" if tiny else "") / backend_id
        raise UserError(f"{kind} {backend_id} is not installed (looked in {where}); {_fix_hint(backend_id, tiny)}")
    folder, _ = found
    missing = missing_parts(folder)
    if missing:
        raise UserError(
            f"{kind} {backend_id} in {folder} is incomplete (missing {', '.join(missing)}); {_fix_hint(backend_id, tiny)}"
        )
    return folder


# --- identity of the weights, for cache keys --------------------------------------------------

_fingerprints: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*") if path.is_file() and ".cache" not in path.relative_to(folder).parts
    )


def _weight_identity(path: Path) -> str:
    """A big file's identity without reading it all: its HF blob name (the sha256 etag) when it
    is a cache symlink, otherwise a hash of its first and last MiB."""
    if path.is_symlink() and path.resolve().parent.name == "blobs":
        return "etag:" + path.resolve().name
    digest = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as stream:
        digest.update(stream.read(_MIB))
        if size > 2 * _MIB:
            stream.seek(size - _MIB)
            digest.update(stream.read(_MIB))
    return "ends:" + digest.hexdigest()


def weights_fingerprint(folder: Path) -> str:
    """sha256 over configs and weights; tiny folders hash fully, big ones by name/size/ends.

    Memoised on the files' sizes and mtimes, so a run pays for it once.
    """
    folder = folder.absolute()
    files = _files(folder)
    stats = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    memo_key = (str(folder), stats)
    if memo_key in _fingerprints:
        return _fingerprints[memo_key]
    tiny = is_tiny(folder)
    digest = hashlib.sha256()
    for path, (name, size, _mtime) in zip(files, stats):
        digest.update(f"{name}\0{size}\0".encode())
        if tiny or path.suffix == ".json" or size <= 2 * _MIB:
            digest.update(path.read_bytes())
        elif path.suffix in _WEIGHT_SUFFIXES:
            digest.update(_weight_identity(path).encode())
        # other big files (e.g. a tokenizer's spiece.model) count by name and size only
    fingerprint = digest.hexdigest()
    _fingerprints[memo_key] = fingerprint
    return fingerprint


# --- listing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledModel:
    backend_id: str
    tiny: bool
    path: Path
    where: str  # "models root" | "hf cache"
    size_bytes: int
    missing: tuple[str, ...]  # empty when complete

    @property
    def usable(self) -> bool:
        return not self.missing


def folder_size(folder: Path) -> int:
    """Bytes on disk, following HF cache symlinks to their blobs."""
    return sum(path.stat().st_size for path in _files(folder))


def list_models(root: Path | None = None) -> list[InstalledModel]:
    """Every installed model, real and tiny, in registry order."""
    models: list[InstalledModel] = []
    for tiny in (False, True):
        for backend_id in BACKENDS:
            found = find_model(backend_id, tiny=tiny, root=root)
            if found is None:
                continue
            folder, where = found
            models.append(
                InstalledModel(backend_id, tiny, folder, where, folder_size(folder), tuple(missing_parts(folder)))
            )
    return models
