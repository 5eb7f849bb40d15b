"""The writes of a plan tried in memory, in plan order, before any step runs.

A plan mistake (an edit on a file that is not there, a search text that
matches twice, a target holding the user's uncommitted work) then costs a
second, not a baseline run, and never leaves earlier edits half-applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

from phasegraph.graph.model.plan import Plan, PlanStep, Step
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import WorkspaceViolation
from phasegraph.skills.format_code import with_earlier_files
from phasegraph.skills.guards.workspace import resolve_in_workspace, workspace_relative
from phasegraph.skills.registry import SkillRegistry


def dry_run_writes(
    plan: Plan, registry: SkillRegistry, workspace: Path, dirty: Iterable[str] = ()
) -> list[str]:
    """Every problem the plan's writes would hit, found without writing anything.

    Applies each write its skill can try in memory (:attr:`Skill.in_memory`: edit_block,
    write_file), in order, to copies of the files: an edit's target must exist (or be
    written by an earlier write) and its search must match exactly once in the file as the
    earlier writes leave it, as the edit itself matches it. No write may target a file in
    ``dirty`` (the user's uncommitted changes). Files other write skills touch (fix_imports,
    format: their files as :func:`resolved_writes` names them) are not followed.
    """
    problems: list[str] = []
    theirs = set(dirty)
    # path -> text as the writes leave it, line ends and all (None: unknown)
    files: dict[str, str | None] = {}
    others: set[str] = set()  # paths other write skills touch: not followed

    def text_of(rel: str) -> str | None:
        if rel not in files:
            files[rel] = file_text(workspace, rel)
        return files[rel]

    writes = [step for step in plan.steps if _is_write(step.skill, registry)]
    resolved = resolved_writes([step.as_plan_step() for step in writes], registry, workspace)
    for step, raw in zip(writes, resolved, strict=True):
        paths = target_files(raw, registry, workspace)
        for mine in sorted(set(paths) & theirs):
            problems.append(
                f"step {step.id!r}: {mine} has uncommitted changes of yours that this run would "
                "overwrite or commit; commit or stash them first, then run again"
            )
        skill = registry.get(step.skill)
        if skill is None or skill.in_memory is None or len(paths) != 1:
            for path in paths:
                files[path] = None
                others.add(path)
            continue
        (rel,) = paths
        if rel in others:  # after a write not followed in memory: its text is not known
            continue
        fresh = rel not in files
        text = text_of(rel)
        if text is None and fresh and (workspace / rel).exists():
            continue  # there but not text: the write itself says what it makes of it
        tried = skill.in_memory(step.args, rel, text)
        if tried.problem is not None:
            where = (
                f" (on {rel} as the plan's earlier writes leave it)"
                if _edited_before(plan, step, rel, registry, workspace)
                else ""
            )
            problems.append(f"step {step.id!r}{where}: {tried.problem}")
        elif tried.text is not None:
            files[rel] = tried.text
    return problems


def file_text(workspace: Path, rel: str) -> str | None:
    """``rel`` as a write reads it (its bytes decoded as UTF-8, no newline translation);
    ``None`` when it is not there or not text."""
    try:
        path = resolve_in_workspace(workspace, rel)
        return path.read_bytes().decode("utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError, WorkspaceViolation):
        return None


def _is_write(name: str, registry: SkillRegistry) -> bool:
    skill = registry.get(name)
    return skill is not None and skill.kind is SkillKind.WRITE


def resolved_writes(
    steps: Iterable[PlanStep], registry: SkillRegistry, workspace: Path
) -> list[PlanStep]:
    """The write steps as they run, in plan order: a ``format`` step naming no files names
    the Python files every earlier write step targets
    (:func:`~phasegraph.skills.format_code.with_earlier_files`), so its targets are known
    before it runs, like any write's. Blocking (paths are resolved)."""
    out: list[PlanStep] = []
    earlier: list[str] = []
    for step in steps:
        step = cast(PlanStep, with_earlier_files(step, earlier))  # the same keys, args filled in
        earlier += target_files(step, registry, workspace)
        out.append(step)
    return out


def step_paths(step: PlanStep, registry: SkillRegistry) -> list[str]:
    """The paths a step's args name (its skill's :class:`PathArg` fields), as the plan gives
    them."""
    skill = registry.get(step["skill"])
    out: list[str] = []
    for name in skill.path_fields() if skill else []:
        value = step.get("args", {}).get(name)
        out += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return out


def target_files(step: PlanStep, registry: SkillRegistry, workspace: Path) -> list[str]:
    """The files a write step targets, as git and the skills name them (``./a.py`` → ``a.py``);
    paths that do not resolve inside the workspace are left out (validation names them)."""
    out: list[str] = []
    for rel in step_paths(step, registry):
        try:
            out.append(workspace_relative(workspace, resolve_in_workspace(workspace, rel)))
        except (WorkspaceViolation, ValueError):
            continue
    return out


def _edited_before(
    plan: Plan, step: Step, rel: str, registry: SkillRegistry, workspace: Path
) -> bool:
    """Whether a write tried in memory before ``step`` wrote ``rel``."""
    for other in plan.steps:
        if other.id == step.id:
            return False
        skill = registry.get(other.skill)
        tried = skill is not None and skill.in_memory is not None
        if tried and rel in target_files(other.as_plan_step(), registry, workspace):
            return True
    return False
