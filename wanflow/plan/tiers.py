"""What a profile's tier sets on a take beyond the model's official defaults: the turbo tier.

A `lightning` profile (the built-in `turbo`) renders the A14B models as ComfyUI's official
templates run their Lightning branch (`catalog.LIGHTNING`): the lightx2v 4-step LoRA on each
expert, 4 steps, guidance 1 on both experts (no negative pass), Euler, shift 5. The LoRA files
are the ones `wanflow models pull lightx2v` installs; missing, they are a missing model.
"""

from __future__ import annotations

from collections.abc import Callable

from wanflow.backends.quantized import lightning_path
from wanflow.backends.store import models_root
from wanflow.catalog import LIGHTNING, LIGHTNING_BACKENDS, BackendSpec
from wanflow.errors import Problem
from wanflow.film import Lora, ProfileSpec


def tier_settings(
    profile: ProfileSpec,
    spec: BackendSpec,
    shot_loras: tuple[Lora, ...],
    where: Callable[[str, str], Problem],
    problems: list[Problem],
    missing: dict[str, Problem],
) -> dict[str, object]:
    """The TakeSettings fields the tier decides: guidance, shift, sampler, LoRAs (and steps for turbo)."""
    official = dict(
        steps=profile.steps or spec.steps,
        guidance_high=spec.guidance_high,
        guidance_low=spec.guidance_low,
        shift=spec.shift,
        loras=shot_loras,
    )
    if not profile.lightning:
        return official
    if spec.id not in LIGHTNING_BACKENDS:
        problems.append(
            where(
                "backend",
                f"the {profile.name} profile has no {spec.id} tier: no published 4-step distillation LoRA for "
                f"{spec.id} is known; use the draft profile for it, or {' / '.join(LIGHTNING_BACKENDS)}",
            )
        )
        return official
    root = models_root()
    lightning = tuple(
        Lora(lightning_path(root, spec.id, component), LIGHTNING.lora_strength, expert)
        for component, expert in (("transformer", "high"), ("transformer_2", "low"))
    )
    if not all(lora.path.is_file() for lora in lightning):
        # A missing model: the plan stands (its keys without them), a run cannot.
        missing.setdefault(
            "lightx2v",
            where("backend", "the lightx2v 4-step LoRAs are not installed; run `wanflow models pull lightx2v`"),
        )
        lightning = ()
    return dict(
        steps=LIGHTNING.steps,
        guidance_high=LIGHTNING.guidance,
        guidance_low=LIGHTNING.guidance,
        shift=LIGHTNING.shift,
        sampler=LIGHTNING.sampler,
        loras=(*lightning, *shot_loras),
    )
