"""The orchestrator as an MCP server (``phasegraph mcp``), on the official ``mcp`` SDK.

Four tools, for MCP clients (Claude Code, Cursor, Codex, any agent): ``run`` a plan or a
recipe in a workspace, ``validate`` one (checked and preflighted, nothing run), ``undo`` a run
by its id and list the ``runs`` a workspace recorded. Each takes a workspace under the folders
the server's owner allows, and a run's options may only tighten the owner's
(:mod:`phasegraph.graph.mcp_access`). A run sends one progress notification per step event,
keeps its checkpoints in the workspace's run database (as ``phasegraph run`` does: ``phasegraph
resume``, ``history`` and ``undo`` find it), and returns its report as structured content and
as JSON text; a stopped run is an error result, the report its content.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from phasegraph.graph.builder import build_orchestrator
from phasegraph.graph.durable.persistence import default_db, open_persistence
from phasegraph.graph.durable.run_index import RunRecord, recorded_runs
from phasegraph.graph.durable.undo import UndoResult, undo_by_run_id
from phasegraph.graph.mcp_access import Owner
from phasegraph.graph.model.plan import parse_plan
from phasegraph.graph.model.report import Interpreter, Report
from phasegraph.graph.preflight.acceptance import accept_given_plan
from phasegraph.graph.run import run_plan
from phasegraph.graph.tool_input import parsed_plan, stopped_report
from phasegraph.graph.tool_schema import plan_catalogue, plan_json_schema
from phasegraph.recipes.registry import RecipeRegistry
from phasegraph.skills.core.errors import (
    InputRefused,
    PlanError,
    PreflightError,
    UndoError,
    WorkspaceBusy,
)
from phasegraph.skills.registry import SkillRegistry, default_registry

RUN_DESCRIPTION = (
    "Make a change to a git repository the careful way: reads run in parallel, writes one at "
    "a time and checked on disk, then lint, type and test checks, each against its result "
    "before the change; a commit only when they are green. Give the workspace (a repository "
    "under the server's roots) and a plan: a goal and steps, each naming a skill and its "
    "args, or a recipe. Sends a progress notification per step. Returns the run's report: "
    "status (completed or stopped), commit, run_id, the tried diff and, when it stopped, "
    "failed_step, error and new_findings (what the change broke). A stopped run is an error "
    "result. {on_stop} Call validate first to check a plan without running it."
)
#: What a stopped run does with its writes, as the run tool tells it, by the owner's on_stop.
ON_STOP = {
    "restore": "It puts the tree back as it was (restored: true), so a corrected plan can "
    "run at once (options.on_stop 'keep' leaves the tried change instead).",
    "keep": "Its writes stay in the tree for inspection (options.on_stop 'restore' puts the "
    "tree back instead; undo takes its run_id).",
}
VALIDATE_DESCRIPTION = (
    "Check a plan for a workspace without running it: its steps and args against the skills, "
    "its recipe, the workspace (a git repository with no operation in progress), the programs "
    "and the interpreter its checks need, and every write tried in memory. Nothing is "
    "written. Returns valid, the problems (each naming its step) or the steps as they would "
    "run, and the interpreter the checks would use."
)
UNDO_DESCRIPTION = (
    "Undo a run: put back exactly the bytes of the files it wrote and, if it committed, "
    "commit the revert. Give the run_id its report named (or its thread). Refused when a "
    "file changed since the run wrote it, unless force is true."
)
RUNS_DESCRIPTION = (
    "List the runs recorded in a workspace, the newest first: run id, thread, status, "
    "whether the tree was restored, the files written, the commit and when it ended."
)

WorkspaceArg = Annotated[
    str, Field(description="The repository to work in: a folder under the server's roots.")
]


class PlannedStep(BaseModel):
    """One step of a validated plan, as it would run."""

    id: str
    skill: str
    phase: str = Field(description="read, write, verify or commit.")
    after: list[str] = Field(default_factory=list)


class Validation(BaseModel):
    """A plan's check: whether it may run in the workspace, and why not."""

    valid: bool
    problems: list[str] = Field(
        default_factory=list, description="What is wrong, each naming its step and the fix."
    )
    goal: str = ""
    steps: list[PlannedStep] = Field(
        default_factory=list,
        description="The steps as they would run (a recipe's reads included; its writes come "
        "from the reads).",
    )
    recipe: str | None = Field(None, description="The recipe the plan names, if any.")
    interpreter: Interpreter | None = Field(
        None, description="The interpreter the checks would run with."
    )


class Runs(BaseModel):
    """The runs a workspace recorded (``.phasegraph/runs/``), the newest first."""

    workspace: str
    runs: list[RunRecord]


def build_mcp_server(
    owner: Owner,
    *,
    registry: SkillRegistry | None = None,
    recipes: RecipeRegistry | None = None,
    name: str = "phasegraph",
    host: str = "127.0.0.1",
    port: int = 8000,
) -> FastMCP[Any]:
    """The MCP server: its tools run the orchestrator of ``registry`` (default: the built-in
    skills) and ``recipes`` in the workspaces ``owner`` allows, with its options.

    ``host`` and ``port`` are where :func:`serve` listens with streamable HTTP (on
    127.0.0.1, requests from other origins are refused). Example::

        server = build_mcp_server(Owner(roots=(Path("/src"),)))
        serve(server)  # stdio
    """
    skills = registry if registry is not None else default_registry()
    tools = [
        _tool(
            _run_tool(owner, skills, recipes),
            "run",
            RUN_DESCRIPTION.format(on_stop=ON_STOP[owner.options.on_stop]),
            destructive=True,
        ),
        _tool(_validate_tool(owner, skills, recipes), "validate", VALIDATE_DESCRIPTION),
        _tool(_undo_tool(owner), "undo", UNDO_DESCRIPTION, destructive=True),
        _tool(_runs_tool(owner), "runs", RUNS_DESCRIPTION),
    ]
    plan = {
        **plan_json_schema(skills, recipes),
        "description": "What to do: a goal and steps, each naming a skill and its args, or a "
        "recipe (with steps of its own, or none).",
    }
    for tool in tools[:2]:
        props = tool.parameters["properties"]
        props["plan"] = plan
        props["options"] = owner.options_schema()
        tool.description += "\n\n" + plan_catalogue(skills, recipes)
    instructions = (
        "phasegraph runs code changes the careful way, in repositories under "
        f"{owner.shown_roots()}. Check a plan with validate, run it with run (a stopped run's "
        "report says why: read failed_step, error and new_findings, then send a corrected "
        "plan), undo a run by its run_id, list runs."
    )
    return FastMCP(
        name, instructions=instructions, tools=tools, host=host, port=port, log_level="WARNING"
    )


def serve(server: FastMCP[Any], transport: Literal["stdio", "streamable-http"] = "stdio") -> None:
    """Serve until the client goes (stdio) or the process is stopped (streamable HTTP, at
    ``http://HOST:PORT/mcp``)."""
    server.run(transport)


def _tool(fn: Any, name: str, description: str, *, destructive: bool = False) -> Tool:
    hints = ToolAnnotations(
        readOnlyHint=not destructive,
        destructiveHint=destructive,
        idempotentHint=False,
        openWorldHint=False,
    )
    return Tool.from_function(
        fn, name=name, description=description, annotations=hints, structured_output=True
    )


def _run_tool(owner: Owner, registry: SkillRegistry, recipes: RecipeRegistry | None) -> Any:
    async def run(
        workspace: WorkspaceArg,
        plan: Any,
        ctx: Context[Any, Any, Any],
        options: Any = None,
    ) -> Annotated[CallToolResult, Report]:
        try:
            root = await asyncio.to_thread(owner.workspace, workspace)
            opts = await asyncio.to_thread(owner.run_options, root, options)
            given = _plan_mapping(plan)
        except InputRefused as exc:
            return _result(_refused(plan, "input", str(exc)))
        thread = uuid.uuid4().hex
        try:
            async with _progress(ctx) as on_event, _persistence(root) as (saver, store):
                graph = build_orchestrator(
                    registry, checkpointer=saver, store=store, recipes=recipes
                )
                report = await run_plan(
                    graph, given, root, options=opts, thread_id=thread, on_event=on_event
                )
        except WorkspaceBusy as exc:
            return _result(_refused(plan, "preflight", f"{exc}; nothing was run, try later"))
        except PreflightError as exc:
            return _result(_refused(plan, "preflight", str(exc)))
        return _result(report)

    return run


def _validate_tool(owner: Owner, registry: SkillRegistry, recipes: RecipeRegistry | None) -> Any:
    async def validate(workspace: WorkspaceArg, plan: Any, options: Any = None) -> Validation:
        try:
            root = await asyncio.to_thread(owner.workspace, workspace)
            opts = await asyncio.to_thread(owner.run_options, root, options)
            given = _plan_mapping(plan)
        except InputRefused as exc:
            raise ToolError(str(exc)) from None
        goal = given.get("goal") if isinstance(given.get("goal"), str) else ""
        try:
            expanded, found = await asyncio.to_thread(
                accept_given_plan, parse_plan(given), registry, root, opts.python, recipes
            )
        except PlanError as exc:
            return Validation(valid=False, goal=goal, problems=exc.problems)
        except PreflightError as exc:
            return Validation(valid=False, goal=goal, problems=[str(exc)])
        steps = [
            PlannedStep(
                id=step.id,
                skill=step.skill,
                phase=skill.kind.value if (skill := registry.get(step.skill)) else "?",
                after=step.after,
            )
            for step in expanded.steps
        ]
        env = found.environment()
        return Validation(
            valid=True,
            goal=expanded.goal,
            steps=steps,
            recipe=expanded.recipe.name if expanded.recipe else None,
            interpreter=Interpreter(
                python=env["python"], source=env["source"], version=env["version"]
            ),
        )

    return validate


def _undo_tool(owner: Owner) -> Any:
    async def undo(
        workspace: WorkspaceArg,
        run_id: Annotated[str, Field(description="The run_id (or thread) its report named.")],
        force: Annotated[
            bool, Field(description="Undo even files changed since the run wrote them.")
        ] = False,
    ) -> UndoResult:
        try:
            root = await asyncio.to_thread(owner.workspace, workspace)
            return await undo_by_run_id(root, run_id, force=force)
        except (InputRefused, UndoError, WorkspaceBusy) as exc:
            raise ToolError(str(exc)) from None

    return undo


def _runs_tool(owner: Owner) -> Any:
    async def runs(workspace: WorkspaceArg) -> Runs:
        try:
            root = await asyncio.to_thread(owner.workspace, workspace)
        except InputRefused as exc:
            raise ToolError(str(exc)) from None
        return Runs(workspace=str(root), runs=await asyncio.to_thread(recorded_runs, root))

    return runs


def _plan_mapping(plan: object) -> dict[str, Any]:
    """The client's ``plan`` as a mapping (a JSON text of one is parsed, as the LangChain tool
    does), else :class:`InputRefused` saying what a plan is."""
    if isinstance(plan, str):
        plan = parsed_plan(plan)
    if not isinstance(plan, Mapping):
        raise InputRefused(
            f"plan must be an object (a goal and steps, or a recipe), not {type(plan).__name__}"
        )
    return dict(plan)


def _refused(plan: object, kind: str, error: str) -> Report:
    """The stopped report of a run refused before it started: nothing was run or written."""
    goal = plan.get("goal") if isinstance(plan, Mapping) else None
    return stopped_report(error, kind=kind, goal=goal if isinstance(goal, str) else "")


def _result(report: Report) -> CallToolResult:
    """The report as structured content and as JSON text; a stopped run is an error."""
    data = report.model_dump(mode="json", exclude_none=True)
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data))],
        structuredContent=data,
        isError=report.status == "stopped",
    )


@contextlib.asynccontextmanager
async def _persistence(root: Path) -> AsyncIterator[tuple[Any, Any]]:
    """The workspace's run database (as ``phasegraph run`` keeps it), or a clear error."""
    db = await asyncio.to_thread(default_db, root)
    try:
        async with open_persistence(db) as opened:
            yield opened
    except sqlite3.DatabaseError as exc:
        raise PreflightError(
            f"cannot open the workspace's run database {db}: {exc}; move it aside (the runs "
            "it holds are lost to resume), or fix the folder's permissions"
        ) from None


@contextlib.asynccontextmanager
async def _progress(ctx: Context[Any, Any, Any]) -> AsyncIterator[Any]:
    """An event handler that sends each step event as a progress notification, in order
    (one task sends them; all are sent before the result), when the client asked for them."""
    queue: asyncio.Queue[Mapping[str, Any] | None] = asyncio.Queue()
    rows: dict[str, str] = {}

    def on_event(event: Mapping[str, Any]) -> None:
        if event.get("event") == "step":
            queue.put_nowait(event)

    async def pump() -> None:
        sent = 0
        while (event := await queue.get()) is not None:
            rows[str(event.get("id"))] = str(event.get("status"))
            sent += 1
            with contextlib.suppress(Exception):  # a client gone: the run goes on
                await ctx.report_progress(sent, None, _progress_message(event, rows))

    task = asyncio.create_task(pump())
    try:
        yield on_event
    finally:
        queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await task


def _progress_message(event: Mapping[str, Any], rows: Mapping[str, str]) -> str:
    """``[2/5 done] edit (write): done: replaced 1 block``: the todo list's count, the row."""
    finished = sum(status in ("done", "failed", "skipped") for status in rows.values())
    summary = str(event.get("summary") or "")
    text = (
        f"[{finished}/{len(rows)} done] {event.get('id')} ({event.get('phase')}): "
        f"{event.get('status')}"
    )
    return f"{text}: {summary}" if summary else text
