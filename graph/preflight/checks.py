"""Preflight: is the workspace and the machine ready for this plan? Checked before any step."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from phasegraph.graph.durable.baseline_cache import tree_key
from phasegraph.graph.model.plan import Plan
from phasegraph.graph.model.state import Environment
from phasegraph.graph.preflight.dry_run import dry_run_writes
from phasegraph.skills.base import SkillKind
from phasegraph.skills.core.errors import PreflightError, PythonEnvError
from phasegraph.skills.guards.gitrepo import (
    dirty_files,
    git_dir_problem,
    head_sha,
    is_git_repo,
    repo_state_problems,
)
from phasegraph.skills.guards.procs import find_program
from phasegraph.skills.guards.workspace import static_path_problem
from phasegraph.skills.python.env.discovery import (
    find_python_env,
    interpreter_path,
    unexpanded_problem,
)
from phasegraph.skills.python.env.foreign_imports import ForeignPackage, foreign_packages
from phasegraph.skills.python.env.probe import probe
from phasegraph.skills.python.env.python_env import PythonEnv, own_env
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
    python: PythonEnv = field(default_factory=own_env)
    python_version: str = ""
    #: A digest of the untouched tree (git's view), keying kept baselines; ``None`` outside git.
    tree: str | None = None

    def environment(self) -> Environment:
        """The interpreter the checks use, as the run's state and report carry it."""
        return Environment(
            python=self.python.python, source=self.python.source, version=self.python_version
        )


def preflight(
    plan: Plan,
    registry: SkillRegistry,
    workspace: str | Path,
    *,
    extra_programs: tuple[str, ...] = (),
    python: str | None = None,
) -> Preflight:
    """Check the workspace, the interpreter and the programs ``plan`` needs, and try its
    writes in memory; raise :class:`PreflightError` listing every problem.

    ``python`` (``RunOptions.python``) wins over the plan's own ``python``; without
    either, the workspace's environment is looked for (:func:`find_python_env`). In a git
    repository, also record HEAD and the user's uncommitted files, which the run then
    refuses to write to: they are never overwritten nor committed. A workspace that is
    git's own directory, or a repository in the middle of an operation (merge, rebase,
    cherry-pick, revert, bisect, conflicts) or locked by another git process, is refused.
    """
    root = Path(workspace).expanduser()
    if not root.is_dir():
        raise PreflightError(
            f"workspace {str(root)!r} is not a directory; pass --workspace with an existing folder"
        )
    root = root.resolve()
    inside_git_dir = git_dir_problem(root)
    if inside_git_dir:
        raise PreflightError(inside_git_dir)
    if python is None and plan.python is not None:
        # A plan is data (an LLM, a client of a server may write one): it may name an
        # interpreter inside the workspace only; one elsewhere is the operator's --python.
        # Resolved once: the path checked is the path used.
        python = _plan_interpreter(root, plan.python)
    env, version = _interpreter(plan, registry, root, python)
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
    if in_git:
        _refuse_repo_state(root)
    found = Preflight(workspace=root, python=env, python_version=version)
    if in_git:
        dirty = dirty_files(root)
        found = replace(found, head=head_sha(root), dirty=dirty, tree=tree_key(root, dirty))
    problems = dry_run_writes(plan, registry, root, found.dirty)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PreflightError(
            f"the plan's writes would fail ({len(problems)} problem(s)); nothing was run:\n{lines}"
        )
    return found


def _plan_interpreter(root: Path, given: str) -> str:
    """The plan's ``python`` as the absolute path it runs as; refused (:class:`PreflightError`)
    unless it lies in the workspace ``root`` (relative, no ``~`` nor ``$VARS``, no way out
    through ``..`` or a symlinked folder)."""
    problem = unexpanded_problem(given) or static_path_problem(given)
    path = interpreter_path(root, given) if problem is None else None
    if path is not None and not path.is_relative_to(root):
        problem = f"{given!r} leads out of the workspace (to {path})"
    if problem is not None or path is None:
        raise PreflightError(
            f"plan python {given!r}: {problem}; a plan names the project's "
            "interpreter inside the workspace (e.g. .venv/bin/python), any other one is "
            "given with --python (RunOptions.python)"
        )
    return str(path)


def _refuse_repo_state(root: Path) -> None:
    """Refuse a repository a run must not touch now, naming the way out of each state.

    Checked for every plan, not only one that commits: a consolidator may add writes and a
    commit after preflight, and a write into a half-done merge or rebase mixes the run's
    change into it.
    """
    problems = repo_state_problems(root)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PreflightError(
            f"the repository at {root} is not ready for a run; nothing was run:\n{lines}"
        )


def _interpreter(
    plan: Plan, registry: SkillRegistry, root: Path, python: str | None
) -> tuple[PythonEnv, str]:
    """The project's interpreter and its version, checked to have what the plan's checks need
    and, when the plan runs the project's code, to import the project's own packages from the
    workspace (:func:`~phasegraph.skills.python.pyenv.foreign_packages`), not a copy installed
    elsewhere: tests of such a copy pass whatever the run writes."""
    try:
        env = find_python_env(root, python)
        needed = sorted({m for s in plan.steps if (m := _needs_module(registry, s.skill))})
        if not needed and not any(_runs_python(registry, s.skill) for s in plan.steps):
            return env, ""
        found = probe(env, root if needed else None)
    except PythonEnvError as exc:
        raise PreflightError(str(exc)) from exc
    lacking = [m for m in needed if not found.has(m)]
    if lacking:
        raise PreflightError(
            f"the plan's checks need {', '.join(lacking)}, which {env.describe()} does not "
            f"have; install it there ({env.python} -m pip install {' '.join(lacking)}) "
            "or pass --python with the project's interpreter"
        )
    foreign = foreign_packages(root, found) if needed else []
    if foreign:
        raise PreflightError(_foreign_problem(env, foreign))
    return env, found.version


def added_checks_problem(
    plan: Plan, added: list[str], registry: SkillRegistry, root: Path, python: str | None
) -> str | None:
    """Why the checks a consolidation ``added`` (skill names) cannot run as the final ``plan``
    needs them, when preflight did not check for them (the plan had no such check then): the
    interpreter checks of preflight (the module they need, and the project's packages from
    the workspace), or ``None``. Blocking (runs the interpreter once)."""
    if not any(_needs_module(registry, name) for name in added):
        return None
    try:
        _interpreter(plan, registry, root, python)
    except PreflightError as exc:
        return str(exc)
    return None


def _needs_module(registry: SkillRegistry, name: str) -> str | None:
    skill = registry.get(name)
    return skill.needs_module if skill else None


def _foreign_problem(env: PythonEnv, foreign: list[ForeignPackage]) -> str:
    """Which of the project's packages the tests would import from elsewhere, and the way out."""
    lines = []
    for package in foreign[:5]:
        if package.installed_here:
            how = "installed beside phasegraph" if env.own else "installed in it, not editable"
        elif {"site-packages", "dist-packages"} & set(Path(package.origin).parts):
            how = "an installed copy"
        elif Path(package.origin).is_absolute():
            how = "outside the workspace"
        else:
            how = f"Python's {package.origin} module"
        lines.append(
            f"  - {package.name}: from {package.origin} ({how}), "
            f"not from the workspace's {' or '.join(package.defined)}"
        )
    if len(foreign) > 5:
        lines.append(f"  - and {len(foreign) - 5} more")
    if env.own:
        fix = (
            "create the project's environment in the workspace (python -m venv .venv, then "
            ".venv/bin/python -m pip install -e . and its test dependencies), or pass --python "
            "with the project's interpreter"
        )
    else:
        runner = {
            "tox": " (tox: package = editable)",
            "nox": ' (nox: session.install("-e", "."))',
        }.get(env.kind, "")
        fix = (
            f"install the project editable there ({env.python} -m pip install -e .{runner}), "
            "or pass --python with an interpreter that imports it from the workspace"
        )
    if any(p.startswith("src/") for package in foreign for p in package.defined):
        fix += (
            "; tests that put src/ on sys.path themselves: say it in pytest's configuration "
            '(pythonpath = ["src"]), which preflight reads'
        )
    who = (
        f"phasegraph's own interpreter ({env.python}, taken because no project environment "
        "was found)"
        if env.own
        else env.describe()
    )
    return (
        f"the tests would not test the workspace's code: {who} imports the project's own "
        "packages from elsewhere:\n" + "\n".join(lines) + "\nthe checks would run against "
        f"those copies, never against the run's changes; {fix}"
    )


def warm_interpreter(root: Path, python: str | None) -> None:
    """Probe the project's interpreter now (kept for the process), where its packages come from
    included, so the preflight of a plan still being written (an LLM planner's) does not wait
    for it; a problem is left for that preflight to report. Blocking: call it in a worker
    thread."""
    with contextlib.suppress(PythonEnvError):
        probe(find_python_env(root, python), root)


def _runs_python(registry: SkillRegistry, name: str) -> bool:
    skill = registry.get(name)
    return skill is not None and skill.kind is SkillKind.VERIFY
