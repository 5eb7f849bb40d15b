"""``phasegraph validate -w`` checks a rename recipe's arguments against the workspace."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import require_program, write

MakeRepo = Callable[[dict[str, str]], Path]
FILES = {"pkg/config.py": "def load() -> None: ...\n", "README.md": "load\n"}


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg"):
        require_program(name)


def validate(plan: Path, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasegraph.cli.main", "validate", str(plan), "-w", str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def rename_plan(root: Path, args: str) -> Path:
    return write(
        root,
        "plan.yaml",
        f"goal: rename\nrecipe:\n  name: rename\n  args: {{{args}, verify: []}}\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            "old: load, new: read, defined_in: pkg/gone.py",
            "recipe rename: defined_in: pkg/gone.py is not a file in",
        ),
        ("old: load, new: read, defined_in: README.md", "README.md is not a Python file"),
        ("old: load, new: load", "old and new are the same name ('load'); give the new name"),
    ],
)
def test_a_rename_that_cannot_work_exits_2_naming_the_fix(
    make_repo: MakeRepo, tmp_path: Path, args: str, message: str
) -> None:
    workspace = make_repo(FILES)
    out = validate(rename_plan(tmp_path, args), workspace)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr


def test_a_rename_whose_defined_in_is_there_is_valid(make_repo: MakeRepo, tmp_path: Path) -> None:
    workspace = make_repo(FILES)
    plan = rename_plan(tmp_path, "old: load, new: read, defined_in: pkg/config.py")
    out = validate(plan, workspace)
    assert out.returncode == 0, out.stderr
    assert "valid plan" in out.stdout
