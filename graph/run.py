"""Running a plan to its report, streaming step events, answering approval pauses.

Every run driven here holds the lock of the workspace it works in (a resumed run: the one
its state names) from start to end, and a resumed run first checks the disk against its
write journal: a refusal is a stopped report and leaves the run resumable once fixed.

A fault of the machine the run stands on (a full disk, a database gone away) ends in a
stopped report too (:mod:`phasegraph.graph.durable.faults`). At the end of every run, the
workspace's ``.phasegraph/`` is made owner-only again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config
from langgraph.types import Command

from phasegraph.graph.builder import Orchestrator
from phasegraph.graph.durable.faults import Seen, fault_of, fault_report
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.events import EventHandler
from phasegraph.graph.model.plan import Plan
from phasegraph.graph.model.report import Report, build_report, to_dict
from phasegraph.graph.model.run_store import RunStore
from phasegraph.graph.model.state import Failure, InputState
from phasegraph.nodes.planner import resume_problem
from phasegraph.skills.core.errors import RunPaused
from phasegraph.skills.guards.workspace import seal_state_dir

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
    payload = plan.model_dump(mode="json") if isinstance(plan, Plan) else _given(plan)
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


async def run_remote(
    graph: Orchestrator,
    plan: Plan | dict[str, Any],
    *,
    repo: str,
    push: str,
    ref: str = "HEAD",
    options: RunOptions | None = None,
    thread_id: str | None = None,
    on_event: EventHandler | None = None,
    on_interrupt: InterruptHandler | None = None,
) -> Report:
    """Like :func:`run_plan`, on a fresh clone of ``repo`` at ``ref``: the run's commit is
    pushed to the new branch ``push`` and the clone removed (``report.remote`` says what was
    pushed). The remotes that may be cloned, where clones go and the prepare step are the
    environment's (``PHASEGRAPH_REMOTES``, ``PHASEGRAPH_WORK_DIR``, ``PHASEGRAPH_PREPARE``);
    credentials come from git's own (credential helpers, the SSH agent), never from ``repo``.
    """
    payload = plan.model_dump(mode="json") if isinstance(plan, Plan) else _given(plan)
    inputs = InputState(plan=payload, repo=repo, ref=ref, push=push)
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
    """Stream ``inputs`` through ``graph`` to the end, answering each pause via ``on_interrupt``.

    Holds the workspace lock throughout (:class:`WorkspaceBusy` if another run has it).
    """
    thread = str(config["configurable"]["thread_id"])
    stored: dict[str, Any] = {}
    if not isinstance(inputs, dict) and graph.checkpointer:  # a resume: the state says where
        snapshot = await graph.aget_state(config)
        stored = dict(snapshot.values) if snapshot.next else {}
        where = str(snapshot.values.get("workspace", ""))
    else:
        where = str(inputs.get("workspace", "")) if isinstance(inputs, dict) else ""
    config = {**config, "recursion_limit": recursion_limit(inputs, stored)}
    workspace = await asyncio.to_thread(_existing, where)
    # No workspace yet, or none there: nothing to lock, and the planner reports it.
    held = hold_workspace(workspace, thread) if workspace else contextlib.nullcontext()
    async with held:
        try:
            if stored and workspace:
                refused = await _resume_refused(graph, stored, workspace, thread)
                if refused is not None:
                    return refused
            seen = Seen(values=stored or (dict(inputs) if isinstance(inputs, dict) else {}))
            return await _stream(graph, inputs, config, options, on_event, on_interrupt, seen)
        finally:
            if workspace is not None:  # what the run's checks left there, owner-only too
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(seal_state_dir, workspace)


#: The graph's steps for a run whose plan is not known yet (a request): ample for any plan of
#: up to a few hundred reads; the writes do not count (the writer sets its own limit).
REQUEST_LIMIT = 1000


def recursion_limit(inputs: InputState | Command[Any] | None, stored: dict[str, Any]) -> int:
    """The run's recursion limit, from its plan's size (reads run in waves of two steps),
    never below the caller's (an agent's limit, which reaches its tools' runs too)."""
    plan = inputs.get("plan") if isinstance(inputs, dict) else stored.get("plan")
    steps = plan.get("steps") if isinstance(plan, dict) else None
    needed = 2 * len(steps) + 20 if isinstance(steps, list) else REQUEST_LIMIT
    caller = (var_child_runnable_config.get() or {}).get("recursion_limit")
    return max(needed, caller if isinstance(caller, int) else 0)


def _given(plan: object) -> Any:
    """A plan mapping copied; anything else as it is, for the planner to refuse (an input
    error in the report, never an exception here)."""
    return dict(plan) if isinstance(plan, Mapping) else plan


def _existing(where: str) -> Path | None:
    # A NUL byte is no path (expanduser raises on it): the planner reports the input error.
    path = Path(where).expanduser() if where.strip() and "\x00" not in where else None
    return path.resolve() if path is not None and path.is_dir() else None


async def _resume_refused(
    graph: Orchestrator, values: dict[str, Any], workspace: Path, thread: str
) -> Report | None:
    """The stopped report of a resume the disk refuses (``None``: it may go on). Nothing is
    recorded in the run, so it resumes once the file is put right."""
    if graph.store is None or not values.get("run_id"):
        return None
    progress = await RunStore(graph.store, str(values["run_id"])).progress()
    if progress is None:
        return None  # no write began: the writer checks the disk before its first one
    then = f"resume the run (phasegraph resume {thread})"
    problem = await asyncio.to_thread(resume_problem, workspace, progress, then)
    if problem is None:
        return None
    failure = Failure(step=None, kind="preflight", error=f"not resumed: {problem}")
    report = to_dict(build_report({**values, "failure": failure}, "stopped"))  # type: ignore[typeddict-item]
    return Report.model_validate({**report, "thread": thread})


async def _stream(
    graph: Orchestrator,
    inputs: InputState | Command[Any] | None,
    config: RunnableConfig,
    options: RunOptions | None,
    on_event: EventHandler | None,
    on_interrupt: InterruptHandler | None,
    seen: Seen,
) -> Report:
    # "sync": each step's result is durable before the next step starts (LangGraph raises
    # when durability is given without a checkpointer, so it is given only with one).
    durable: dict[str, Any] = {"durability": "sync"} if graph.checkpointer else {}
    thread = str(config["configurable"]["thread_id"])
    while True:
        final: dict[str, Any] = {}
        handling = False  # what the caller's handler raises (a closed pipe) is its own
        try:
            async for namespace, mode, chunk in graph.astream(
                inputs,
                config,
                context=options or RunOptions(),
                stream_mode=["custom", "values"],
                subgraphs=True,
                **durable,
            ):
                if mode == "custom" and isinstance(chunk, dict):
                    seen.event(chunk)
                    if on_event is not None:
                        handling = True
                        on_event(chunk)
                        handling = False
                elif mode == "values" and not namespace and isinstance(chunk, dict):
                    final = seen.values = chunk
                elif mode == "values" and isinstance(chunk, dict):
                    seen.inner(namespace, chunk)
        except Exception as exc:
            fault = None if handling else fault_of(exc)
            if fault is None:
                raise
            kept = graph.checkpointer is not None
            return await asyncio.to_thread(fault_report, seen, thread, *fault, durable=kept)
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
