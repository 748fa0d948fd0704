"""The models a plan renders with: found on this machine, their folders' layouts checked."""

from __future__ import annotations

from pathlib import Path

from wanflow.backends.layout import check_layout, describe_layout
from wanflow.backends.store import model_dir
from wanflow.errors import Problem, UserError
from wanflow.take import RenderSettings


def nonstandard_layout(
    backend_id: str, folder: Path, settings: RenderSettings, where, problems: list[Problem]
) -> dict[str, object] | None:
    """None for an official folder; a problem for another one, or its own layout when it is allowed."""
    differences = check_layout(backend_id, folder)
    if not differences:
        return None
    if not settings.allow_nonstandard:
        listed = "; ".join(str(difference) for difference in differences)
        problems.append(
            where(
                "backend",
                f"model {backend_id} in {folder} is not the official Wan2.2 layout: {listed}. "
                f"Check it with `wanflow models verify {backend_id}`, or render it as it is with --allow-nonstandard",
            )
        )
        return None
    return describe_layout(folder)


def installed_model(backend_id: str, tiny: bool) -> Path | None:
    """The model's folder, or None when this machine lacks it (a plan problem, said once)."""
    try:
        return model_dir(backend_id, tiny=tiny)
    except UserError:
        return None


def missing_model_message(backend_id: str, tiny: bool) -> str:
    if tiny:
        return f"tiny {backend_id} model missing; run `wanflow models make-tiny`"
    return f"model {backend_id} is not installed; run `wanflow models pull {backend_id}`"
