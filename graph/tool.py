"""An orchestration as a LangChain tool, for a ReAct or supervisor agent to call."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from phasegraph.graph.builder import Orchestrator, build_orchestrator
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.plan import Plan
from phasegraph.graph.model.report import Report
from phasegraph.graph.model.state import InputState
from phasegraph.graph.run import InterruptHandler, drive
from phasegraph.skills.adapters import describe_validation_error, run_sync_coroutine
from phasegraph.skills.core.errors import RunPaused, WorkspaceBusy
from phasegraph.skills.registry import SkillRegistry, default_registry

DESCRIPTION = (
    "Make a change to a git repository the careful way: reads run in parallel, writes one "
    "at a time and checked on disk, then lint, type and test checks; a commit only when "
    "they are green. Give a plan (goal and steps, each naming a skill and its args) or a "
    "request in plain words. Returns the run's report as JSON: status (completed or "
    "stopped), commit, failed_step, error, steps and the commands that undo it."
)


class _Task(BaseModel):
    plan: Plan | None = Field(
        default=None,
        description="What to do: a goal and steps, each naming a skill and its args, or a recipe.",
    )
    request: str | None = Field(
        default=None,
        description="The change wanted, in plain words (needs a graph with an LLM planner).",
    )


class OrchestrationInput(_Task):
    """What an agent gives the tool: a plan or a request, and the repository to work in."""

    workspace: str = Field(description="Path of the repository to work in.")


class PinnedOrchestrationInput(_Task):
    """What an agent gives a tool whose workspace was fixed when it was made."""


def as_tool(
    graph: Orchestrator | None = None,
    *,
    registry: SkillRegistry | None = None,
    workspace: str | Path | None = None,
    name: str = "phasegraph",
    description: str = DESCRIPTION,
    options: RunOptions | None = None,
    on_interrupt: InterruptHandler | None = None,
) -> StructuredTool:
    """The orchestration as a LangChain tool: in a plan or request, out the report.

    Without ``graph``, the tool runs ``build_orchestrator(registry)``. The skills of
    ``registry`` (the built-ins when neither is given) are listed in the tool's
    description, so a model knows what a plan may use.
    ``workspace`` pins the repository (the agent then cannot choose one); without
    it the agent names it in each call. The tool's content is the report as JSON,
    its artifact the :class:`Report`. A run that pauses for an answer (approval)
    is answered by ``on_interrupt``; without one the agent is told it paused. A run
    holds the workspace's lock (the agent is told when another run has it), and its
    recursion limit comes from its plan, not the agent's config that reaches it.

    Example::

        agent = create_agent(model, tools=[as_tool(workspace="/repo")])
    """
    if graph is None and registry is None:
        registry = default_registry()
    orchestrator = graph if graph is not None else build_orchestrator(registry)
    if registry is not None:
        catalogue = "; ".join(
            f"{s.name}({', '.join(s.args_model.model_fields)}) [{s.kind.value}]: {s.description}"
            for s in registry
        )
        description = f"{description}\nSkills a plan may use: {catalogue}"
    pinned = str(workspace) if workspace is not None else None

    async def run(
        plan: Plan | dict[str, Any] | None = None,
        request: str | None = None,
        workspace: str | None = None,
    ) -> tuple[str, Report]:
        where = pinned or workspace
        if not where:
            raise ToolException("give the workspace: the path of the repository to work in")
        if plan is None and not request:
            raise ToolException("give a plan (goal and steps) or a request in plain words")
        inputs = InputState(workspace=where)
        if plan is not None:
            inputs["plan"] = plan.model_dump(mode="json") if isinstance(plan, Plan) else dict(plan)
        if request:
            inputs["request"] = request
        config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
        try:
            report = await drive(orchestrator, inputs, config, options, None, on_interrupt)
        except RunPaused as exc:
            raise ToolException(
                f"the run paused waiting for an answer ({exc.value!r}); it was not finished"
            ) from exc
        except WorkspaceBusy as exc:  # the agent is told, and may try again later
            raise ToolException(f"{exc}; nothing was run") from exc
        return report.model_dump_json(exclude_none=True), report

    def run_sync(
        plan: Plan | dict[str, Any] | None = None,
        request: str | None = None,
        workspace: str | None = None,
    ) -> tuple[str, Report]:
        return run_sync_coroutine(lambda: run(plan, request, workspace))

    return StructuredTool.from_function(
        func=run_sync,
        coroutine=run,
        name=name,
        description=description,
        args_schema=PinnedOrchestrationInput if pinned else OrchestrationInput,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=describe_validation_error,
    )
