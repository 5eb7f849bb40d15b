"""A remote run on whichever machine runs it now: the clone made here, or made again.

A remote run's state names its clone by a folder name under the work directory, the same on
every worker. A process that did not make the clone itself (the worker that did died and the
server's queue handed the run to another, or the server restarted) makes it anew before the
next step runs: it clones the recorded base commit, applies again the writes that had landed
(through their skills, in order, each checked against the hashes the write journal
recorded), makes the run's commit again if it had been made, runs the prepare step again,
and only then lets the step run. Every node of a remote run goes through
:func:`on_this_machine` (the writer through :func:`here`), which hands the node the state
with this worker's clone as its workspace.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from langgraph.runtime import Runtime

from phasegraph.graph.durable.undo import Preimages
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.remote import RemoteRun, RemoteSettings
from phasegraph.graph.model.run_store import hashes
from phasegraph.graph.model.state import Failure, State
from phasegraph.graph.steps.prepare import prepare
from phasegraph.graph.steps.runner import StepRunner, options, step_context
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PhasegraphError, RemoteError
from phasegraph.skills.guards.gitremote import clone_at_commit, start_branch

#: A clone being made again is first made here, then moved into place: a worker that dies
#: half-way leaves no clone that looks whole.
PARTIAL = ".partial"

#: The clones this process made (checkout, or a take-over) and still works in. Any other is
#: made again before a step runs in it, even if a folder of that name is on the disk: what
#: a worker that died left there may be ahead of what its database kept (LangGraph's dev
#: server keeps its state every few seconds), and the journal, not the disk, is the truth.
_MADE_HERE: set[str] = set()


def made_here(clone: Path) -> None:
    """``clone`` was made by this process: its steps may run in it as it is."""
    _MADE_HERE.add(str(clone))


def left(clone: Path) -> None:
    """``clone`` is gone (the run ended)."""
    _MADE_HERE.discard(str(clone))


def on_this_machine(node: StateNode, runner: StepRunner, *, takes_over: bool = True) -> StateNode:
    """``node`` run on this worker's clone of a remote run (any other run: as it is).

    ``takes_over``: make the clone here when it is missing (every node of the main graph);
    the writer's inner node only needs the path, its parent made the clone. A node that
    runs a subgraph calls :func:`here` itself instead (LangGraph finds a subgraph among its
    node function's own names, not a wrapper's).
    """

    # ``state: Any``: LangGraph reads a node's input schema from its first parameter's type,
    # and the writer's inner node has a state of its own.
    async def on_the_clone(state: Any, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        local, failure = await here(state, runner, runtime, takes_over=takes_over)
        if failure is not None:
            return {"failure": failure}
        if local is None or state.get("workspace") == local:
            return await node(state, runtime=runtime)
        update = await node(cast("State", {**state, "workspace": local}), runtime=runtime)
        return {**update, "workspace": local}

    return on_the_clone


async def here(
    state: Mapping[str, Any],
    runner: StepRunner,
    runtime: Runtime[RunOptions] | None,
    *,
    takes_over: bool = True,
) -> tuple[str | None, Failure | None]:
    """This worker's clone of the remote run in ``state`` (``None``: not a remote run),
    made here first if it is missing (``takes_over``); or why it could not be."""
    remote: RemoteRun | None = state.get("remote")
    if not remote or not remote.get("base"):
        return None, None
    try:
        settings = await asyncio.to_thread(RemoteSettings.from_env)
        local = settings.clone_path(remote)
        if takes_over and str(local) not in _MADE_HERE:
            await take_over(local, remote, state, runner, runtime)
    except (PhasegraphError, OSError) as exc:
        error = (
            f"this worker could not take the run over from the one that died: {exc}; "
            "start the run again from its plan"
        )
        return None, Failure(step=None, kind="remote", error=error)
    return str(local), None


async def take_over(
    local: Path,
    remote: RemoteRun,
    state: Mapping[str, Any],
    runner: StepRunner,
    runtime: Runtime[RunOptions] | None,
) -> None:
    """Make the run's clone at ``local`` anew, as the run's journal says the last worker
    left it (whatever a folder of that name holds)."""
    settings = await asyncio.to_thread(RemoteSettings.from_env)
    partial = local.with_name(local.name + PARTIAL)
    await asyncio.to_thread(shutil.rmtree, partial, ignore_errors=True)
    await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(
        clone_at_commit, remote["repo"], remote["base"], partial, settings.access
    )
    await asyncio.to_thread(start_branch, partial, remote["push"])
    where = {**state, "workspace": str(partial)}
    if state.get("run_id"):
        await replay_writes(partial, where, runner, runtime)
    if state.get("commit_sha"):
        await recommit(where, runner, runtime)
    if remote.get("prepare"):
        failure = await prepare(partial, list(remote["prepare"]), settings, runtime, {})
        if failure is not None:
            raise RemoteError(failure["error"])
    await asyncio.to_thread(shutil.rmtree, local, ignore_errors=True)  # a dead worker's
    await asyncio.to_thread(partial.rename, local)
    made_here(local)


async def replay_writes(
    workspace: Path,
    where: Mapping[str, Any],
    runner: StepRunner,
    runtime: Runtime[RunOptions] | None,
) -> list[str]:
    """Apply again, in order, every write the run's journal says landed, each checked against
    the hashes it recorded; the files they wrote."""
    records = runner.records(runtime, str(where["run_id"]))
    preimages = Preimages(workspace, str(where["run_id"]))
    opts = options(runtime)
    written: list[str] = []
    index = 0
    while (outcome := await records.write_outcome(index)) is not None:
        files = list(outcome.get("written", []))
        if not files:  # a write that failed or changed nothing: the run stopped there
            index += 1
            continue
        step = await records.write_step(index)
        skill = runner.registry.get(step["skill"])
        if skill is None:
            raise RemoteError(f"write step {step['id']!r}: skill {step['skill']!r} is not here")
        await asyncio.to_thread(preimages.keep, sorted(set(outcome.get("before", {})) | set(files)))
        result = await skill.run(
            skill.parse_args(step.get("args", {})), step_context(step, where, opts)
        )
        now = await asyncio.to_thread(hashes, workspace, sorted(outcome.get("after", {})))
        if now != outcome.get("after"):
            raise RemoteError(
                f"write step {step['id']!r} wrote other bytes than the journal recorded "
                f"({', '.join(result.files_written)}): it does not write the same twice"
            )
        written += files
        index += 1
    return written


async def recommit(
    where: Mapping[str, Any], runner: StepRunner, runtime: Runtime[RunOptions] | None
) -> None:
    """Make the run's commit again (its commit steps, through their skill)."""
    opts = options(runtime)
    files = tuple(where.get("written", []))
    for step in where.get("plan", {}).get("steps", []):
        skill = runner.registry.get(step.get("skill", ""))
        if skill is None or skill.kind is not SkillKind.COMMIT:
            continue
        context = step_context(step, where, opts, run_files=files)
        await skill.run(skill.parse_args(step.get("args", {})), context)
