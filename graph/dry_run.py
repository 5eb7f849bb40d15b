"""The writes of a plan tried in memory, in plan order, before any step runs.

A plan mistake (an edit on a file that is not there, a search text that
matches twice, a target holding the user's uncommitted work) then costs a
second, not a baseline run, and never leaves earlier edits half-applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from phasegraph.graph.plan import Plan, Step
from phasegraph.skills.base import SkillKind
from phasegraph.skills.edit_block import match_block
from phasegraph.skills.errors import WorkspaceViolation
from phasegraph.skills.format_code import with_earlier_files
from phasegraph.skills.registry import SkillRegistry
from phasegraph.skills.workspace import resolve_in_workspace, workspace_relative


def dry_run_writes(
    plan: Plan, registry: SkillRegistry, workspace: Path, dirty: Iterable[str] = ()
) -> list[str]:
    """Every problem the plan's writes would hit, found without writing anything.

    Applies the edit_block and write_file steps, in order, to copies of the files in
    memory: an edit's target must exist (or be written by an earlier write_file) and its
    search must match exactly once in the file as the earlier writes leave it, as the edit
    itself matches it (:func:`~phasegraph.skills.edit_block.match_block`). No write
    may target a file in ``dirty`` (the user's uncommitted changes). Files other write
    skills touch (fix_imports, format: their files as :func:`resolved_writes` names them)
    are not followed.
    """
    problems: list[str] = []
    theirs = set(dirty)
    # path -> text as the writes leave it, line ends and all (None: unknown)
    files: dict[str, str | None] = {}
    others: set[str] = set()  # paths other write skills touch: not followed

    def text_of(rel: str) -> str | None:
        if rel not in files:
            try:
                path = resolve_in_workspace(workspace, rel)
                # Bytes decoded as the edit decodes them: no newline translation.
                files[rel] = path.read_bytes().decode("utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError, WorkspaceViolation):
                files[rel] = None
        return files[rel]

    writes = [step for step in plan.steps if _is_write(step.skill, registry)]
    resolved = resolved_writes([step.model_dump() for step in writes], registry, workspace)
    for step, raw in zip(writes, resolved, strict=True):
        targets = step_paths(raw, registry)
        for mine in sorted(set(target_files(raw, registry, workspace)) & theirs):
            problems.append(
                f"step {step.id!r}: {mine} has uncommitted changes of yours that this run would "
                "overwrite or commit; commit or stash them first, then run again"
            )
        rel = step.args.get("path")
        if step.skill == "write_file" and isinstance(rel, str):
            content = step.args.get("content")
            files[rel] = content if isinstance(content, str) else None
        elif step.skill == "edit_block" and isinstance(rel, str):
            text = text_of(rel)
            if text is not None:
                problem = _try_edit(step, rel, text, files, plan)
                if problem:
                    problems.append(problem)
            elif rel not in others and not (workspace / rel).exists():
                problems.append(f"step {step.id!r}: {rel} does not exist; use write_file")
        else:
            for path in targets:
                files[path] = None
                others.add(path)
    return problems


def _try_edit(
    step: Step,
    rel: str,
    text: str,
    files: dict[str, str | None],
    plan: Plan,
) -> str | None:
    search, replace = step.args.get("search"), step.args.get("replace")
    if not isinstance(search, str) or not isinstance(replace, str) or not search:
        return None  # the args check names it
    found = match_block(rel, text, search, replace)
    if not isinstance(found, str):
        files[rel] = found.apply(text)
        return None
    problem = found
    where = (
        f" (on {rel} as the plan's earlier writes leave it)"
        if _edited_before(plan, step, rel)
        else ""
    )
    return f"step {step.id!r}{where}: {problem}"


def _is_write(name: str, registry: SkillRegistry) -> bool:
    skill = registry.get(name)
    return skill is not None and skill.kind is SkillKind.WRITE


def resolved_writes(
    steps: Iterable[dict[str, Any]], registry: SkillRegistry, workspace: Path
) -> list[dict[str, Any]]:
    """The write steps as they run, in plan order: a ``format`` step naming no files names
    the Python files every earlier write step targets
    (:func:`~phasegraph.skills.format_code.with_earlier_files`), so its targets are known
    before it runs, like any write's. Blocking (paths are resolved)."""
    out: list[dict[str, Any]] = []
    earlier: list[str] = []
    for step in steps:
        step = with_earlier_files(step, earlier)
        earlier += target_files(step, registry, workspace)
        out.append(step)
    return out


def step_paths(step: dict[str, Any], registry: SkillRegistry) -> list[str]:
    """The paths a step's args name (its skill's :class:`PathArg` fields), as the plan gives
    them."""
    skill = registry.get(step["skill"])
    out: list[str] = []
    for name in skill.path_fields() if skill else []:
        value = step.get("args", {}).get(name)
        out += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return out


def target_files(step: dict[str, Any], registry: SkillRegistry, workspace: Path) -> list[str]:
    """The files a write step targets, as git and the skills name them (``./a.py`` → ``a.py``);
    paths that do not resolve inside the workspace are left out (validation names them)."""
    out: list[str] = []
    for rel in step_paths(step, registry):
        try:
            out.append(workspace_relative(workspace, resolve_in_workspace(workspace, rel)))
        except (WorkspaceViolation, ValueError):
            continue
    return out


def _edited_before(plan: Plan, step: Step, rel: str) -> bool:
    for other in plan.steps:
        if other.id == step.id:
            return False
        if other.args.get("path") == rel and other.skill in ("edit_block", "write_file"):
            return True
    return False
