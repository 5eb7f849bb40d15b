"""The writer subgraph: apply one write at a time, verify it on disk, stop at the first failure."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from phasegraph.graph.state import Failure, RunOptions, State
from phasegraph.nodes.execute import emit, record, run_step
from phasegraph.nodes.plan_view import status, steps_of
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind, SkillResult
from phasegraph.skills.registry import SkillRegistry
from phasegraph.skills.workspace import resolve_in_workspace


def next_write(state: State, registry: SkillRegistry) -> dict[str, Any] | None:
    """The first write step, in plan order, that has not run yet."""
    for step in steps_of(state, registry, SkillKind.WRITE):
        if status(state, step["id"]) == "pending":
            return step
    return None


def targets(step: dict[str, Any], registry: SkillRegistry) -> list[str]:
    skill = registry.get(step["skill"])
    if skill is None:
        return []
    out: list[str] = []
    for name in skill.path_fields():
        value = step.get("args", {}).get(name)
        out += value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return out


def landed(workspace: Path, result: SkillResult) -> str | None:
    """Why the write did not land as reported (``None`` when every file holds what it should)."""
    expected = result.data.get("sha256")
    for rel in result.files_written:
        path = resolve_in_workspace(workspace, rel)
        if not path.is_file():
            return f"{rel} is missing after the write"
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            return f"{rel} does not hold the written content (read-back mismatch)"
    return None


def make_apply_write(registry: SkillRegistry) -> StateNode:
    async def apply_write(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        step = next_write(state, registry)
        if step is None:
            return {}
        theirs = sorted(
            set(targets(step, registry))
            & set(state.get("dirty", [])) - set(state.get("written", []))
        )
        if theirs:
            # The user's own uncommitted work is never overwritten, nor committed by a run.
            message = (
                f"{', '.join(theirs)} has uncommitted changes of yours that this run would "
                "overwrite or commit; commit or stash them first, then run again"
            )
            rec = record(step, "write", "failed", message)
            emit(runtime, rec)
            return {
                "steps": {step["id"]: rec},
                "failure": Failure(step=step["id"], kind="skill", error=message),
            }
        workspace = Path(state["workspace"])
        before = {t for t in targets(step, registry) if (workspace / t).exists()}
        outcome = await run_step(
            step,
            registry=registry,
            workspace=state["workspace"],
            run_id=state["run_id"],
            runtime=runtime,
            check=lambda result: landed(workspace, result),
        )
        update: dict[str, Any] = {"steps": {step["id"]: outcome.record}, "failure": outcome.failure}
        if outcome.result is not None:
            files = outcome.result.files_written
            update["written"] = files
            update["created"] = [
                f for f in files if f not in before and f not in state.get("written", [])
            ]
        return update

    return apply_write


def route_write(state: State, registry: SkillRegistry) -> Literal["apply_write", "__end__"]:
    if state.get("failure") or next_write(state, registry) is None:
        return "__end__"
    return "apply_write"


def build_writer(registry: SkillRegistry) -> CompiledStateGraph[State, RunOptions, State, State]:
    """One ``apply_write`` per superstep, so each write is checkpointed before the next."""
    builder = StateGraph(State, context_schema=RunOptions)
    builder.add_node("apply_write", make_apply_write(registry))
    builder.add_conditional_edges(START, lambda s: route_write(s, registry), ["apply_write", END])
    builder.add_conditional_edges(
        "apply_write", lambda s: route_write(s, registry), ["apply_write", END]
    )
    return builder.compile(name="writer")
