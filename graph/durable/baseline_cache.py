"""Baselines kept across runs: a check on the same untouched tree, with the same tools, is not
run again.

A baseline is what a verify step finds on the tree before the run writes anything; the gate
needs it to tell new findings from old. It is kept in the workspace's ``.phasegraph/baselines``
(ignored by git, never committed) under a key of everything that decides its result:

- the tree: HEAD's tree and the bytes of every modified or untracked file (git's view);
- the check: the step's skill and arguments;
- the tools: the interpreter (path, version, and its site-packages folder's stamp, which moves
  when a package is installed or removed) and each program the skill runs (path and stamp).

A committing run also keeps its checks' findings as baselines, under the tree it committed: the
next run on top of that commit finds its untouched tree already checked (its checks ran on
exactly those bytes), so a chain of runs pays for each suite once per run, not twice.

Anything else that changes a check's result (an environment variable, a service a test talks
to) is outside the key: ``RunOptions.baseline_cache=False`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegraph.graph.model.run_store import file_hash
from phasegraph.skills.guards.gitrepo import dirty_files, run_git_sync
from phasegraph.skills.guards.procs import find_program
from phasegraph.skills.guards.workspace import atomic_write, state_dir
from phasegraph.skills.python.env.probe import probe
from phasegraph.skills.python.env.python_env import PythonEnv
from phasegraph.skills.registry import SkillRegistry

#: Bumped whenever what a kept baseline holds changes: older ones are never read.
_FORMAT = 2


def tree_key(workspace: Path, changed: list[str]) -> str | None:
    """A digest of the workspace's files as git sees them: HEAD's tree and the bytes of each
    of ``changed`` (its modified and untracked files); ``None`` with no commit (no cache)."""
    head = run_git_sync(workspace, "rev-parse", "--verify", "--quiet", "HEAD^{tree}")
    if head.returncode != 0:
        return None
    digest = hashlib.sha256(head.stdout.strip().encode())
    for rel in sorted(changed):
        digest.update(f"\0{rel}\0{file_hash(workspace / rel)}".encode())
    return digest.hexdigest()


def _stamp(path: str | None) -> str:
    if not path:
        return ""
    try:
        info = Path(path).stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{info.st_mtime_ns}:{info.st_size}"


@dataclass(frozen=True)
class BaselineCache:
    """The baselines of one workspace's tree (``tree`` from :func:`tree_key`)."""

    workspace: Path
    tree: str

    def key(self, step: dict[str, Any], registry: SkillRegistry, env: PythonEnv) -> str:
        skill = registry.get(step["skill"])
        programs = skill.programs if skill else ()
        found = probe(env)
        parts = [
            _FORMAT,
            self.tree,
            step["skill"],
            step.get("args", {}),
            # A check that selects by the run's writes (a targeted pytest) runs other tests for
            # other writes: the files planned are part of what it checked.
            step.get("planned_files"),
            _stamp(env.python),
            found.version,
            found.modules,
            _stamp(found.purelib),
            [_stamp(env.project_tool(p) or find_program(p)) for p in programs],
        ]
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return state_dir(self.workspace, "baselines") / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The kept baseline (``findings``, ``summary``), or ``None``."""
        try:
            found = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return (
            found if isinstance(found, dict) and isinstance(found.get("findings"), list) else None
        )

    def put(self, key: str, kept: dict[str, Any]) -> None:
        """Keep a baseline: ``findings``, ``summary``, what held and did not (``checked``,
        ``not_passed``) and, targeted, the test files it ran (``selected``)."""
        fields = ("findings", "summary", "checked", "not_passed", "selected")
        data = json.dumps({k: kept[k] for k in fields if k in kept}).encode()
        atomic_write(self._path(key), data)


def keep_checks(
    workspace: Path,
    checks: list[tuple[dict[str, Any], dict[str, Any]]],
    registry: SkillRegistry,
    env: PythonEnv,
) -> None:
    """Keep each of ``checks`` (a verify step, what it had after the writes: ``findings``,
    ``summary``, ``checked``, ``not_passed``) as the baseline of the tree the workspace holds
    now: call it right after the commit, so the tree is HEAD plus the user's own uncommitted
    files, exactly what the checks ran on. Blocking."""
    tree = tree_key(workspace, dirty_files(workspace))
    if tree is None:
        return
    cache = BaselineCache(workspace, tree)
    for step, kept in checks:
        cache.put(cache.key(step, registry, env), kept)
