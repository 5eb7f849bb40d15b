"""Running a plan to its report, streaming step events to a callback."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from phasegraph.graph.builder import Orchestrator
from phasegraph.graph.plan import Plan
from phasegraph.graph.report import Report
from phasegraph.graph.state import RunOptions

EventHandler = Callable[[dict[str, Any]], None]


async def run_plan(
    graph: Orchestrator,
    plan: Plan | dict[str, Any],
    workspace: str | Path,
    *,
    options: RunOptions | None = None,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
) -> Report:
    """Run ``plan`` on ``workspace`` to the end and return its report.

    Every step event (see ``stream_mode="custom"``) goes to ``on_event`` as it
    happens, including those of the writer subgraph.
    """
    payload = plan.model_dump(mode="json") if isinstance(plan, Plan) else dict(plan)
    config: RunnableConfig = {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}}
    final: dict[str, Any] = {}
    # "sync": each step's result is durable before the next step starts (LangGraph raises
    # when durability is given without a checkpointer, so it is given only with one).
    durable: dict[str, Any] = {"durability": "sync"} if graph.checkpointer else {}
    async for _namespace, mode, chunk in graph.astream(
        {"plan": payload, "workspace": str(workspace)},
        config,
        context=options or RunOptions(),
        stream_mode=["custom", "values"],
        subgraphs=True,
        **durable,
    ):
        if mode == "custom" and on_event is not None and isinstance(chunk, dict):
            on_event(chunk)
        elif mode == "values" and not _namespace and isinstance(chunk, dict):
            final = chunk
    return Report.model_validate(final["report"])
