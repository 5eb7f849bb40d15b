"""Running a plan to its report, streaming step events, answering approval pauses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from phasegraph.graph.builder import Orchestrator
from phasegraph.graph.context import RunOptions
from phasegraph.graph.events import EventHandler
from phasegraph.graph.plan import Plan
from phasegraph.graph.report import Report
from phasegraph.graph.state import InputState
from phasegraph.skills.errors import RunPaused

#: Given what a paused run asks (the ``interrupt()`` value), returns the answer to resume with.
InterruptHandler = Callable[[Any], Any]


async def run_plan(
    graph: Orchestrator,
    plan: Plan | dict[str, Any],
    workspace: str | Path,
    *,
    options: RunOptions | None = None,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    on_interrupt: InterruptHandler | None = None,
) -> Report:
    """Run ``plan`` on ``workspace`` to the end and return its report.

    Every step event (``stream_mode="custom"``) goes to ``on_event`` as it
    happens, including those of the writer subgraph. When the run pauses for
    approval, ``on_interrupt`` answers; without one, :class:`RunPaused` is raised
    and the run can be resumed later with :func:`resume_run`.
    """
    payload = plan.model_dump(mode="json") if isinstance(plan, Plan) else dict(plan)
    inputs = InputState(plan=payload, workspace=str(workspace))
    return await drive(graph, inputs, _config(thread_id), options, on_event, on_interrupt)


async def run_request(
    graph: Orchestrator,
    request: str,
    workspace: str | Path,
    *,
    options: RunOptions | None = None,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    on_interrupt: InterruptHandler | None = None,
) -> Report:
    """Like :func:`run_plan`, for a request in plain words: the graph's model plans it.

    ``graph`` comes from ``build_orchestrator(model=...)``; the report's
    ``usage`` counts the model calls and tokens each node spent.
    """
    inputs = InputState(request=request, workspace=str(workspace))
    return await drive(graph, inputs, _config(thread_id), options, on_event, on_interrupt)


async def resume_run(
    graph: Orchestrator,
    thread_id: str,
    *,
    answer: Any = None,
    options: RunOptions | None = None,
    on_event: EventHandler | None = None,
    on_interrupt: InterruptHandler | None = None,
) -> Report:
    """Continue the run on ``thread_id`` from its last checkpoint (after a crash or a pause).

    ``answer`` resumes a run paused for approval; ``None`` just continues.
    """
    inputs: Command[Any] | None = Command(resume=answer) if answer is not None else None
    return await drive(graph, inputs, _config(thread_id), options, on_event, on_interrupt)


async def drive(
    graph: Orchestrator,
    inputs: InputState | Command[Any] | None,
    config: RunnableConfig,
    options: RunOptions | None,
    on_event: EventHandler | None,
    on_interrupt: InterruptHandler | None,
) -> Report:
    """Stream ``inputs`` through ``graph`` to the end, answering each pause via ``on_interrupt``."""
    # "sync": each step's result is durable before the next step starts (LangGraph raises
    # when durability is given without a checkpointer, so it is given only with one).
    durable: dict[str, Any] = {"durability": "sync"} if graph.checkpointer else {}
    while True:
        final: dict[str, Any] = {}
        async for namespace, mode, chunk in graph.astream(
            inputs,
            config,
            context=options or RunOptions(),
            stream_mode=["custom", "values"],
            subgraphs=True,
            **durable,
        ):
            if mode == "custom" and on_event is not None and isinstance(chunk, dict):
                on_event(chunk)
            elif mode == "values" and not namespace and isinstance(chunk, dict):
                final = chunk
        thread = str(config["configurable"]["thread_id"])
        if "report" in final:
            return Report.model_validate({**final["report"], "thread": thread})
        pending = await _interrupts(graph, config)
        if not pending:
            raise RuntimeError("the run ended without a report; this is a phasegraph bug")
        if on_interrupt is None:
            raise RunPaused(thread, pending[0])
        inputs = Command(resume=on_interrupt(pending[0]))


async def _interrupts(graph: Orchestrator, config: RunnableConfig) -> list[Any]:
    if not graph.checkpointer:
        return []
    snapshot = await graph.aget_state(config, subgraphs=True)
    found = [i.value for i in snapshot.interrupts]
    for task in snapshot.tasks:
        if task.state is not None and not isinstance(task.state, dict):
            found += [i.value for i in task.state.interrupts]
    return found


def _config(thread_id: str | None) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id or uuid.uuid4().hex}}
