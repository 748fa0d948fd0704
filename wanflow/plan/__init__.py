"""Stage 3, the plan: every shot routed to a backend with its size, frames, seed and cache keys.

Pure and cheap (no torch, no side effects): it is what `wanflow plan` prints and what
`wanflow run` executes, so the two always agree on what is cached and what will render.
"""

from wanflow.plan.jobs import TINY_NOTICE, RenderJob, RenderPlan, derived_seed, make_plan, referenced_keys
from wanflow.plan.keys import JobKeys, cut_key
from wanflow.plan.order import drawing_order, generation_order
from wanflow.plan.profiles import available_profiles, resolve_profile
from wanflow.plan.select import select_forced, select_shots
from wanflow.plan.takes import take_name, take_seed

__all__ = [
    "TINY_NOTICE",
    "JobKeys",
    "RenderJob",
    "RenderPlan",
    "available_profiles",
    "cut_key",
    "derived_seed",
    "drawing_order",
    "generation_order",
    "make_plan",
    "referenced_keys",
    "resolve_profile",
    "select_forced",
    "select_shots",
    "take_name",
    "take_seed",
]
