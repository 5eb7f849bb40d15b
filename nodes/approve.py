"""The approval node: pause before the first write until a person approves every write."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from phasegraph.graph.context import RunOptions
from phasegraph.graph.dry_run import step_paths
from phasegraph.graph.state import Failure, State
from phasegraph.nodes.plan_view import steps_of
from phasegraph.nodes.types import StateNode
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry

#: Lines of a whole-file write shown in the approval request.
PREVIEW_LINES = 40
#: Characters of a whole-file write shown in the approval request, at most.
PREVIEW_CHARS = 4000
#: What a paused run asks for, and how to answer it.
HOW_TO_ANSWER = 'resume with {"approve": true}, or {"approve": false, "reason": "..."} to stop'


def preview(text: str) -> dict[str, Any]:
    """The start of ``text`` with its size, for a whole-file write."""
    lines = text.splitlines(keepends=True)
    shown = "".join(lines[:PREVIEW_LINES])[:PREVIEW_CHARS]
    return {
        "content_preview": shown,
        "content_lines": len(lines),
        "content_bytes": len(text.encode("utf-8")),
        "content_truncated": len(shown) < len(text),
    }


def describe_write(step: dict[str, Any], registry: SkillRegistry) -> dict[str, Any]:
    """One write as a person approves it: id, skill, paths and exactly what changes."""
    args = dict(step.get("args", {}))
    row: dict[str, Any] = {
        "id": step["id"],
        "skill": step["skill"],
        "paths": step_paths(step, registry),
    }
    if isinstance(args.get("content"), str):
        row.update(preview(args.pop("content")))
    row["args"] = args
    return row


def approval_request(state: State, registry: SkillRegistry) -> dict[str, Any]:
    """What the run asks a person (the ``interrupt`` value): every write, then what follows."""
    commit = steps_of(state, registry, SkillKind.COMMIT)
    return {
        "kind": "approve_writes",
        "goal": state.get("plan", {}).get("goal", ""),
        "workspace": state.get("workspace", ""),
        "writes": [describe_write(s, registry) for s in steps_of(state, registry, SkillKind.WRITE)],
        "verifies": [s["id"] for s in steps_of(state, registry, SkillKind.VERIFY)],
        "commit": commit[0].get("args", {}).get("message") if commit else None,
        "answer": HOW_TO_ANSWER,
    }


def is_approval(answer: object) -> tuple[bool, str]:
    """(approved, reason) from a resume value; anything but a clear yes is a no."""
    if isinstance(answer, dict):
        reason = str(answer.get("reason") or "")
        return answer.get("approve") is True, reason
    if isinstance(answer, bool):
        return answer, ""
    if isinstance(answer, str):
        return answer.strip().lower() in ("approve", "approved", "yes", "y"), ""
    return False, ""


def make_approve(registry: SkillRegistry) -> StateNode:
    """A node that pauses with :func:`approval_request` and stops the run unless approved.

    Resuming re-runs the node from the start (LangGraph's ``interrupt``), which
    is safe: it only reads the state until the answer comes.
    """

    async def approve(state: State, *, runtime: Runtime[RunOptions]) -> dict[str, Any]:
        if not steps_of(state, registry, SkillKind.WRITE):
            return {}  # nothing will be written: nothing to approve
        answer = interrupt(approval_request(state, registry))
        ok, reason = is_approval(answer)
        if ok:
            return {}
        why = f": {reason}" if reason else ""
        return {
            "failure": Failure(
                step=None,
                kind="rejected",
                error=f"the writes were not approved{why}; nothing was written",
            )
        }

    return approve
