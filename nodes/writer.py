"""The writer subgraph: apply one write at a time, verify it on disk, stop at the first failure.

Its own state is a cursor and a few scalars, so each write's checkpoint is the
same small size however long the plan is; the write steps and their results
live in the run's store, and the todo rows reach the graph state once, when
the subgraph ends (the stream shows every write as it happens).

Before the first write (and again whenever the writes go on after a pause or a crash) the
writer checks the disk against the journal (``planner.resume_problem``) and that the
pre-images fit their caps; it holds the workspace lock while it writes, and keeps each
file's pre-image before its first write, so undo restores the exact bytes. The subgraph
loops once per write: its recursion limit is set from the number of writes, never the
caller's (an agent's 25 would stop a plan of 26 writes half-way).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.durable.lock import hold_workspace
from phasegraph.graph.durable.undo import Preimages
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.remote import RemoteRun
from phasegraph.graph.model.run_store import Hashes, RunStore, WriteProgress, hashes, landed
from phasegraph.graph.model.state import Failure, State, StepRecord, first_failure
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.preflight.dry_run import resolved_writes, target_files
from phasegraph.graph.steps.runner import StepRunner, emit, lock_owner, record
from phasegraph.graph.steps.take_over import here, on_this_machine
from phasegraph.nodes.planner import resume_problem
from phasegraph.skills.base import SkillKind, SkillResult
from phasegraph.skills.core.errors import WorkspaceBusy
from phasegraph.skills.guards.workspace import past_second, resolve_in_workspace, second_of


def read_back_problem(workspace: Path, result: SkillResult) -> str | None:
    """Why the write did not land as reported (``None`` when every file holds what it should)."""
    expected = result.data.get("sha256")
    for rel in result.files_written:
        path = resolve_in_workspace(workspace, rel)
        if not path.is_file():
            return f"{rel} is missing after the write"
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            return f"{rel} does not hold the written content (read-back mismatch)"
    return None


class WriterState(TypedDict, total=False):
    """The writer subgraph's state: O(1) whatever the number of writes."""

    workspace: str
    run_id: str
    count: int
    cursor: int
    dirty: list[str]
    remote: RemoteRun
    failure: Annotated[Failure | None, first_failure]


def make_apply_write(runner: StepRunner) -> Any:
    async def apply_write(state: WriterState, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        index = state.get("cursor", 0)
        records = runner.records(runtime, state["run_id"])
        step = await records.write_step(index)
        workspace = Path(state["workspace"])
        entry = await records.write_entry(step["id"])
        preimages = Preimages(workspace, state["run_id"])
        # Filesystem work (paths, hashes, pre-images, read-backs) runs in a worker thread, off
        # the loop; what comes before a write is one hop (each hop costs ~0.4 ms a write).
        files, theirs, now = await asyncio.to_thread(
            before_write, step, runner, workspace, entry, state.get("dirty", []), preimages
        )
        if theirs:
            # The user's own uncommitted work is never overwritten, nor committed by a run.
            return await refuse(
                records,
                index,
                step,
                runtime,
                f"{', '.join(theirs)} has uncommitted changes of yours that this run would "
                "overwrite or commit; commit or stash them first, then run again",
            )
        if entry is None:
            entry = {"before": now}
            await records.put_write_entry(step["id"], entry)
        else:  # this step began before the run was interrupted: did its write land?
            verdict = landed(entry, now)
            if verdict == "landed":
                await records.put_write_outcome(index, recognised(step, runtime, entry, now))
                return {"cursor": index + 1}
            if verdict == "changed":
                return await refuse(
                    records,
                    index,
                    step,
                    runtime,
                    f"{', '.join(entry['before'])} changed since the interrupted run wrote it; "
                    "check the file, then run the plan again",
                )
            # The file as it was before the run's first write of it, for undo (a no-op after).
            await asyncio.to_thread(preimages.keep, files)
        seconds = await asyncio.to_thread(lambda: {f: second_of(workspace / f) for f in files})
        failpoint(f"before-write:{step['id']}")
        outcome = await runner.run(
            step, state, runtime, check=lambda result: read_back_problem(workspace, result)
        )
        failpoint(f"after-write:{step['id']}")
        done: dict[str, Any] = {"record": outcome.record, "failure": outcome.failure}
        if outcome.result is not None:
            written = outcome.result.files_written
            touched = sorted(set(entry["before"]) | set(written))
            after = await asyncio.to_thread(hashes, workspace, touched)
            changed = [f for f in touched if after.get(f) != entry["before"].get(f)]
            await asyncio.to_thread(moved_past, workspace, changed, seconds)
            await records.put_write_entry(step["id"], {**entry, "after": after})
            done.update(written=written, before=entry["before"], after=after)
        await records.put_write_outcome(index, done)
        failpoint(f"write-landed:{step['id']}")
        return {"cursor": index + 1, "failure": outcome.failure}

    return apply_write


def moved_past(workspace: Path, changed: list[str], seconds: dict[str, int | None]) -> None:
    """Each file a write changed, its mtime past the whole second it had before the write
    (:func:`~phasegraph.skills.guards.workspace.past_second`). Blocking: a worker thread."""
    for rel in changed:
        past_second(workspace / rel, seconds.get(rel))


def before_write(
    step: PlanStep,
    runner: StepRunner,
    workspace: Path,
    entry: dict[str, Any] | None,
    dirty: list[str],
    preimages: Preimages,
) -> tuple[list[str], list[str], Hashes]:
    """A write step's files, those of them the user has uncommitted changes in, and the
    hashes to judge it by: its files' now, or (resuming) those of its journal entry's files.

    A first try also keeps the pre-images of its files, unless they are the user's: kept
    before the journal entry is put is as good as after (a crash between the two leaves a
    pre-image that the next try keeps again as a no-op, the first record winning).
    Blocking (files): a worker thread."""
    files = target_files(step, runner.registry, workspace)
    theirs = sorted(set(files) & set(dirty))
    if theirs:
        return files, theirs, {}
    now = hashes(workspace, files if entry is None else list(entry["before"]))
    if entry is None:
        preimages.keep(files)
    return files, theirs, now


async def refuse(
    records: RunStore, index: int, step: PlanStep, runtime: Runtime[RunOptions], message: str
) -> dict[str, Any]:
    rec = record(step, "write", "failed", message)
    emit(runtime, rec)
    failure = Failure(step=step["id"], kind="skill", error=message)
    await records.put_write_outcome(index, {"record": rec, "failure": failure})
    return {"cursor": index + 1, "failure": failure}


def recognised(
    step: PlanStep, runtime: Runtime[RunOptions], entry: dict[str, Any], found: Hashes
) -> dict[str, Any]:
    """A write that landed before a crash: record it as done, without applying it again."""
    now = time.time()
    rec = record(
        step,
        "write",
        "done",
        "already applied before the interruption (not applied again)",
        started_at=now,
        ended_at=now,
    )
    emit(runtime, rec)
    after = entry.get("after") or found  # the files as they are: the write that landed
    written = [f for f, h in after.items() if h != entry["before"].get(f)] or list(after)
    return {
        "record": rec,
        "failure": None,
        "written": written,
        "before": entry["before"],
        "after": after,
    }


def route_write(state: WriterState) -> Literal["apply_write", "__end__"]:
    if state.get("failure") or state.get("cursor", 0) >= state.get("count", 0):
        return "__end__"
    return "apply_write"


def build_writer_graph(
    runner: StepRunner,
) -> CompiledStateGraph[WriterState, RunOptions, WriterState, WriterState]:
    """One ``apply_write`` per superstep, so each write is checkpointed before the next."""
    builder = StateGraph(WriterState, context_schema=RunOptions)
    # A remote run's write: on this worker's clone (the parent's node made it, if need be).
    apply_write = on_this_machine(make_apply_write(runner), runner, takes_over=False)
    builder.add_node("apply_write", apply_write)
    builder.add_conditional_edges(START, route_write, ["apply_write", END])
    builder.add_conditional_edges("apply_write", route_write, ["apply_write", END])
    return builder.compile(name="writer")


def build_writer(runner: StepRunner) -> StateNode:
    """The parent graph's ``writer`` node: hand the writes to the subgraph, collect the results."""
    subgraph = build_writer_graph(runner)

    async def writer(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        # A remote run's writes go to this worker's clone (made here if another made it).
        local, failure = await here(state, runner, runtime)
        if failure is not None:
            return {"failure": failure}
        if local is not None and local != state["workspace"]:
            return {
                **await writer({**state, "workspace": local}, runtime=runtime),
                "workspace": local,
            }
        workspace = Path(state["workspace"])
        # The writes as the state's plan has them now, not as the consolidate node kept them:
        # a plan edited in the state before the writes (time travel, ``update_state``) is the
        # one that runs. Kept again, as they run (a format step's files resolved).
        steps = await asyncio.to_thread(
            resolved_writes,
            steps_of(state, runner.registry, SkillKind.WRITE),
            runner.registry,
            workspace,
        )
        records = runner.records(runtime, state["run_id"])
        await records.put_write_steps(steps)
        config = get_config()
        owner = lock_owner(state)
        # The loop is as long as the plan has writes: a limit below that guards nothing.
        limit = max(int(config.get("recursion_limit") or 0), len(steps) + 3)
        try:
            async with hold_workspace(workspace, owner):  # checked and written under the lock
                problem = await ready_to_write(runner, records, steps, workspace, state["run_id"])
                if problem:
                    return {"failure": Failure(step=None, kind="preflight", error=problem)}
                final = await subgraph.ainvoke(
                    WriterState(
                        workspace=state["workspace"],
                        run_id=state["run_id"],
                        count=len(steps),
                        cursor=0,
                        dirty=list(state.get("dirty", [])),
                        **({"remote": state["remote"]} if state.get("remote") else {}),
                    ),
                    {"recursion_limit": limit},
                    context=runtime.context,
                )
        except WorkspaceBusy as exc:
            return {"failure": Failure(step=None, kind="preflight", error=str(exc))}
        return await collect(records, len(steps), final)

    return writer


async def ready_to_write(
    runner: StepRunner,
    records: RunStore,
    steps: list[PlanStep],
    workspace: Path,
    run_id: str,
) -> str | None:
    """Why the writes may not begin, or go on (``None``: they may).

    The first time, the write plan (each step's targets and their hashes) goes to the
    journal; every time, the disk is checked against it and the pre-images still to keep
    against their caps, so nothing is written when any of it fails.
    """

    def targets_of() -> list[list[str]]:
        return [target_files(step, runner.registry, workspace) for step in steps]

    targets = await asyncio.to_thread(targets_of)
    if await records.write_plan() is None:
        every = sorted({f for files in targets for f in files})
        await records.put_write_plan(targets, await asyncio.to_thread(hashes, workspace, every))
    progress = await records.progress() or WriteProgress()  # never None: the plan is put
    problem = await asyncio.to_thread(resume_problem, workspace, progress, "run the plan again")
    if problem:
        return problem
    pending = set(progress.pending)
    by_step = [
        (step["id"], [f for f in files if f in pending])
        for step, files in zip(steps, targets, strict=True)
    ]
    return await asyncio.to_thread(Preimages(workspace, run_id).problem, by_step)


async def collect(records: RunStore, count: int, final: dict[str, Any]) -> dict[str, Any]:
    """The todo rows and the written/created/hash lists, from every write's stored outcome."""
    rows: dict[str, StepRecord] = {}
    written: list[str] = []
    created: list[str] = []
    shas: dict[str, str | None] = {}
    for index in range(count):
        outcome = await records.write_outcome(index)
        if outcome is None:
            break
        rows[outcome["record"]["id"]] = outcome["record"]
        for rel in outcome.get("written", []):
            if rel not in written:
                written.append(rel)
                if outcome["before"].get(rel) is None:
                    created.append(rel)
            shas[rel] = outcome["after"].get(rel)
    return {
        "steps": rows,
        "written": written,
        "created": created,
        "written_sha": shas,
        "failure": final.get("failure"),
    }
