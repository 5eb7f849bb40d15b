"""The planner node: turn the given plan (or recipe) into a validated, preflighted todo list."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.runtime import Runtime

from phasegraph.graph.model.context import RunOptions, served_options
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import Plan, parse_plan
from phasegraph.graph.model.remote import RemoteSettings
from phasegraph.graph.model.run_store import WriteProgress, file_hash
from phasegraph.graph.model.state import Failure, State, StepRecord
from phasegraph.graph.preflight.acceptance import accept_given_plan
from phasegraph.graph.preflight.checks import Preflight, preflight, warm_interpreter
from phasegraph.graph.steps.runner import emit, options, record
from phasegraph.prompts.chat_models import model_for
from phasegraph.prompts.llm_planner import plan_from_request
from phasegraph.recipes.registry import RecipeRegistry
from phasegraph.skills.core.errors import InputRefused, PlanError, PreflightError
from phasegraph.skills.guards.gitrepo import dirty_files, is_git_repo
from phasegraph.skills.guards.procs import find_program
from phasegraph.skills.python.env.discovery import interpreter_path, unexpanded_problem
from phasegraph.skills.registry import SkillRegistry


def pending_rows(plan: Plan, registry: SkillRegistry) -> dict[str, StepRecord]:
    rows = {}
    for step in plan.steps:
        skill = registry.get(step.skill)
        rows[step.id] = record(step.as_plan_step(), skill.kind.value if skill else "?", "pending")
    return rows


#: Served, a run's workspace must lie under one of these folders (``os.pathsep``-separated).
WORKSPACE_ROOTS = "PHASEGRAPH_WORKSPACE_ROOTS"
#: Served, interpreters (or virtualenv folders) outside its workspace that a run's context may
#: name as ``python`` (``os.pathsep``-separated absolute paths); any inside the workspace may be.
SERVED_PYTHONS = "PHASEGRAPH_PYTHONS"


def input_problem(state: Mapping[str, Any]) -> str | None:
    """Why a run's input has the wrong shape (``None``: it has the right one): a caller of
    the server, the library or the tool may send anything; it ends in an input error."""
    workspace = state.get("workspace", "")
    if not isinstance(workspace, str):
        return f"workspace must be a string (the repository's path), not {type(workspace).__name__}"
    if "\x00" in workspace:
        return f"workspace {workspace!r} contains a NUL byte"
    plan = state.get("plan")
    if plan is not None and not isinstance(plan, Mapping | Plan):
        return f"plan must be a mapping (goal and steps, or a recipe), not {type(plan).__name__}"
    request = state.get("request")
    if request is not None and not isinstance(request, str):
        return f"request must be a string in plain words, not {type(request).__name__}"
    return None


def workspace_problem(workspace: str, served: bool) -> str | None:
    """Why a run may not work on ``workspace`` (``None``: it may).

    No workspace is an input error everywhere, never the process's own folder. A served
    run's workspace must lie under one of the folders in ``PHASEGRAPH_WORKSPACE_ROOTS``,
    after symlinks and ``..`` are resolved.
    """
    if not workspace.strip():
        return (
            "no workspace given: pass the path of the repository to work on (the workspace "
            "input, --workspace); for the current folder say '.'"
        )
    if not served:
        return None
    roots = [
        Path(r).expanduser().resolve()
        for r in os.environ.get(WORKSPACE_ROOTS, "").split(os.pathsep)
        if r.strip()
    ]
    if not roots:
        return (
            f"this server accepts no workspace yet: set {WORKSPACE_ROOTS} (folders, separated "
            f"by {os.pathsep!r}) in langgraph.json's env or the deployment's environment"
        )
    target = Path(workspace).expanduser().resolve()
    if not any(target.is_relative_to(root) for root in roots):
        shown = os.pathsep.join(str(r) for r in roots)
        return f"workspace {workspace!r} is not under the served roots ({WORKSPACE_ROOTS}={shown})"
    return None


def served_python(workspace: str, python: str) -> str:
    """A served run's context ``python`` as the absolute path it is checked and used as:
    resolved once against the workspace (never the server's folder), inside it or listed in
    ``PHASEGRAPH_PYTHONS``; raises :class:`InputRefused` naming the option."""
    root = Path(workspace).expanduser().resolve()
    problem = unexpanded_problem(python)
    if problem:
        raise InputRefused(
            f"context option python: {problem}; name the interpreter relative to the workspace "
            "(e.g. .venv/bin/python)"
        )
    path = interpreter_path(root, python)
    listed = {
        interpreter_path(root, p.strip())
        for p in os.environ.get(SERVED_PYTHONS, "").split(os.pathsep)
        if p.strip() and Path(p.strip()).is_absolute()
    }
    if not path.is_relative_to(root) and path not in listed:
        shown = f"{python!r}" + (f" ({path})" if str(path) != python else "")
        raise InputRefused(
            f"context option python: {shown} is outside the workspace {root}; a "
            "served run's checks use an interpreter in its workspace, and any other is the "
            f"server's owner's to allow (they list it in {SERVED_PYTHONS} in the server's "
            "environment)"
        )
    return str(path)


def admitted(state: Mapping[str, Any], given: RunOptions, served: bool) -> RunOptions:
    """The options the run goes on with, once its input has the right shape and names a
    workspace (served: under the served roots, with a context that loosens no guard, see
    :func:`~phasegraph.graph.model.context.served_options`, and its ``python`` resolved against the
    workspace). Raises :class:`InputRefused` with why it may not start. Blocking: a thread."""
    # A remote run's clone is in the owner's work directory, where checkout made it.
    cloned = bool(state.get("remote")) and Path(
        str(state.get("workspace"))
    ).resolve().is_relative_to(RemoteSettings.from_env().work_dir.resolve())
    problem = input_problem(state) or workspace_problem(
        state.get("workspace", ""), served and not cloned
    )
    if problem:
        raise InputRefused(problem)
    if not served:
        return given
    opts = served_options(given)
    if opts.python is not None:
        opts = replace(opts, python=served_python(state["workspace"], opts.python))
    return opts


def resume_problem(workspace: Path, progress: WriteProgress, then: str) -> str | None:
    """Why the writes may not go on (``None``: they may), after a pause, a crash or a stop.

    Every file the run already wrote must still hold the bytes its write journal recorded,
    or those it had when the writes began (else going on would build on, and commit,
    someone else's change as the run's), and
    every file it has yet to write must still pass preflight's rule: no uncommitted changes
    of the user's (outside git: unchanged since the writes began). ``then`` is how to go on
    once it is fixed. Blocking (files, git): call it from a worker thread.
    """
    for rel, left in progress.left.items():
        if rel in progress.started:
            # A later write of the same file began and was not recorded: the writer's
            # journal judges that write (landed or not) against the bytes it began from.
            continue
        # Back as it was when the writes began (undone, or the run went back in time to
        # before its writes) is no one's change: the journal sees the write as not landed.
        if file_hash(workspace / rel) not in (left, progress.start.get(rel)):
            return (
                f"{rel} changed after this run wrote it (it no longer holds the bytes the run's "
                "write journal recorded), so going on would commit that change as the run's; "
                f"save your change elsewhere and put the run's version back, then {then}"
            )
    if find_program("git") is not None and is_git_repo(workspace):
        theirs = sorted(set(progress.pending) & set(dirty_files(workspace)))
        if theirs:
            return (
                f"{', '.join(theirs)} has uncommitted changes of yours that this run would "
                f"overwrite or commit (made after the run started); commit or stash them "
                f"first, then {then}"
            )
        return None
    moved = [f for f in progress.pending if file_hash(workspace / f) != progress.start.get(f)]
    if moved:
        return (
            f"{', '.join(moved)} changed after this run started and before it wrote it, and "
            f"{workspace} is not a git repository that could tell whose change it is; put it "
            f"back as it was (or move your change elsewhere), then {then}"
        )
    return None


def make_planner(
    registry: SkillRegistry,
    model: BaseChatModel | None = None,
    *,
    served: bool = False,
    recipes: RecipeRegistry | None = None,
) -> StateNode:
    """A planner node that accepts a given plan, a built-in recipe or (with ``model``) a request.

    Any planner (the LLM one too) keeps this contract: it returns ``plan`` (the
    validated plan as a mapping), ``steps`` (a pending row per step), ``run_id``,
    ``head`` and ``dirty`` — or a ``failure`` of kind "input" or "preflight"
    ("model" when the model cannot be reached). A given plan wins over a request.
    """

    async def planner(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        run_id = state.get("run_id") or uuid.uuid4().hex
        # Filesystem, git and the interpreter's probe are blocking: never on the event loop
        # (LangGraph's server refuses blocking calls there).
        try:
            opts = await asyncio.to_thread(admitted, state, options(runtime), served)
        except InputRefused as exc:
            failure = Failure(step=None, kind="input", error=str(exc))
            return {"run_id": run_id, "failure": failure}
        workspace = state["workspace"]
        raw_plan: object = state.get("plan")
        ready: Preflight | None = None
        usage: dict[str, Any] = {}
        chosen = model
        if raw_plan is None and state.get("request"):
            try:  # building it may import a provider's package: a worker thread
                chosen = await asyncio.to_thread(model_for, model, opts, served=served)
            except PreflightError as exc:
                failure = Failure(step=None, kind="input", error=str(exc))
                return {"run_id": run_id, "failure": failure}
        if raw_plan is None and chosen is not None and state.get("request"):
            try:  # a workspace that is not there costs no model call
                root = (
                    await asyncio.to_thread(preflight, Plan(goal="request"), registry, workspace)
                ).workspace
            except PreflightError as exc:
                return {
                    "run_id": run_id,
                    "failure": Failure(step=None, kind="preflight", error=str(exc)),
                }
            # The plan's checks will need the project's interpreter: probed beside the call.
            warming = asyncio.create_task(asyncio.to_thread(warm_interpreter, root, opts.python))
            drafted = await plan_from_request(chosen, registry, state["request"], root, opts)
            await warming
            usage = {"usage": {"planner": drafted.usage}}
            if drafted.failure is not None:
                return {"run_id": run_id, "failure": drafted.failure, **usage}
            raw_plan, ready = drafted.plan, drafted.preflight
        if raw_plan is None:
            hint = (
                ""
                if chosen is not None
                else ", or a request with a model (build_orchestrator(model=...), or the "
                "run's context: model='openai:gpt-4.1')"
            )
            return {
                "run_id": run_id,
                "failure": Failure(
                    step=None,
                    kind="input",
                    error=f"no plan given: pass a plan mapping (goal + steps, or a recipe){hint}",
                ),
            }
        try:
            if isinstance(raw_plan, Plan) and ready is not None:
                plan, found = raw_plan, ready  # the LLM planner checked it as it validated it
            else:
                given = raw_plan  # blocking (files, git, the interpreter): a worker thread
                plan, found = await asyncio.to_thread(
                    lambda: accept_given_plan(
                        parse_plan(given), registry, workspace, opts.python, recipes
                    )
                )
        except PlanError as exc:
            failure = Failure(step=None, kind="input", error=str(exc))
            return {"run_id": run_id, "failure": failure, **usage}
        except PreflightError as exc:
            failure = Failure(step=None, kind="preflight", error=str(exc))
            return {"run_id": run_id, "failure": failure, **usage}
        rows = pending_rows(plan, registry)
        for row in rows.values():
            emit(runtime, row)
        return {
            "run_id": run_id,
            "strict": opts.strict,
            "workspace": str(found.workspace),
            "plan": plan.model_dump(mode="json"),
            "steps": rows,
            "head": found.head,
            "environment": found.environment(),
            "tree": found.tree,
            "dirty": found.dirty,
            **usage,
        }

    return planner
