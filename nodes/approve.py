"""The approval node: pause before the first write until a person approves every write."""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from phasegraph.graph.model.context import RunOptions
from phasegraph.graph.model.node import StateNode
from phasegraph.graph.model.plan import PlanStep
from phasegraph.graph.model.state import Failure, State
from phasegraph.graph.model.steps import steps_of
from phasegraph.graph.preflight.dry_run import file_text, step_paths, target_files
from phasegraph.skills.base import SkillKind
from phasegraph.skills.registry import SkillRegistry

#: Lines of a whole-file write shown in the approval request.
PREVIEW_LINES = 40
#: Characters of a whole-file write shown in the approval request, at most.
PREVIEW_CHARS = 4000
#: Lines of one file's unified diff shown in the approval request, at most.
DIFF_LINES = 400
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


def describe_write(step: PlanStep, registry: SkillRegistry) -> dict[str, Any]:
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


def file_changes(
    writes: list[PlanStep], registry: SkillRegistry, workspace: Path
) -> list[dict[str, Any]]:
    """What the writes do to each file, as one unified diff from its bytes on disk to what
    they leave (edits and whole-file writes applied in memory, in order, with the matcher
    the edit and the dry run use), however many writes make it: a re-sorted ``__all__``
    reads as the lines it moves, not as edits whose lines shift under each other.

    Each row: ``path``, ``writes`` (the ids that change it), ``diff`` (``None`` when it
    cannot be worked out in memory), ``diff_omitted`` (the diff's lines past
    :data:`DIFF_LINES`, not shown) and ``then``: later writes of other skills (such as
    ``fix_imports``) that change the file further, not shown. Blocking (reads files).
    """
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    ids: dict[str, list[str]] = {}
    then: dict[str, list[str]] = {}
    for step in writes:
        args = step.get("args", {})
        skill = step["skill"]
        paths = target_files(step, registry, workspace)
        tried = registry.get(skill)
        if tried is None or tried.in_memory is None or len(paths) != 1:
            for rel in paths:
                then.setdefault(rel, []).append(step["id"])
            continue
        (rel,) = paths
        if rel in then:  # after a write not followed in memory: the rest is not known either
            then[rel].append(step["id"])
            continue
        if rel not in before:
            before[rel] = after[rel] = file_text(workspace, rel)
        ids.setdefault(rel, []).append(step["id"])
        after[rel] = _after(registry, skill, args, rel, after[rel])
    rows = []
    for rel, made in ids.items():
        old, new = before[rel], after[rel]
        exists = (workspace / rel).is_file()
        lines = None if new is None or (old is None and exists) else _diff(rel, old, new)
        rows.append(
            {
                "path": rel,
                "writes": made,
                "diff": "".join(lines[:DIFF_LINES]) if lines is not None else None,
                "diff_omitted": max(0, len(lines) - DIFF_LINES) if lines is not None else 0,
                "then": then.get(rel, []),
            }
        )
    return rows


def _after(
    registry: SkillRegistry, skill: str, args: dict[str, Any], rel: str, text: str | None
) -> str | None:
    """``text`` once one write tried in memory is applied (``None``: not known)."""
    found = registry.get(skill)
    if found is None or found.in_memory is None:
        return None
    return found.in_memory(args, rel, text).text


def _diff(rel: str, old: str | None, new: str) -> list[str]:
    """The unified diff of ``rel`` from ``old`` (``None``: a new file) to ``new``, as lines,
    a missing final newline marked as git marks it."""

    def lines(text: str | None) -> list[str]:
        out = (text or "").splitlines(keepends=True)
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    source = "/dev/null" if old is None else f"a/{rel}"
    return list(difflib.unified_diff(lines(old), lines(new), source, f"b/{rel}"))


def approval_request(state: State, registry: SkillRegistry) -> dict[str, Any]:
    """What the run asks a person (the ``interrupt`` value): every write, the unified diff of
    every file they change (:func:`file_changes`), then what follows. Blocking (reads files)."""
    commit = steps_of(state, registry, SkillKind.COMMIT)
    writes = steps_of(state, registry, SkillKind.WRITE)
    workspace = state.get("workspace", "")
    return {
        "kind": "approve_writes",
        "goal": state.get("plan", {}).get("goal", ""),
        "workspace": workspace,
        "writes": [describe_write(s, registry) for s in writes],
        "files": file_changes(writes, registry, Path(workspace)) if workspace else [],
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
        # Reading the files is blocking: a worker thread, then the pause on the node's own.
        answer = interrupt(await asyncio.to_thread(approval_request, state, registry))
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
