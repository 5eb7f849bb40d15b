"""The event vocabulary every emitter and consumer shares: the CLI, notebooks, server clients.

A run streams its events as LangGraph custom stream chunks (``stream_mode="custom"``,
``subgraphs=True`` for the writer's): a ``step`` event at every todo-row change, then one
``run`` event with the final report. ``phasegraph run --json`` prints the same events, one
per line, between a ``run`` line naming the thread (before anything runs) and a ``report``
line; an ``approval`` line when a run asks for approval.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from typing_extensions import TypedDict

from phasegraph.graph.model.state import StepRecord


class StepEvent(StepRecord):
    """A todo row changed: a step (or a verify's baseline, id ``baseline:<id>``, phase
    ``baseline``) moved; the row itself, stamped."""

    event: Literal["step"]
    ts: float


class RunEnded(TypedDict):
    """The run is over: its final report (see :class:`phasegraph.Report`)."""

    event: Literal["run"]
    ts: float
    status: Literal["completed", "stopped"]
    report: dict[str, Any]


class RunStarted(TypedDict):
    """``phasegraph run --json``'s first line, printed before anything runs."""

    event: Literal["run"]
    thread: str
    workspace: str
    python: str
    """The interpreter the checks run with."""
    source: str
    """How it was found (see :data:`phasegraph.skills.python.pyenv.SOURCES`)."""


class ApprovalAsked(TypedDict):
    """A paused run asks to approve its writes (``--json --approve``)."""

    event: Literal["approval"]
    request: dict[str, Any]


#: Any event a run streams or the CLI prints.
Event = StepEvent | RunEnded | RunStarted | ApprovalAsked
#: Who receives events (``on_event=`` of ``run_plan``; the CLI's table or JSON lines).
EventHandler = Callable[[Mapping[str, Any]], None]


def step_event(row: StepRecord) -> StepEvent:
    return StepEvent(event="step", ts=time.time(), **row)


def run_ended(status: Literal["completed", "stopped"], report: dict[str, Any]) -> RunEnded:
    return RunEnded(event="run", ts=time.time(), status=status, report=report)
