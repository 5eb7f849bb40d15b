"""The consolidate node: turn the reads' findings into the write steps, before any write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.artifacts import get_output
from phasegraph.graph.errors import PlanError
from phasegraph.graph.plan import Plan, Step, check_plan
from phasegraph.graph.state import Failure, RunOptions, State
from phasegraph.nodes.execute import emit
from phasegraph.nodes.plan_view import steps_of
from phasegraph.nodes.planner import pending_rows
from phasegraph.nodes.types import StateNode
from phasegraph.recipes import RECIPES
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry

#: Writes come from the plan itself, a recipe, or (later) an LLM: the same contract for all.
Consolidator = Callable[[Plan, dict[str, dict[str, Any]], Path], Awaitable[list[Step]]]


async def recipe_consolidator(
    plan: Plan, outputs: dict[str, dict[str, Any]], workspace: Path
) -> list[Step]:
    """Writes from the plan's recipe; a plan without a recipe already names its writes."""
    if plan.recipe is None:
        return []
    return RECIPES[plan.recipe.name].consolidate(plan.recipe.args, outputs, workspace)


def with_writes(plan: Plan, writes: list[Step], registry: SkillRegistry) -> Plan:
    """``plan`` with ``writes`` placed after its reads and before its verifies."""

    def order(step: Step) -> int:
        skill = registry.get(step.skill)
        return skill.kind.order if skill else 0

    steps = sorted([*plan.steps, *writes], key=order)  # sorted() is stable: plan order holds
    return plan.model_copy(update={"steps": steps})


def make_consolidate(
    registry: SkillRegistry, consolidator: Consolidator = recipe_consolidator
) -> StateNode:
    async def consolidate(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        plan = Plan.model_validate(state["plan"])
        workspace = Path(state["workspace"])
        outputs: dict[str, dict[str, Any]] = {}
        for step in steps_of(state, registry, SkillKind.READ):
            found = await get_output(runtime.store, state["run_id"], step["id"])
            if found is not None:
                outputs[step["id"]] = found
        try:
            writes = await consolidator(plan, outputs, workspace)
            bad = [
                w.id
                for w in writes
                if (s := registry.get(w.skill)) is None or s.kind is not SkillKind.WRITE
            ]
            if bad:
                raise PlanError(
                    [f"step {b!r}: the consolidator may only add write steps" for b in bad]
                )
            final = check_plan(with_writes(plan, writes, registry), registry, workspace=workspace)
        except PlanError as exc:
            return {"failure": Failure(step=None, kind="consolidate", error=str(exc))}
        new_rows = pending_rows(final.model_copy(update={"steps": writes}), registry)
        for row in new_rows.values():
            emit(runtime, row)
        return {"plan": final.model_dump(mode="json"), "steps": new_rows}

    return consolidate
