"""The consolidation: the steps the reads' findings call for, added to the plan and accepted
before any write.

It is a job, not a node of its own: the read node starts it the moment its last read ends
(:func:`~phasegraph.nodes.reads.make_reads`), so a baseline slower than the reads runs beside
it; the consolidate node runs it when the read node has not
(:func:`~phasegraph.nodes.consolidate.make_consolidate_phase`). Writes come from the plan's
recipe, a consolidator given to the graph, or a model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import Plan, Step, with_writes
from phasegraph.graph.model.state import Failure, State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.preflight.acceptance import WritesTried, accept_plan, not_addable
from phasegraph.graph.steps.runner import StepRunner, emit, options
from phasegraph.nodes.planner import pending_rows
from phasegraph.prompts.chat_models import model_for
from phasegraph.prompts.llm_consolidate import writes_from_findings
from phasegraph.recipes.base import Writes
from phasegraph.recipes.registry import RECIPES, RecipeRegistry
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError, PreflightError
from phasegraph.skills.python.env.python_env import PythonEnv

#: Writes come from the plan itself, a recipe, or an LLM: the same contract for all. A
#: consolidator returns the steps to add: writes, and any verify or commit steps still missing.
Consolidator = Callable[[Plan, dict[str, dict[str, Any]], Path], Awaitable[list[Step]]]


def recipe_consolidator(recipes: RecipeRegistry | None = None) -> Consolidator:
    """The consolidator that writes what the plan's recipe writes, its recipe looked up in
    ``recipes`` (``None``: the process-wide registry); the plan's own writes (with or without
    a recipe) are in it already."""
    known = recipes if recipes is not None else RECIPES

    async def consolidate(
        plan: Plan, outputs: dict[str, dict[str, Any]], workspace: Path
    ) -> list[Step]:
        if plan.recipe is None:
            return []
        recipe = known[plan.recipe.name]
        # It reads the files it edits: a worker thread, never a blocking call on the loop.
        return await asyncio.to_thread(recipe.consolidate, plan.recipe.args, outputs, workspace)

    return consolidate


def make_consolidation(
    runner: StepRunner,
    consolidator: Consolidator,
    model: BaseChatModel | None = None,
    *,
    served: bool = False,
) -> StateNode:
    """The consolidation: after the reads, add the steps that do the work, and accept the
    final plan (:func:`~phasegraph.graph.preflight.acceptance.accept_plan`: validated, the
    added writes tried in memory, the added checks' interpreter needs).

    With ``model`` (or a model the run's context names), a plan that has reads and no
    recipe gets its steps from the model (one call, repaired until valid); otherwise
    ``consolidator`` gives them. The consolidate node then takes a baseline for each verify
    step added, before the first write.
    """

    async def consolidation(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        plan = Plan.model_validate(state["plan"])
        workspace = Path(state["workspace"])
        outputs: dict[str, dict[str, Any]] = {}
        registry = runner.registry
        records = runner.records(runtime, state["run_id"])
        reads = steps_of(state, registry, SkillKind.READ)
        for step in reads:
            found = await records.output(step["id"])
            if found is not None:
                outputs[step["id"]] = found
        usage: dict[str, Any] = {}
        try:
            chosen = None
            if plan.recipe is None and reads:  # building it may import a package: a thread
                chosen = await asyncio.to_thread(model_for, model, options(runtime), served=served)
            if chosen is not None:
                made = await writes_from_findings(
                    chosen,
                    registry,
                    plan,
                    outputs,
                    workspace,
                    state.get("request"),
                    options(runtime),
                    earlier=state.get("usage", {}),
                )
                usage = {"usage": {"consolidate": made.usage}}
                if made.failure is not None:
                    return {"failure": made.failure, **usage}
                added = made.steps
            else:
                added = await consolidator(plan, outputs, workspace)
            bad = not_addable(added, registry)
            if bad:
                raise PlanError(bad)
            final = with_writes(plan, added, registry)
            python = PythonEnv.from_dict(state.get("environment")).python
            ready = WritesTried(added, state.get("dirty", []), python)
            try:  # a check it added that the project's interpreter cannot run
                await asyncio.to_thread(accept_plan, final, registry, workspace, ready)
            except PreflightError as exc:
                return {"failure": Failure(step=None, kind="preflight", error=str(exc)), **usage}
        except PlanError as exc:
            return {"failure": Failure(step=None, kind="consolidate", error=str(exc)), **usage}
        except PreflightError as exc:  # the run's context names no usable model
            return {"failure": Failure(step=None, kind="input", error=str(exc))}
        new_rows = pending_rows(final.model_copy(update={"steps": added}), registry)
        for row in new_rows.values():
            emit(runtime, row)
        return {
            "plan": final.model_dump(mode="json"),
            "steps": new_rows,
            "consolidated": True,
            "notes": added.notes if isinstance(added, Writes) else [],
            **usage,
        }

    return consolidation
