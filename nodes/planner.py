"""The planner node: turn the given plan (or recipe) into a validated, preflighted todo list."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from phasegraph.graph.context import RunOptions
from phasegraph.graph.plan import Plan, check_plan, parse_plan
from phasegraph.graph.preflight import preflight
from phasegraph.graph.state import Failure, State
from phasegraph.nodes.execute import emit, options, record
from phasegraph.nodes.llm_planner import plan_from_request
from phasegraph.nodes.types import StateNode
from phasegraph.recipes import expand_recipe
from phasegraph.skills.errors import PlanError, PreflightError
from phasegraph.skills.registry import SkillRegistry


def pending_rows(plan: Plan, registry: SkillRegistry) -> dict[str, Any]:
    rows = {}
    for step in plan.steps:
        skill = registry.get(step.skill)
        rows[step.id] = record(step.model_dump(), skill.kind.value if skill else "?", "pending")
    return rows


def make_planner(registry: SkillRegistry, model: BaseChatModel | None = None) -> StateNode:
    """A planner node that accepts a given plan, a built-in recipe or (with ``model``) a request.

    Any planner (the LLM one too) keeps this contract: it returns ``plan`` (the
    validated plan as a mapping), ``steps`` (a pending row per step), ``run_id``,
    ``head`` and ``dirty`` — or a ``failure`` of kind "input" or "preflight"
    ("model" when the model cannot be reached). A given plan wins over a request.
    """

    async def planner(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        run_id = state.get("run_id") or uuid.uuid4().hex
        workspace = state.get("workspace", "")
        raw_plan: object = state.get("plan")
        usage: dict[str, Any] = {}
        if raw_plan is None and model is not None and state.get("request"):
            try:  # a workspace that is not there costs no model call
                root = preflight(Plan(goal="request"), registry, workspace).workspace
            except PreflightError as exc:
                return {
                    "run_id": run_id,
                    "failure": Failure(step=None, kind="preflight", error=str(exc)),
                }
            drafted = await plan_from_request(
                model, registry, state["request"], root, options(runtime)
            )
            usage = {"usage": {"planner": drafted.usage}}
            if drafted.failure is not None:
                return {"run_id": run_id, "failure": drafted.failure, **usage}
            raw_plan = drafted.plan
        if raw_plan is None:
            hint = "" if model is not None else ", or a request with build_orchestrator(model=...)"
            return {
                "run_id": run_id,
                "failure": Failure(
                    step=None,
                    kind="input",
                    error=f"no plan given: pass a plan mapping (goal + steps, or a recipe){hint}",
                ),
            }
        try:
            plan = expand_recipe(parse_plan(raw_plan))
            found = preflight(plan, registry, workspace, python=options(runtime).python)
            check_plan(plan, registry, workspace=found.workspace)
        except PlanError as exc:
            failure = Failure(step=None, kind="input", error=str(exc))
            return {"run_id": run_id, "failure": failure, **usage}
        except PreflightError as exc:
            failure = Failure(step=None, kind="preflight", error=str(exc))
            return {"run_id": run_id, "failure": failure, **usage}
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
            "environment": found.environment(),
            "tree": found.tree,
            "dirty": found.dirty,
            **usage,
        }

    return planner
