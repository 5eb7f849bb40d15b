"""Remote repositories for the remote-run and campaign tests: bare repos on this disk, served
to the runs by ``file://`` URL, as a git server would serve them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.repos import git, init_repo

#: A small project whose one change (A grows) keeps its test green...
GROW_FILES = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "calc.py": "A = 1\n",
    "test_calc.py": "from calc import A\n\n\ndef test_a() -> None:\n    assert A > 0\n",
}
#: ...and one whose test pins the old value: the change breaks it there (blocked).
PINNED_FILES = {
    **GROW_FILES,
    "test_calc.py": "from calc import A\n\n\ndef test_a() -> None:\n    assert A == 1\n",
}
GROW_PLAN: dict[str, Any] = {
    "goal": "grow A",
    "steps": [
        {
            "id": "grow",
            "skill": "edit_block",
            "args": {"path": "calc.py", "search": "A = 1", "replace": "A = 11"},
        },
        {"id": "tests", "skill": "run_pytest"},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Grow A"}},
    ],
}


def bare_remote(root: Path, name: str, files: dict[str, str]) -> tuple[Path, str]:
    """A bare repository ``root/<name>.git`` holding ``files`` on ``main``; it and its URL."""
    seed = init_repo(root / "seeds" / name, files)
    bare = root / f"{name}.git"
    git(root, "clone", "-q", "--bare", str(seed), str(bare))
    return bare, bare.resolve().as_uri()


def branch_head(bare: Path, branch: str) -> str | None:
    """The commit ``branch`` of the bare repo points to (``None``: there is no such branch)."""
    out = git(bare, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}").strip()
    return out or None


def commits_on(bare: Path, branch: str, base: str = "main") -> list[str]:
    """The commits ``branch`` has on top of ``base``, newest first (their subjects)."""
    return git(bare, "log", "--format=%s", f"{base}..{branch}").splitlines()


def file_at(bare: Path, branch: str, rel: str) -> str:
    return git(bare, "show", f"{branch}:{rel}")
