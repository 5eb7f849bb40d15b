"""The planner node: turn the given plan (or recipe) into a validated, preflighted todo list."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.errors import PlanError, PreflightError
from phasegraph.graph.plan import Plan, check_plan, parse_plan
from phasegraph.graph.preflight import preflight
from phasegraph.graph.recipes import expand_recipe
from phasegraph.graph.state import Failure, RunOptions, State
from phasegraph.nodes.execute import emit, options, record
from phasegraph.nodes.types import StateNode
from phasegraph.skills.registry import SkillRegistry


def pending_rows(plan: Plan, registry: SkillRegistry) -> dict[str, Any]:
    rows = {}
    for step in plan.steps:
        skill = registry.get(step.skill)
        rows[step.id] = record(step.model_dump(), skill.kind.value if skill else "?", "pending")
    return rows


def make_planner(registry: SkillRegistry) -> StateNode:
    """A planner node that accepts a given plan or a built-in recipe.

    Any planner (the LLM one too) keeps this contract: it returns ``plan`` (the
    validated plan as a mapping), ``steps`` (a pending row per step), ``run_id``,
    ``head`` and ``dirty`` — or a ``failure`` of kind "input" or "preflight".
    """

    async def planner(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        run_id = state.get("run_id") or uuid.uuid4().hex
        if "plan" not in state:
            return {
                "run_id": run_id,
                "failure": Failure(
                    step=None,
                    kind="input",
                    error="no plan given: pass a plan mapping (goal + steps, or a recipe)",
                ),
            }
        workspace = state.get("workspace", "")
        try:
            plan = expand_recipe(parse_plan(state["plan"]))
            found = preflight(plan, registry, workspace)
            check_plan(plan, registry, workspace=found.workspace)
        except PlanError as exc:
            return {"run_id": run_id, "failure": Failure(step=None, kind="input", error=str(exc))}
        except PreflightError as exc:
            return {
                "run_id": run_id,
                "failure": Failure(step=None, kind="preflight", error=str(exc)),
            }
        rows = pending_rows(plan, registry)
        for row in rows.values():
            emit(runtime, row)
        return {
            "run_id": run_id,
            "strict": options(runtime).strict,
            "workspace": str(found.workspace),
            "plan": plan.model_dump(mode="json"),
            "steps": rows,
            "head": found.head,
            "dirty": found.dirty,
            "stash": found.stash,
        }

    return planner
