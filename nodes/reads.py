"""The read phase: every ready read fanned out with ``Send``, plus the verify baselines."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from phasegraph.graph.baseline_cache import BaselineCache
from phasegraph.graph.context import RunOptions
from phasegraph.graph.state import Failure, State, StepTask, baseline_key
from phasegraph.nodes.execute import StepRunner, emit, options, record
from phasegraph.nodes.plan_view import ready, steps_of
from phasegraph.nodes.types import TaskNode
from phasegraph.skills.base import SkillKind
from phasegraph.skills.pyenv import PythonEnv
from phasegraph.skills.registry import SkillRegistry


def task(state: State, step: dict[str, Any], baseline: list[str] | None = None) -> StepTask:
    return StepTask(
        workspace=state["workspace"],
        run_id=state["run_id"],
        step=step,
        baseline=baseline or [],
        environment=state.get("environment", {}),
        tree=state.get("tree"),
    )


def read_sends(state: State, registry: SkillRegistry) -> list[Send]:
    """A ``Send`` for every read whose dependencies are done and that has not run."""
    return [Send("read", task(state, step)) for step in ready(state, registry, SkillKind.READ)]


def baseline_sends(state: State, registry: SkillRegistry) -> list[Send]:
    """A ``Send`` for every verify step whose baseline has not been taken."""
    taken = state.get("baseline", {})
    return [
        Send("baseline", task(state, step))
        for step in steps_of(state, registry, SkillKind.VERIFY)
        if step["id"] not in taken
    ]


def make_read(runner: StepRunner) -> TaskNode:
    async def read(state: StepTask, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        outcome = await runner.run(state["step"], state, runtime)
        return {"steps": {state["step"]["id"]: outcome.record}, "failure": outcome.failure}

    return read


def make_baseline(runner: StepRunner) -> TaskNode:
    """Run a verify step on the untouched tree, so the gate can tell new findings from old.

    Its row (phase ``baseline``, id ``baseline:<id>``) is one of its own in the todo list
    and the event stream. A baseline kept from an earlier run on the very same tree, check
    and tools is reused, and its row says so (:mod:`phasegraph.graph.baseline_cache`). A
    check that cannot run here (a suite that does not import, a tool that fails to start)
    would be no check after the writes either: the run stops before any write, as a
    preflight failure.
    """

    async def baseline(state: StepTask, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        task = state
        step = task["step"]
        key = baseline_key(step["id"])
        row_step = {**step, "id": key}  # a row of its own in the todo list and the event stream
        tree = task.get("tree")
        cache = BaselineCache(Path(task["workspace"]), tree) if tree else None
        if cache is not None and options(runtime).baseline_cache:
            env = PythonEnv.from_dict(task.get("environment"))
            kept_key = await asyncio.to_thread(cache.key, step, runner.registry, env)
            kept = await asyncio.to_thread(cache.get, kept_key)
            if kept is not None:
                now = time.time()
                summary = f"reused from an earlier run on this same tree: {kept['summary']}"
                row = record(row_step, "baseline", "done", summary, started_at=now, ended_at=now)
                emit(runtime, row)
                return {"steps": {key: row}, "baseline": {step["id"]: kept["findings"]}}
        else:
            kept_key = None
        outcome = await runner.run(
            row_step,
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
        if cache is not None and kept_key is not None:
            result = outcome.result
            await asyncio.to_thread(cache.put, kept_key, result.findings, result.summary)
        return {"steps": rows, "baseline": {step["id"]: outcome.result.findings}}

    return baseline


async def reads_done(state: State) -> dict[str, Any]:
    """Join point after each wave of reads: the route decides what comes next."""
    return {}
