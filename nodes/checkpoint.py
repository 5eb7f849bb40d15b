"""The checkpoint node: a git commit of exactly the files the run wrote, confirmed."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.state import RunOptions, State
from phasegraph.nodes.execute import run_step
from phasegraph.nodes.plan_view import steps_of
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry


def make_checkpoint(
    registry: SkillRegistry,
) -> StateNode:
    async def checkpoint(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        update: dict[str, Any] = {"steps": {}}
        for step in steps_of(state, registry, SkillKind.COMMIT):
            outcome = await run_step(
                step,
                registry=registry,
                workspace=state["workspace"],
                run_id=state["run_id"],
                runtime=runtime,
                failure_kind="commit",
                run_files=tuple(state.get("written", [])),
            )
            update["steps"][step["id"]] = outcome.record
            if outcome.failure:
                update["failure"] = outcome.failure
                break
            if outcome.result is not None:
                update["commit"] = outcome.result.data.get("sha")
        return update

    return checkpoint


def route_checkpoint(state: State) -> str:
    return "stop_and_report" if state.get("failure") else "report"
