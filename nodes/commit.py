"""The commit node: a git commit of exactly the files the run wrote, confirmed, made once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Literal

from langgraph.runtime import Runtime

from phasegraph.graph.context import RunOptions
from phasegraph.graph.failpoints import failpoint
from phasegraph.graph.state import State
from phasegraph.nodes.execute import StepRunner, emit, record
from phasegraph.nodes.plan_view import steps_of
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind
from phasegraph.skills.gitrepo import head_sha, run_git_sync


def commit_landed(workspace: Path, before: str | None, message: str) -> str | None:
    """The sha of the commit an interrupted run made on top of ``before``, if it made one."""
    head = head_sha(workspace)
    if head is None or head == before:
        return None
    shown = run_git_sync(workspace, "log", "-1", "--format=%P%n%B", head)
    parents, _, body = shown.stdout.partition("\n")
    if parents.split() == ([before] if before else []) and body.strip() == message.strip():
        return head
    return None


def make_commit(runner: StepRunner) -> StateNode:
    async def commit(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        update: dict[str, Any] = {"steps": {}}
        workspace = Path(state["workspace"])
        records = runner.records(runtime, state["run_id"])
        for step in steps_of(state, runner.registry, SkillKind.COMMIT):
            entry = await records.commit_entry(step["id"])
            message = str(step.get("args", {}).get("message", ""))
            # git runs in a worker thread: never a blocking call on the event loop.
            sha = (
                await asyncio.to_thread(commit_landed, workspace, entry["head"], message)
                if entry is not None
                else None
            )
            if sha:
                now = time.time()
                row = record(
                    step,
                    "commit",
                    "done",
                    f"committed {sha[:7]} before the interruption (not committed again)",
                    started_at=now,
                    ended_at=now,
                )
                emit(runtime, row)
                update["steps"][step["id"]] = row
                update["commit_sha"] = sha
                continue
            head = await asyncio.to_thread(head_sha, workspace)
            await records.put_commit_entry(step["id"], {"head": head})
            failpoint("before-commit")
            outcome = await runner.run(
                step,
                state,
                runtime,
                failure_kind="commit",
                run_files=tuple(state.get("written", [])),
            )
            update["steps"][step["id"]] = outcome.record
            if outcome.failure:
                update["failure"] = outcome.failure
                break
            if outcome.result is not None:
                update["commit_sha"] = outcome.result.data.get("sha")
                failpoint("commit-landed")
        return update

    return commit


def route_commit(state: State) -> Literal["report", "stop_and_report"]:
    return "stop_and_report" if state.get("failure") else "report"
