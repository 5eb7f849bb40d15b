"""What an agent sends the orchestration tool, made into a run's input, or the report that
says what to send instead (a model reads it and calls again: never an exception's trace).

Transport only: a plan sent as a JSON string is parsed, the arguments are checked for
shape (a workspace string, a plan or a request); whether a plan may run is the planner's
to say (:mod:`phasegraph.graph.preflight.acceptance`), in the run's report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langgraph.config import get_stream_writer

from phasegraph.graph.model.events import EventHandler
from phasegraph.graph.model.plan import Plan
from phasegraph.graph.model.report import Report
from phasegraph.graph.model.state import InputState
from phasegraph.skills.adapters import describe_validation_error
from phasegraph.skills.core.errors import InputRefused

#: How a plan is sent, for the errors that say so.
PLAN_SHAPE = '{"goal": "...", "steps": [{"id": ..., "skill": ..., "args": {...}}]}'


def stopped_report(
    error: str, *, kind: str = "input", goal: str = "", thread: str | None = None
) -> Report:
    """The stopped report of a call the tool could not run (or finish): ``error`` says what
    to send instead, or what to do; ``kind`` is the report's ``failure_kind``."""
    return Report(status="stopped", goal=goal, failure_kind=kind, error=error, thread=thread)


def describe_bad_call(exc: Exception) -> str:
    """A call whose arguments the tool's schema refused, as a report (JSON) a model can read."""
    error = (
        f"{describe_validation_error(exc)}; send the arguments as an object: "
        f'{{"plan": {PLAN_SHAPE}, "workspace": "/path/to/the/repository"}} '
        "(no workspace where the tool has one)"
    )
    return stopped_report(error).model_dump_json(exclude_defaults=True)


def task_inputs(
    plan: object, request: object, workspace: object, extra: Mapping[str, Any], *, requests: bool
) -> InputState | Report:
    """The run's input from the tool's arguments, or the report of what is wrong with them.

    ``plan`` may be a mapping, a :class:`Plan` or a JSON string of one; anything else goes
    to the planner, which refuses it in the run's report. ``extra`` are arguments the
    tool does not take; ``requests`` says whether it takes a ``request``.
    """
    stray = sorted(extra)
    plan_keys = [key for key in stray if key in Plan.model_fields]
    if plan_keys:
        return stopped_report(
            f"{', '.join(map(repr, plan_keys))} given beside 'plan', not inside it: send the "
            f'plan as one object, {{"plan": {PLAN_SHAPE}}}'
        )
    if stray:
        takes = ", ".join(["plan", *(["request"] if requests else []), "workspace"])
        return stopped_report(
            f"unknown argument(s) {', '.join(map(repr, stray))}: this tool takes {takes}"
        )
    if request is not None and not requests:
        return stopped_report(
            "this tool runs plans, not requests: no model is configured to plan a change "
            f"given in plain words; send a plan, {PLAN_SHAPE}"
        )
    if request is not None and not isinstance(request, str):
        return stopped_report(
            f"request must be the change in plain words (a string), not {_kind(request)}"
        )
    if not isinstance(workspace, str) or not workspace.strip():
        return stopped_report(
            "give the workspace: the path of the repository to work in, as a string"
            + (f" (not {_kind(workspace)})" if workspace is not None else "")
        )
    if isinstance(plan, str):
        parsed = _parsed(plan)
        if isinstance(parsed, Report):
            return parsed
        plan = parsed
    if plan is None and not request:
        also = " or a request (the change in plain words)" if requests else ""
        return stopped_report(f"give a plan, {PLAN_SHAPE} (or a recipe){also}")
    inputs = InputState(workspace=workspace)
    if isinstance(plan, Plan):
        inputs["plan"] = plan.model_dump(mode="json")
    elif isinstance(plan, Mapping):
        inputs["plan"] = dict(plan)
    elif plan is not None:  # the planner refuses it, in the report
        inputs["plan"] = plan  # type: ignore[typeddict-item]
    if request:
        inputs["request"] = request
    return inputs


def stream_writer() -> EventHandler | None:
    """The custom stream of the LangGraph graph the caller runs in (an agent's tool node),
    ``None`` outside one: each of the run's events is written there as it happens."""
    try:
        writer = get_stream_writer()
    except (RuntimeError, KeyError):  # no runnable context, or one that is not a graph's
        return None
    return writer


def parsed_plan(text: str) -> object:
    """A plan sent as a JSON string (small models often do), parsed: twice if it was encoded
    twice; a blank string is no plan (``None``). Raises :class:`InputRefused` saying what to
    send when it is not JSON. The one reading of a client's string plan, for the LangChain
    tool and the MCP server."""
    value: object = text
    for _ in range(2):
        if not isinstance(value, str):
            break
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputRefused(
                f"plan: a string that is not JSON ({exc.msg}, line {exc.lineno} column "
                f"{exc.colno}): send the plan as an object, {PLAN_SHAPE}, or as a JSON "
                "string of one"
            ) from None
    return value


def _parsed(text: str) -> object:
    """:func:`parsed_plan`, its refusal as the stopped report the tool answers with."""
    try:
        return parsed_plan(text)
    except InputRefused as exc:
        return stopped_report(str(exc))


def _kind(value: object) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    names.update({list: "an array", dict: "an object", type(None): "null"})
    return names.get(type(value), type(value).__name__)
