"""Eager jobs inside one node: each a LangGraph task, started the moment its own
dependencies finish, each durable on its own.

LangGraph supersteps are barriers: a level-by-level schedule of an uneven DAG waits for
the slowest step of every level. Here every job of a node is called at once, as a
functional-API ``task``, in one fixed order (so a resumed run replays each finished
job's checkpointed result, matched by that order, and re-runs only the unfinished
ones); a job's body waits for its own dependencies, then for a free slot of the
node's concurrency bound. The first failure stops the dispatch: jobs still waiting
never start, jobs already running end (each bounded by its own timeout).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, get_origin, get_type_hints

from langgraph.func import task

from phasegraph.graph.model.state import State, merge_dicts

#: A job's result is a partial state update (``steps``, ``failure``, ...), or ``None``
#: for a job that never started because an earlier one failed.
Update = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """One unit of a node's work: ``run`` once every job named in ``after`` has ended."""

    name: str
    run: Callable[[], Awaitable[Update]]
    after: Sequence[str] = ()
    #: Whether the job takes one of the node's slots (a model call waiting on the network
    #: does not compete with the checks for the machine).
    bounded: bool = True


@dataclass
class _Dispatch:
    ended: dict[str, asyncio.Event]
    slots: asyncio.Semaphore
    stopped: bool = False
    results: dict[str, Update | None] = field(default_factory=dict)


def _in_order(jobs: Sequence[Job]) -> list[Job]:
    """``jobs`` with every job after its dependencies, otherwise in the given order (a
    dependency cycle, which plans are checked for first, keeps the given order)."""
    names = {job.name for job in jobs}
    placed: dict[str, Job] = {}
    waiting = list(jobs)
    while waiting:
        ready = [j for j in waiting if all(d in placed or d not in names for d in j.after)]
        for job in ready or waiting:  # no job ready: a cycle, left as given
            placed[job.name] = job
        waiting = [j for j in waiting if j.name not in placed]
    return list(placed.values())


async def run_jobs(
    jobs: Sequence[Job], concurrency: int, *, stop_on_failure: bool = True
) -> list[Update]:
    """Run ``jobs`` eagerly, at most ``concurrency`` bounded ones at once; their updates,
    in the order the jobs ended (the first failure first). With ``stop_on_failure``
    false, a failure does not stop the jobs still waiting (independent checks)."""
    ordered = _in_order(jobs)
    names = {job.name for job in ordered}
    dispatch = _Dispatch(
        {job.name: asyncio.Event() for job in ordered}, asyncio.Semaphore(max(1, concurrency))
    )
    ended_order: list[str] = []

    def as_task(job: Job) -> Any:
        async def body() -> Update | None:
            for dep in job.after:
                if dep in names:
                    await dispatch.ended[dep].wait()
            if dispatch.stopped:
                return None
            if not job.bounded:
                return await job.run()
            async with dispatch.slots:
                return None if dispatch.stopped else await job.run()

        # The name keys the task's checkpointed result, together with its call order.
        # (``task(name=...)`` returns a decorator generic in types mypy cannot solve.)
        decorate: Any = task(name=job.name)
        return decorate(body)

    futures = [(job, as_task(job)()) for job in ordered]  # called in one fixed order

    async def watch(job: Job, future: Any) -> None:
        result: Update | None = await future
        dispatch.results[job.name] = result
        ended_order.append(job.name)
        if stop_on_failure and result is not None and result.get("failure"):
            dispatch.stopped = True
        dispatch.ended[job.name].set()

    await asyncio.gather(*(watch(job, future) for job, future in futures))
    return [r for name in ended_order if (r := dispatch.results[name]) is not None]


def _reducers() -> dict[str, Callable[[Any, Any], Any]]:
    """How each key of the graph state merges (its ``Annotated`` reducer), the one definition;
    and the keys the verify node passes between its waves of tasks."""
    hints = get_type_hints(State, include_extras=True)
    found = {
        key: hint.__metadata__[0]
        for key, hint in hints.items()
        if get_origin(hint) is Annotated and inspect.isfunction(hint.__metadata__[0])
    }
    return {**found, "after": merge_dicts, "before": merge_dicts}


_REDUCERS = _reducers()


def merged(updates: Sequence[Update]) -> Update:
    """One state update from many, merged as the graph state merges them (its reducers:
    rows and baselines by id, written files without repeats, the first failure kept)."""
    out: Update = {}
    for update in updates:
        for key, value in update.items():
            reduce = _REDUCERS.get(key)
            out[key] = reduce(out[key], value) if reduce and key in out else value
    return out
