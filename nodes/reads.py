"""The read phase: every ready read fanned out with ``Send``, plus the verify baselines."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from phasegraph.graph.context import RunOptions
from phasegraph.graph.state import Failure, State, StepTask, baseline_key
from phasegraph.nodes.execute import StepRunner
from phasegraph.nodes.plan_view import ready, steps_of
from phasegraph.nodes.types import TaskNode
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry


def task(state: State, step: dict[str, Any], baseline: list[str] | None = None) -> StepTask:
    return StepTask(
        workspace=state["workspace"],
        run_id=state["run_id"],
        step=step,
        baseline=baseline or [],
        environment=state.get("environment", {}),
    )


def dispatch_reads(
    state: State, registry: SkillRegistry, strict: bool
) -> list[Send] | Literal["consolidate"]:
    """Sends for every ready read and every verify baseline not yet taken."""
    sends = [Send("read", task(state, step)) for step in ready(state, registry, SkillKind.READ)]
    if not strict:
        taken = state.get("baseline", {})
        sends += [
            Send("baseline", task(state, step))
            for step in steps_of(state, registry, SkillKind.VERIFY)
            if step["id"] not in taken
        ]
    return sends or "consolidate"


def make_read(runner: StepRunner) -> TaskNode:
    async def read(state: StepTask, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        outcome = await runner.run(state["step"], state, runtime)
        return {"steps": {state["step"]["id"]: outcome.record}, "failure": outcome.failure}

    return read


def make_baseline(runner: StepRunner) -> TaskNode:
    """Run a verify step on the untouched tree, so the gate can tell new findings from old.

    Its row (phase ``baseline``, id ``baseline:<id>``) is one of its own in the todo list
    and the event stream. A check that cannot
    run here (a suite that does not import, a tool that fails to start) would be no check
    after the writes either: the run stops before any write, as a preflight failure.
    """

    async def baseline(state: StepTask, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        task = state
        step = task["step"]
        key = baseline_key(step["id"])
        outcome = await runner.run(
            {**step, "id": key},  # a row of its own in the todo list and the event stream
            task,
            runtime,
            failure_kind="preflight",
            store_output=False,
            phase="baseline",
        )
        rows = {key: outcome.record}
        if outcome.failure is not None or outcome.result is None:
            error = outcome.failure["error"] if outcome.failure else "no result"
            failure = Failure(
                step=step["id"],
                kind="preflight",
                error=f"{step['id']} could not run on the untouched tree (its baseline), so "
                f"the run stopped before any write: {error}",
            )
            return {"steps": rows, "failure": failure}
        return {"steps": rows, "baseline": {step["id"]: outcome.result.findings}}

    return baseline


async def reads_done(state: State) -> dict[str, Any]:
    """Join point after each wave of reads: the route decides what comes next."""
    return {}
