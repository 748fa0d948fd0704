"""Every environment variable wanflow reads, declared once with its default and its meaning.

The process reads them once (`current()`; each CLI command starts with `reload()`, so a
command always sees the environment it was started with) and hands the values down as data:
a Dask worker receives what it needs in its task's arguments, never through `os.environ`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from wanflow.errors import Problem, UserError


class Settings(BaseSettings):
    """wanflow's environment: `WANFLOW_<NAME>` for each field, and CUDA's `CUDA_VISIBLE_DEVICES`.

    Prefect's own variables (PREFECT_API_URL, ...) are read by Prefect's settings."""

    model_config = SettingsConfigDict(env_prefix="WANFLOW_", extra="ignore", frozen=True, populate_by_name=True)

    cache: Path | None = Field(None, description="The cache folder (default: .wanflow/cache at the repository root).")
    models: Path | None = Field(None, description="The models root (default: the per-user cache folder).")
    font: str | None = Field(
        None, description="A font file for title cards and burnt-in captions (`FILE#INDEX` for a face of a .ttc)."
    )
    ffmpeg: Path | None = Field(None, description="An ffmpeg to run instead of the one imageio-ffmpeg ships.")
    allow_read: str = Field(
        "", description="Folders outside the storyboard repository it may read, separated by the path separator."
    )
    cpu_threads: int = Field(1, ge=1, le=1024, description="torch's intra-op threads when rendering on the CPU.")
    cluster: str | None = Field(None, description="A Dask scheduler's address to render on (tcp://HOST:PORT).")
    card_gb: int = Field(80, ge=1, le=4096, description="The GPU memory of CPU workers in a local cluster, in GB.")
    card: float | None = Field(
        None, description="The GPU memory in GiB `plan` fits memory plans to (default: the CUDA card's free memory)."
    )
    worker_wait: float = Field(
        120.0, ge=0, description="Seconds a run waits for a worker of a GPU class when its last one died."
    )
    heartbeat_seconds: int = Field(
        30, ge=0, le=3600, description="Seconds between a flow run's heartbeats to a Prefect server (0: none)."
    )
    server_linger: float = Field(
        600,
        ge=0,
        le=86400,
        description="Seconds Prefect's temporary server stays up after a run, for the next one (0: it ends with the run).",
    )
    warm_linger: float = Field(
        600,
        ge=0,
        le=86400,
        description="Seconds a warm wanflow process (its libraries imported) waits after a run for the next one (0: none).",
    )
    cuda_visible_devices: str | None = Field(
        None,
        validation_alias="CUDA_VISIBLE_DEVICES",
        description="CUDA's own: the GPUs this process may use (unset: all; empty: none).",
    )

    def allowed_entries(self) -> list[str]:
        return [entry for entry in self.allow_read.split(os.pathsep) if entry.strip()]


_current: Settings | None = None

# Prefect's own variables that wanflow sets before Prefect is imported (a user's value wins).
PREFECT_DEFAULTS = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # a storyboard tool does not phone home


def set_prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process wanflow starts: this one's, with `extra` on top."""
    return {**os.environ, **(extra or {})}


def reload() -> Settings:
    """Read the environment (again): at the start of each command."""
    global _current
    try:
        _current = Settings()
    except ValidationError as error:
        raise UserError(
            [
                Problem(_variable(item["loc"]), None, None, "", f"{item['msg']}, got {item.get('input')!r}")
                for item in error.errors()
            ]
        ) from None
    return _current


def current() -> Settings:
    """The settings this process read (reading them the first time it is asked)."""
    return _current if _current is not None else reload()


def use(settings: Settings) -> None:
    """The settings this process works with from now on (`--allow-read` adds to what it read)."""
    global _current
    _current = settings


def _variable(loc: tuple[object, ...]) -> str:
    name = str(loc[0]) if loc else ""
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return name if name.isupper() else f"WANFLOW_{name.upper()}"
