"""The commit node: a git commit of exactly the files the run wrote, confirmed, made once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any, Literal

from langgraph.runtime import Runtime

from phasegraph.graph.durable.baseline_cache import keep_checks
from phasegraph.graph.durable.failpoints import failpoint
from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.run_store import RunStore
from phasegraph.graph.model.state import State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.steps.runner import StepRunner, emit, options, record
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.core.text import plural
from phasegraph.skills.guards.gitrepo import (
    commit_landed,
    commit_subject,
    committed_since,
    head_sha,
)
from phasegraph.skills.python.env.python_env import PythonEnv


def _landed_summary(sha: str, above: int) -> str:
    where = {0: "", -1: ", now in HEAD's history"}.get(above, f", now HEAD~{above}")
    extra = f", under {plural(above, 'commit')} made since" if above > 0 else ""
    return f"committed {sha[:7]} before the interruption{where}{extra}; not committed again"


def _held_summary(workspace: Path, sha: str) -> str:
    subject = commit_subject(workspace, sha)
    return (
        f'not committed: the run\'s changes are already committed in {sha[:7]} "{subject}", '
        "a commit made after the run started, not by this run"
    )


#: Not a hash: a file the journal has no "before" of.
MISSING = "missing"
#: The commit step's summary when every write was already applied: a re-run of a plan.
NOTHING_CHANGED = (
    "nothing to commit: every write was already applied, so the run changed no file "
    "(the tree already holds the plan's change); no commit made"
)


async def changed_nothing(records: RunStore) -> bool:
    """Whether the run had writes and every one of them left its files as it found them
    (their hashes before and after, as the write journal holds them): a plan run again after
    it was applied, each edit "already applied". A run whose writes changed files that git
    then finds identical to HEAD (one write undoing another) is not this: its commit fails
    as it should."""
    steps = await records.write_steps()
    for index in range(len(steps)):
        outcome = await records.write_outcome(index)
        if outcome is None or outcome.get("failure") or "after" not in outcome:
            return False
        before: dict[str, str | None] = outcome["before"]
        if any(before.get(rel, MISSING) != sha for rel, sha in outcome["after"].items()):
            return False
    return bool(steps)


def make_commit(runner: StepRunner) -> StateNode:
    async def commit(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        update: dict[str, Any] = {"steps": {}}
        workspace = Path(state["workspace"])
        records = runner.records(runtime, state["run_id"])
        for step in steps_of(state, runner.registry, SkillKind.COMMIT):
            entry = await records.commit_entry(step["id"])
            message = str(step.get("args", {}).get("message", ""))
            written = list(state.get("written", []))
            # git runs in a worker thread: never a blocking call on the event loop.
            landed = (
                await asyncio.to_thread(commit_landed, workspace, entry["head"], message)
                if entry is not None
                else None
            )
            before = entry["head"] if entry is not None else state.get("head")
            head = await asyncio.to_thread(head_sha, workspace)
            held = (
                None
                if landed
                else await asyncio.to_thread(committed_since, workspace, before, written, head)
            )
            if landed or held:
                sha = landed[0] if landed else str(held)
                summary = (
                    _landed_summary(*landed)
                    if landed
                    else await asyncio.to_thread(_held_summary, workspace, sha)
                )
                now = time.time()
                row = record(step, "commit", "done", summary, started_at=now, ended_at=now)
                emit(runtime, row)
                update["steps"][step["id"]] = row
                update["commit_sha"] = sha
                continue
            if await changed_nothing(records):
                now = time.time()
                row = record(step, "commit", "done", NOTHING_CHANGED, started_at=now, ended_at=now)
                emit(runtime, row)
                update["steps"][step["id"]] = row
                continue
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
                if options(runtime).baseline_cache:
                    await keep_checks_for_next_run(runner, state, runtime)
        return update

    return commit


async def keep_checks_for_next_run(
    runner: StepRunner, state: State, runtime: Runtime[RunOptions]
) -> None:
    """What the checks had after the writes, kept as the baselines of the tree just committed:
    a run on top of this commit then pays for each suite once (a targeted check is left out:
    its tests depend on what that run will write). A cache, so failing to keep it fails
    nothing."""
    records = runner.records(runtime, state["run_id"])
    checks: list[tuple[dict[str, Any], dict[str, Any]]] = []  # as keep_checks takes them
    for step in steps_of(state, runner.registry, SkillKind.VERIFY):
        output = await records.output(step["id"])
        if output is None or "checked" not in output or runner.by_writes(step):
            continue
        kept = {
            "findings": output["findings"],
            "summary": output["summary"],
            "checked": output["checked"],
            "not_passed": (output.get("data") or {}).get("not_passed") or {},
        }
        checks.append((dict(step), kept))
    if not checks:
        return
    env = PythonEnv.from_dict(state.get("environment"))
    with contextlib.suppress(OSError, SkillError):
        await asyncio.to_thread(keep_checks, Path(state["workspace"]), checks, runner.registry, env)


def route_commit(state: State) -> Literal["push", "report", "stop_and_report"]:
    if state.get("failure"):
        return "stop_and_report"
    return "push" if state.get("remote") else "report"
