"""The final nodes: ``report`` after a completed run, ``stop_and_report`` after any failure."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.events import run_ended
from phasegraph.graph.model.report import build_report, to_dict
from phasegraph.graph.model.state import State, StepRecord
from phasegraph.graph.steps.runner import emit
from phasegraph.skills.run_pytest import ahead as pytest_ahead


async def report(state: State, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    await pytest_ahead.discard(state.get("run_id", ""))  # none is left waiting once the run ends
    final = to_dict(build_report(state, "completed"))
    runtime.stream_writer(run_ended("completed", final))
    return {"report": final}


async def stop_and_report(state: State, runtime: Runtime[RunOptions]) -> dict[str, Any]:
    """Stop the run: every step that has not run is skipped, and the report says why."""
    await pytest_ahead.discard(state.get("run_id", ""))  # an after-run started ahead never runs
    skipped: dict[str, StepRecord] = {}
    for step_id, row in state.get("steps", {}).items():
        if row["status"] == "pending":
            skipped[step_id] = StepRecord(**{**row, "status": "skipped"})
            emit(runtime, skipped[step_id])
    final = to_dict(
        build_report({**state, "steps": {**state.get("steps", {}), **skipped}}, "stopped")
    )
    runtime.stream_writer(run_ended("stopped", final))
    return {"steps": skipped, "report": final}
