"""The consolidate node: the write steps kept as they will run, and the baselines still to take.

Before any write: the consolidation (:mod:`phasegraph.nodes.consolidation`) runs here when the
read node has not run it, with the baselines not yet taken beside it; then the final plan's
writes are kept in the run store as they will run, and the baselines that waited for them
(targeted checks, the verify steps the consolidation added) are taken.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.state import State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.preflight.dry_run import resolved_writes
from phasegraph.graph.steps.eager import Job, merged, run_jobs
from phasegraph.graph.steps.runner import StepRunner
from phasegraph.nodes.reads import baseline_jobs
from phasegraph.skills.base import SkillKind


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
