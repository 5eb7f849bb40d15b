"""An orchestration as a LangChain tool, for a ReAct or supervisor agent to call.

The tool's contract, for a model: its ``plan`` argument is typed by the skills and recipes
(:mod:`phasegraph.graph.tool_schema`), its description lists them; ``request`` is offered
only where a model can plan one. Every answer is a report as JSON: a bad input (a plan that
is not JSON, no workspace) is a stopped report saying what to send instead, never a trace.
A stopped run's ToolMessage has status ``error`` (the report its content, the
:class:`Report` its artifact), and by default it put the tree back as it was, so the agent
can send a corrected plan at once. Step events reach the agent's stream as they happen.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from phasegraph.graph.builder import Orchestrator, build_orchestrator
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.events import EventHandler
from phasegraph.graph.model.report import Report
from phasegraph.graph.run import InterruptHandler, drive
from phasegraph.graph.tool_input import (
    describe_bad_call,
    stopped_report,
    stream_writer,
    task_inputs,
)
from phasegraph.graph.tool_schema import plan_catalogue, plan_json_schema
from phasegraph.recipes.registry import RecipeRegistry
from phasegraph.skills.adapters import run_sync_coroutine
from phasegraph.skills.core.errors import RunPaused, WorkspaceBusy
from phasegraph.skills.core.text import clip
from phasegraph.skills.registry import SkillRegistry, default_registry

DESCRIPTION = (
    "Make a change to a git repository the careful way: reads run in parallel, writes one "
    "at a time and checked on disk, then lint, type and test checks; a commit only when "
    "they are green. Give a plan: a goal and steps, each naming a skill and its args, or a "
    "recipe. Returns the run's report as JSON: status (completed or stopped), commit, "
    "failed_step, error, new_findings (what the change broke, e.g. the failing tests), "
    "steps, diff, run_id."
)

#: The tool call a report answers, for the ToolMessage a stopped run returns (set by
#: :class:`ReportTool` around each call: a tool function is not told its call's id).
_CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "phasegraph_tool_call_id", default=None
)


class ReportTool(StructuredTool):
    """A tool whose answer is a :class:`Report`: a stopped run's ToolMessage has status
    ``error`` (middleware and agents that look at the status see the failure), its content
    the report, its artifact the :class:`Report`."""

    def run(
        self,
        tool_input: str | dict[str, Any],
        *args: Any,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        token = _CALL_ID.set(tool_call_id)
        try:
            return super().run(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _CALL_ID.reset(token)

    async def arun(
        self,
        tool_input: str | dict[str, Any],
        *args: Any,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        token = _CALL_ID.set(tool_call_id)
        try:
            return await super().arun(tool_input, *args, tool_call_id=tool_call_id, **kwargs)
        finally:
            _CALL_ID.reset(token)


def as_tool(
    graph: Orchestrator | None = None,
    *,
    registry: SkillRegistry | None = None,
    recipes: RecipeRegistry | None = None,
    model: BaseChatModel | None = None,
    requests: bool | None = None,
    workspace: str | Path | None = None,
    name: str = "phasegraph",
    description: str = DESCRIPTION,
    options: RunOptions | None = None,
    on_stop: Literal["keep", "restore"] = "restore",
    on_interrupt: InterruptHandler | None = None,
) -> StructuredTool:
    """The orchestration as a LangChain tool: in a plan (or a request), out the report.

    Without ``graph``, the tool runs ``build_orchestrator(registry, recipes=recipes,
    model=model)``. Its ``plan`` argument is typed by the skills of ``registry`` (the
    built-ins when no graph is given either) and by ``recipes`` (default: the process-wide
    registry), and its description lists both: a model sees each skill's args with their
    types, required fields and defaults (:func:`~phasegraph.graph.tool_schema.plan_json_schema`).
    A plan sent as a JSON string is parsed.

    ``request`` (a change in plain words) is offered only where a model plans it: when the
    tool builds its graph with ``model``, or ``options.model`` names one; for a ``graph``
    built with a model, say ``requests=True``.

    ``on_stop`` is what a stopped run does with the writes that landed: ``restore`` (the
    default: an agent retries, so the tree is put back exactly as it was) or ``keep``
    (for a person to inspect); it wins over ``options.on_stop``. Give the agent
    :func:`~phasegraph.graph.undo_tool.as_undo_tool` too, to undo a completed run by the
    ``run_id`` its report gave.

    ``workspace`` pins the repository (the agent then cannot choose one); without it the
    agent names it in each call. The ToolMessage's content is the report as JSON, its
    artifact the :class:`Report`; a stopped run, or a bad call, has status ``error``. Every
    step event is written to the stream of the LangGraph graph the tool runs in (an agent's
    ``astream(..., stream_mode="custom")``). A run that pauses for an answer (approval) is
    answered by ``on_interrupt``; without one the agent is told it paused. A run holds the
    workspace's lock (the agent is told when another run has it), and its recursion limit
    comes from its plan, not the agent's config that reaches it.

    Example::

        tools = [as_tool(workspace="/repo"), as_undo_tool("/repo")]
        agent = create_agent(model, tools=tools)
    """
    if graph is not None and model is not None:
        raise ValueError(
            "give the model to build_orchestrator(model=...) for a graph you build, and "
            "requests=True here; model= is for a graph the tool builds"
        )
    if graph is None and registry is None:
        registry = default_registry()
    orchestrator = (
        graph if graph is not None else build_orchestrator(registry, recipes=recipes, model=model)
    )
    run_options = replace(options or RunOptions(), on_stop=on_stop)
    offers_requests = (
        requests if requests is not None else model is not None or run_options.model is not None
    )
    skills = registry if registry is not None else SkillRegistry()
    pinned = str(workspace) if workspace is not None else None
    tool_description = _describe(
        description, skills, recipes, offers_requests, listed=registry, on_stop=on_stop
    )

    async def run(
        plan: Any = None, request: Any = None, workspace: Any = None, **extra: Any
    ) -> tuple[Any, Report]:
        call_id, writer = _CALL_ID.get(), stream_writer()
        return _answer(name, call_id, await _run(plan, request, workspace, extra, writer))

    async def _run(
        plan: Any, request: Any, where: Any, extra: dict[str, Any], writer: EventHandler | None
    ) -> Report:
        inputs = task_inputs(plan, request, pinned or where, extra, requests=offers_requests)
        if isinstance(inputs, Report):
            return inputs
        config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
        try:
            return await drive(orchestrator, inputs, config, run_options, writer, on_interrupt)
        except RunPaused as exc:
            return stopped_report(
                f"the run paused waiting for an answer ({clip(repr(exc.value), 300)}) and was "
                "not finished; "
                "this tool cannot answer it (give as_tool an on_interrupt)",
                kind="paused",
                thread=exc.thread_id,
            )
        except WorkspaceBusy as exc:  # the agent is told, and may try again later
            return stopped_report(f"{exc}; nothing was run: try again when it ends", kind="busy")

    def run_sync(
        plan: Any = None, request: Any = None, workspace: Any = None, **extra: Any
    ) -> tuple[Any, Report]:
        call_id, writer = _CALL_ID.get(), stream_writer()  # this thread's: read them here
        report = run_sync_coroutine(lambda: _run(plan, request, workspace, extra, writer))
        return _answer(name, call_id, report)

    return ReportTool.from_function(
        func=run_sync,
        coroutine=run,
        name=name,
        description=tool_description,
        args_schema=_args_schema(
            skills, recipes, requests=offers_requests, pinned=pinned is not None
        ),
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_bad_call,
    )


def _answer(name: str, call_id: str | None, report: Report) -> tuple[Any, Report]:
    """The tool's answer: the report as JSON, and the :class:`Report`; a stopped one, in a
    tool call, as a ToolMessage of status ``error`` that keeps the report as its artifact."""
    content = report.model_dump_json(exclude_defaults=True)
    if report.status == "stopped" and call_id is not None:
        message = ToolMessage(
            content, artifact=report, tool_call_id=call_id, name=name, status="error"
        )
        return message, report
    return content, report


def _describe(
    base: str,
    skills: SkillRegistry,
    recipes: RecipeRegistry | None,
    requests: bool,
    *,
    listed: SkillRegistry | None,
    on_stop: str,
) -> str:
    parts = [base]
    if listed is not None:
        parts.append(plan_catalogue(skills, recipes))
    parts.append(
        'A plan: {"goal": "...", "steps": [{"id": "edit", "skill": "edit_block", "args": '
        '{...}, "after": []}, ...]}, or {"goal": "...", "recipe": {"name": ..., "args": '
        "{...}}}."
    )
    parts.append(
        'A run that stops (status "error") has put the tree back as it was: read its error '
        "and new_findings, fix the plan and call again."
        if on_stop == "restore"
        else 'A run that stops (status "error") leaves its writes in the tree: undo them '
        "(run_id) before another try."
    )
    if requests:
        parts.append("Instead of a plan you may give a request: the change in plain words.")
    return "\n".join(parts)


def _args_schema(
    skills: SkillRegistry, recipes: RecipeRegistry | None, *, requests: bool, pinned: bool
) -> type[BaseModel]:
    """The tool's arguments: typed for the model (JSON schema), taken as they come (every
    value reaches the tool, which answers a bad one with a report saying what to send)."""
    plan_schema = plan_json_schema(skills, recipes)
    plan_schema["description"] = (
        "What to do: a goal and steps (each naming a skill, with that skill's args), a "
        "recipe, or both (a recipe and steps of the plan's own, whose writes run after the "
        "recipe's)."
    )
    fields: dict[str, Any] = {
        "plan": (Annotated[Any, WithJsonSchema(plan_schema)], Field(None)),
    }
    if requests:
        fields["request"] = (
            Annotated[Any, WithJsonSchema({"type": "string"})],
            Field(None, description="The change wanted, in plain words (instead of a plan)."),
        )
    if not pinned:
        fields["workspace"] = (
            Annotated[Any, WithJsonSchema({"type": "string"})],
            Field(description="Path of the repository to work in."),
        )
    model: type[BaseModel] = create_model(
        "PhasegraphRun", __config__=ConfigDict(extra="allow"), **fields
    )
    model.__doc__ = "What an agent gives the tool: a plan, and the repository to work in."
    return model
