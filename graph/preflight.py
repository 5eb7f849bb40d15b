"""Preflight: is the workspace and the machine ready for this plan? Checked before any step."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from phasegraph.graph.errors import PreflightError
from phasegraph.graph.plan import Plan
from phasegraph.skills.base import SkillKind
from phasegraph.skills.gitrepo import dirty_files, head_sha, is_git_repo, stash_create
from phasegraph.skills.procs import find_program
from phasegraph.skills.registry import SkillRegistry

INSTALL_HINTS = {
    "rg": "pip install 'ripgrep==14.1.0' (or apt-get install ripgrep)",
    "git": "apt-get install git",
    "ruff": "pip install ruff",
    "mypy": "pip install mypy",
}


@dataclass(frozen=True)
class Preflight:
    """What preflight learned about the workspace."""

    workspace: Path
    head: str | None = None
    dirty: list[str] = field(default_factory=list)
    stash: str | None = None


def preflight(
    plan: Plan,
    registry: SkillRegistry,
    workspace: str | Path,
    *,
    extra_programs: tuple[str, ...] = (),
) -> Preflight:
    """Check the workspace and the programs ``plan`` needs; raise :class:`PreflightError`.

    In a git repository, also record HEAD and the user's uncommitted files,
    which the run then refuses to write to: they are never overwritten nor committed.
    """
    root = Path(workspace).expanduser()
    if not root.is_dir():
        raise PreflightError(
            f"workspace {str(root)!r} is not a directory; pass --workspace with an existing folder"
        )
    root = root.resolve()
    skills = [registry.get(s.skill) for s in plan.steps]
    commits = any(s is not None and s.kind is SkillKind.COMMIT for s in skills)
    programs = {p for s in skills if s is not None for p in s.programs} | set(extra_programs)
    if commits:
        programs.add("git")
    missing = sorted(p for p in programs if find_program(p) is None)
    if missing:
        hints = "; ".join(
            f"{p}: {INSTALL_HINTS.get(p, 'install it and put it on PATH')}" for p in missing
        )
        raise PreflightError(f"the plan needs programs that are not installed: {hints}")
    in_git = find_program("git") is not None and is_git_repo(root)
    if commits and not in_git:
        raise PreflightError(
            f"the plan commits, but {root} is not a git repository; run `git init` there "
            "or remove the git_checkpoint step"
        )
    if not in_git:
        return Preflight(workspace=root)
    dirty = dirty_files(root)
    stash = stash_create(root) if dirty else None
    return Preflight(workspace=root, head=head_sha(root), dirty=dirty, stash=stash)


def preflight_problems(plan: Plan, registry: SkillRegistry, workspace: str | Path) -> list[str]:
    """:func:`preflight` as a list of problems (empty when it passes), for repair loops."""
    try:
        preflight(plan, registry, workspace)
    except PreflightError as exc:
        return [str(exc)]
    return []
