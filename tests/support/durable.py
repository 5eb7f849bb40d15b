"""Shared by the durable-run tests: the CLI as a real process, and a repo with edits that show
a double application (each replace still contains its search text)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.repos import git, init_repo, snapshot

FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "calc.py": "A = 1\nB = 2\n",
    "more.py": "C = 3\n",
    "test_calc.py": "from calc import A, B\n\n\ndef test_values() -> None:\n    assert A + B > 0\n",
}

PLAN = {
    "goal": "grow the constants",
    "steps": [
        {"id": "find", "skill": "rg_search", "args": {"pattern": "= [0-9]"}},
        {
            "id": "e1",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "A = 1", "replace": "A = 1 + 10"},
        },
        {
            "id": "e2",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "B = 2", "replace": "B = 2 + 20"},
        },
        {
            "id": "e3",
            "skill": "edit_block",
            "args": {"path": "more.py", "search": "C = 3", "replace": "C = 3 + 30"},
        },
        {"id": "e4", "skill": "write_file", "args": {"path": "pkg/new.py", "content": "D = 4\n"}},
        {"id": "lint", "skill": "run_ruff"},
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Grow the constants"}},
    ],
}


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def make(root: Path, extra: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A fresh repo and the plan file beside it."""
    repo = init_repo(root / "repo", {**FILES, **(extra or {})})
    plan = root / "plan.json"
    plan.write_text(json.dumps(PLAN))
    return repo, plan


def tree(repo: Path) -> dict[str, bytes]:
    """The working tree, without phasegraph's own run folder."""
    return {k: v for k, v in snapshot(repo).items() if not k.startswith(".phasegraph/")}


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


def report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def killed_at(point: str, plan: Path, repo: Path, thread: str = "t1") -> None:
    """Run ``plan`` on ``repo`` through the CLI, as thread ``thread``, until the failpoint
    ``point`` kills it (SIGKILL, as a power cut would)."""
    killed = cli(
        "run", str(plan), "-w", str(repo), "--thread", thread, env={"PHASEGRAPH_FAILPOINT": point}
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
