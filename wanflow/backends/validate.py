"""Checks on a render request that run before any model loads, so mistakes cost nothing."""

from __future__ import annotations

import json
from pathlib import Path

import PIL.Image

from wanflow.catalog import MAX_FRAMES, backend_spec
from wanflow.errors import Problem, UserError


def frames_for_duration(seconds: float, fps: int) -> int:
    """The valid (4n+1) frame count nearest to `seconds` at `fps`; at least 5."""
    n = max(1, round((seconds * fps - 1) / 4))
    return 4 * n + 1


def size_problem(
    backend_id: str, width: int, height: int, *, tiny: bool = False, allow_custom: bool = False
) -> tuple[str | None, str | None]:
    """(error, warning) for a size: supported sizes pass, multiples pass only when allowed."""
    spec = backend_spec(backend_id)
    supported = ", ".join(f"{w}x{h}" for w, h in spec.sizes)
    if (width, height) in spec.sizes:
        return None, None
    if width <= 0 or height <= 0 or width % spec.size_multiple or height % spec.size_multiple:
        return f"{width}x{height} is not a multiple of {spec.size_multiple} (supported: {supported})", None
    if tiny:
        return None, None
    if not allow_custom:
        return (
            f"{width}x{height} is not a supported size for {spec.id} (supported: {supported}); custom sizes must be allowed explicitly",
            None,
        )
    return None, f"{width}x{height} is not an official {spec.id} size ({supported}); quality may suffer"


def check_size(
    backend_id: str, width: int, height: int, *, tiny: bool = False, allow_custom: bool = False
) -> list[str]:
    """Warnings for an acceptable size; a UserError for one the backend cannot render."""
    error, warning = size_problem(backend_id, width, height, tiny=tiny, allow_custom=allow_custom)
    if error:
        raise UserError(Problem(file="wanflow", line=None, column=None, field="size", message=error))
    return [warning] if warning else []


def frames_problem(frames: int) -> str | None:
    if frames > MAX_FRAMES:
        return (
            f"{frames} frames is more than the {MAX_FRAMES} one generation makes; shorten the shot or split it in two"
        )
    if frames < 1 or (frames - 1) % 4:
        below = max(1, (frames - 1) // 4 * 4 + 1)
        return f"{frames} frames is not 4n+1 (try {below} or {below + 4})"
    return None


def positions_problem(model_dir: Path, width: int, height: int, frames: int) -> str | None:
    """Why the model cannot place this request's latent positions, or None.

    The transformer's rotary embedding is a table of `rope_max_seq_len` positions per axis
    (1024 in the official models, 32 in the tiny ones): a clip longer or larger than that
    fails inside the model, so the plan refuses it. Read from the folder's configs, no torch.
    """
    try:
        transformer = json.loads((model_dir / "transformer" / "config.json").read_text(encoding="utf-8"))
        vae = json.loads((model_dir / "vae" / "config.json").read_text(encoding="utf-8"))
        limit = int(transformer.get("rope_max_seq_len", 1024))
        patch_t, patch_h, patch_w = (int(n) for n in transformer.get("patch_size", (1, 2, 2)))
        stride_t, stride_s = int(vae.get("scale_factor_temporal", 4)), int(vae.get("scale_factor_spatial", 8))
    except (OSError, ValueError, TypeError):
        return None  # an unreadable folder is the layout check's to report
    used = ((frames - 1) // stride_t + 1) // patch_t, height // stride_s // patch_h, width // stride_s // patch_w
    if max(used) <= limit:
        return None
    most_frames = (limit * patch_t - 1) * stride_t + 1
    most_side = limit * stride_s * min(patch_h, patch_w)
    return (
        f"{frames} frames of {width}x{height} are more positions than this model's rotary embedding holds "
        f"({limit} per axis): at most {most_frames} frames and {most_side} pixels a side"
    )


def image_problem(path: Path | None, *, needed: bool, accepted: bool, backend_id: str) -> str | None:
    if path is None:
        return f"{backend_id} needs a start image" if needed else None
    if not accepted:
        return f"{backend_id} does not take a start image"
    if not path.is_file():
        return f"image not found: {path}"
    try:
        with PIL.Image.open(path) as image:
            image.verify()
    except (OSError, SyntaxError) as error:
        return f"image {path} cannot be read: {error}"
    return None


def check_request(
    backend_id: str,
    *,
    width: int,
    height: int,
    frames: int,
    image: Path | None = None,
    image_from_previous_shot: bool = False,
    tiny: bool = False,
    allow_custom_size: bool = False,
    file: str = "wanflow",
    line: int | None = None,
    model_dir: Path | None = None,
) -> list[str]:
    """Every problem of one render request in one UserError; otherwise its warnings.

    `image_from_previous_shot`: the start frame comes from a continuity edge and does not exist yet.
    `model_dir`: the installed model, whose configs bound the frames and size it can place.
    """
    spec = backend_spec(backend_id)
    problems: list[Problem] = []
    warnings: list[str] = []

    def add(field: str, message: str | None) -> None:
        if message:
            problems.append(Problem(file=file, line=line, column=None, field=field, message=message))

    size_error, size_warning = size_problem(backend_id, width, height, tiny=tiny, allow_custom=allow_custom_size)
    add("size", size_error)
    if size_warning:
        warnings.append(size_warning)
    add("frames", frames_problem(frames))
    if model_dir is not None and not problems:
        add("frames", positions_problem(model_dir, width, height, frames))
    if not image_from_previous_shot:
        add("image", image_problem(image, needed=spec.needs_image, accepted=spec.accepts_image, backend_id=spec.id))
    elif not spec.accepts_image:
        add("image", f"{spec.id} does not take a start image")
    if problems:
        raise UserError(problems)
    return warnings
