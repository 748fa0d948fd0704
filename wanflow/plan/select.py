"""Which shots a run renders (`--only`) and re-renders (`--force`), with their continuity."""

from __future__ import annotations

from wanflow.errors import Problem, UserError
from wanflow.plan.jobs import RenderPlan


def select_shots(plan: RenderPlan, only: list[str] | None) -> set[str]:
    """`--only` shots plus the shots they continue from (their last frames are needed)."""
    if not only:
        return {job.shot_id for job in plan.jobs}
    _check_ids(plan, only, "--only")
    return plan.upstreams(set(only))


def select_forced(plan: RenderPlan, force: list[str] | None, selected: set[str]) -> set[str]:
    """`--force` shots plus every shot continuing from them (their start frames change)."""
    if not force:
        return set()
    if force == ["all"]:
        return set(selected)
    _check_ids(plan, force, "--force")
    return plan.dependants(set(force)) & selected


def _check_ids(plan: RenderPlan, ids: list[str], option: str) -> None:
    known = {job.shot_id for job in plan.jobs}
    unknown = [shot_id for shot_id in ids if shot_id not in known]
    if unknown:
        raise UserError(
            [
                Problem(str(plan.film.path), None, None, option, f"no shot {shot_id!r} in the film")
                for shot_id in unknown
            ]
        )
