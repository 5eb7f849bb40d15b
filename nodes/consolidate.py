"""The consolidate node: turn the reads' findings into the write steps, before any write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import Plan, Step, check_plan, with_writes
from phasegraph.graph.model.state import Failure, State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.preflight.checks import added_checks_problem
from phasegraph.graph.preflight.dry_run import dry_run_writes, resolved_writes
from phasegraph.graph.steps.eager import Job, merged, run_jobs
from phasegraph.graph.steps.runner import StepRunner, emit, options
from phasegraph.nodes.planner import pending_rows
from phasegraph.nodes.reads import baseline_jobs
from phasegraph.prompts.chat_models import model_for
from phasegraph.prompts.llm_consolidate import ADDABLE, writes_from_findings
from phasegraph.recipes import RECIPES, Writes
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PlanError, PreflightError
from phasegraph.skills.python.pyenv import PythonEnv
from phasegraph.skills.registry import SkillRegistry

#: Writes come from the plan itself, a recipe, or an LLM: the same contract for all. A
#: consolidator returns the steps to add: writes, and any verify or commit steps still missing.
Consolidator = Callable[[Plan, dict[str, dict[str, Any]], Path], Awaitable[list[Step]]]


async def recipe_consolidator(
    plan: Plan, outputs: dict[str, dict[str, Any]], workspace: Path
) -> list[Step]:
    """Writes from the plan's recipe; the plan's own writes (with or without a recipe) are
    in it already."""
    if plan.recipe is None:
        return []
    recipe = RECIPES[plan.recipe.name]
    # It reads the files it edits: a worker thread, never a blocking call on the event loop.
    return await asyncio.to_thread(recipe.consolidate, plan.recipe.args, outputs, workspace)


def final_plan(
    plan: Plan, added: list[Step], registry: SkillRegistry, workspace: Path, dirty: list[str]
) -> Plan:
    """``plan`` with ``added``, validated, and its writes tried in memory (a bad one stops the
    run before any lands); raises :class:`PlanError`."""
    final = check_plan(with_writes(plan, added, registry), registry, workspace=workspace)
    problems = dry_run_writes(final, registry, workspace, dirty)
    if added and problems:
        raise PlanError(problems)
    return final


def make_consolidate(
    runner: StepRunner,
    consolidator: Consolidator = recipe_consolidator,
    model: BaseChatModel | None = None,
    *,
    served: bool = False,
) -> StateNode:
    """The consolidate node: after the reads, add the steps that do the work.

    With ``model`` (or a model the run's context names), a plan that has reads and no
    recipe gets its steps from the model (one call, repaired until valid); otherwise
    ``consolidator`` gives them.
    Added verify steps without a baseline get one before the first write.
    """

    async def consolidate(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
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
            bad = [
                w.id for w in added if (s := registry.get(w.skill)) is None or s.kind not in ADDABLE
            ]
            if bad:
                raise PlanError(
                    [
                        f"step {b!r}: a consolidator adds write, verify and commit steps only"
                        for b in bad
                    ]
                )
            final = await asyncio.to_thread(
                final_plan, plan, added, registry, workspace, state.get("dirty", [])
            )
            had = {step.skill for step in plan.steps}
            problem = await asyncio.to_thread(
                added_checks_problem,
                final,
                [step.skill for step in added if step.skill not in had],
                registry,
                workspace,
                PythonEnv.from_dict(state.get("environment")).python,
            )
            if problem:
                return {"failure": Failure(step=None, kind="preflight", error=problem), **usage}
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

    return consolidate


def make_consolidate_phase(runner: StepRunner, core: StateNode, concurrency: int) -> StateNode:
    """The consolidate node: ``core`` (the consolidation, durable as a task of its own), with
    every baseline not yet taken beside it, unless the read node already consolidated (it
    does as soon as its last read ends); then the baselines of the verify steps the
    consolidation added and of targeted checks; each ends before the node does, so before
    the first write.
    """

    async def consolidate(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        async def consolidation() -> dict[str, Any]:
            return await core(state, runtime=runtime)

        update: dict[str, Any] = {}
        if not state.get("consolidated"):
            beside = baseline_jobs(runner, state, runtime, writes_known=False)
            jobs = [Job("consolidate", consolidation, bounded=False), *beside]
            update = merged(await run_jobs(jobs, concurrency))
            if update.get("failure") or "plan" not in update:
                return update
        taken = {**state.get("baseline", {}), **update.get("baseline", {})}
        final: State = {**state, **update, "baseline": taken}  # type: ignore[typeddict-item]
        # The writes are known now, kept as they will run (a format step naming no files
        # names those of the earlier writes), for the checks that need them before the writes
        # (a targeted selection, a listing); the writer keeps them again from the state's plan.
        records = runner.records(runtime, state["run_id"])
        writes = steps_of(final, runner.registry, SkillKind.WRITE)
        resolved = await asyncio.to_thread(
            resolved_writes, writes, runner.registry, Path(state["workspace"])
        )
        await records.put_write_steps(resolved)
        # The baselines still missing: targeted checks, and verify steps the consolidation added.
        more = baseline_jobs(runner, final, runtime, writes_known=True)
        return merged([update, *await run_jobs(more, concurrency)]) if more else update

    return consolidate
