"""The writer subgraph: apply one write at a time, verify it on disk, stop at the first failure."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from phasegraph.graph.failpoints import failpoint
from phasegraph.graph.journal import Hashes, Journal, hashes, landed
from phasegraph.graph.state import Failure, RunOptions, State
from phasegraph.nodes.execute import emit, record, run_step
from phasegraph.nodes.plan_view import status, steps_of
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind, SkillResult
from phasegraph.skills.errors import WorkspaceViolation
from phasegraph.skills.registry import SkillRegistry
from phasegraph.skills.workspace import resolve_in_workspace, workspace_relative


def next_write(state: State, registry: SkillRegistry) -> dict[str, Any] | None:
    """The first write step, in plan order, that has not run yet."""
    for step in steps_of(state, registry, SkillKind.WRITE):
        if status(state, step["id"]) == "pending":
            return step
    return None


def targets(step: dict[str, Any], registry: SkillRegistry) -> list[str]:
    skill = registry.get(step["skill"])
    if skill is None:
        return []
    out: list[str] = []
    for name in skill.path_fields():
        value = step.get("args", {}).get(name)
        out += value if isinstance(value, list) else [value] if isinstance(value, str) else []
    return out


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


def make_apply_write(registry: SkillRegistry) -> StateNode:
    async def apply_write(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        step = next_write(state, registry)
        if step is None:
            return {}
        workspace = Path(state["workspace"])
        files = target_files(step, registry, workspace)
        theirs = sorted(set(files) & set(state.get("dirty", [])) - set(state.get("written", [])))
        if theirs:
            # The user's own uncommitted work is never overwritten, nor committed by a run.
            return refuse(
                step,
                runtime,
                f"{', '.join(theirs)} has uncommitted changes of yours that this run would "
                "overwrite or commit; commit or stash them first, then run again",
            )
        journal = Journal(runtime.store, state["run_id"])
        entry = await journal.get(step["id"])
        if entry is None:
            entry = {"before": hashes(workspace, files)}
            await journal.put(step["id"], entry)
        else:  # this step began before the run was interrupted: did its write land?
            verdict = landed(entry, hashes(workspace, list(entry["before"])))
            if verdict == "landed":
                return recognised(step, runtime, entry, state)
            if verdict == "changed":
                return refuse(
                    step,
                    runtime,
                    f"{', '.join(entry['before'])} changed since the interrupted run wrote it; "
                    "check the file, then run the plan again",
                )
        failpoint(f"before-write:{step['id']}")
        outcome = await run_step(
            step,
            registry=registry,
            workspace=state["workspace"],
            run_id=state["run_id"],
            runtime=runtime,
            check=lambda result: read_back_problem(workspace, result),
        )
        update: dict[str, Any] = {"steps": {step["id"]: outcome.record}, "failure": outcome.failure}
        if outcome.result is not None:
            written = outcome.result.files_written
            after = hashes(workspace, sorted(set(entry["before"]) | set(written)))
            await journal.put(step["id"], {**entry, "after": after})
            failpoint(f"write-landed:{step['id']}")
            update.update(written_update(written, entry["before"], after, state))
        return update

    return apply_write


def target_files(step: dict[str, Any], registry: SkillRegistry, workspace: Path) -> list[str]:
    """The step's target paths, normalised as the skills report them (``./a.py`` → ``a.py``)."""
    out = []
    for rel in targets(step, registry):
        try:
            out.append(workspace_relative(workspace, resolve_in_workspace(workspace, rel)))
        except (WorkspaceViolation, ValueError):
            continue
    return out


def written_update(
    written: list[str], before: Hashes, after: Hashes, state: State
) -> dict[str, Any]:
    earlier = state.get("written", [])
    return {
        "written": written,
        "created": [f for f in written if before.get(f) is None and f not in earlier],
        "written_sha": {f: after.get(f) for f in written},
    }


def refuse(step: dict[str, Any], runtime: Runtime[RunOptions], message: str) -> dict[str, Any]:
    rec = record(step, "write", "failed", message)
    emit(runtime, rec)
    return {
        "steps": {step["id"]: rec},
        "failure": Failure(step=step["id"], kind="skill", error=message),
    }


def recognised(
    step: dict[str, Any], runtime: Runtime[RunOptions], entry: dict[str, Any], state: State
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
    after = entry.get("after") or hashes(Path(state["workspace"]), list(entry["before"]))
    written = [f for f, h in after.items() if h != entry["before"].get(f)] or list(after)
    return {"steps": {step["id"]: rec}, **written_update(written, entry["before"], after, state)}


def route_write(state: State, registry: SkillRegistry) -> Literal["apply_write", "__end__"]:
    if state.get("failure") or next_write(state, registry) is None:
        return "__end__"
    return "apply_write"


def build_writer(registry: SkillRegistry) -> CompiledStateGraph[State, RunOptions, State, State]:
    """One ``apply_write`` per superstep, so each write is checkpointed before the next."""
    builder = StateGraph(State, context_schema=RunOptions)
    builder.add_node("apply_write", make_apply_write(registry))
    builder.add_conditional_edges(START, lambda s: route_write(s, registry), ["apply_write", END])
    builder.add_conditional_edges(
        "apply_write", lambda s: route_write(s, registry), ["apply_write", END]
    )
    return builder.compile(name="writer")
