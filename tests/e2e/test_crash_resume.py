"""Kill the CLI with SIGKILL at each phase, resume, and get exactly the uninterrupted result."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from support.durable import cli, commits, make, report, tree
from support.repos import git, require_program

CRASH_POINTS = [
    "before-write:e2",  # after 1 of 4 writes, the second journaled but not applied
    # The second write of calc.py is on disk, its journal has no "after" yet: the first
    # write's recorded bytes are gone from the file, and that is no one else's change.
    "after-write:e2",
    "write-landed:e2",  # the second write is on disk, its checkpoint is not
    "write-landed:e4",  # every write on disk, the writer's last checkpoint missing
    "verify:tests",  # during the verify phase
    "before-commit",  # right before the commit
    "commit-landed",  # the commit exists, its checkpoint does not
]


@pytest.fixture(autouse=True)
def _programs() -> None:
    for name in ("git", "rg", "ruff"):
        require_program(name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], str, list[str]]:
    """What an uninterrupted run leaves: the tree, the commit's tree, the log."""
    repo, plan = make(tmp_path_factory.mktemp("reference"))
    out = cli("run", str(plan), "-w", str(repo))
    assert out.returncode == 0, out.stdout + out.stderr
    return tree(repo), git(repo, "rev-parse", "HEAD^{tree}").strip(), commits(repo)


def crash_and_resume(root: Path, point: str, *db: str) -> tuple[Path, dict[str, Any]]:
    repo, plan = make(root)
    killed = cli(
        "run",
        str(plan),
        "-w",
        str(repo),
        "--thread",
        "t1",
        *db,
        env={"PHASEGRAPH_FAILPOINT": point},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(root / "r.json"), *db)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return repo, report(root / "r.json")


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_resume_after_sigkill_matches_an_uninterrupted_run(
    point: str, tmp_path: Path, reference: tuple[dict[str, bytes], str, list[str]]
) -> None:
    files, commit_tree, log = reference
    repo, final = crash_and_resume(tmp_path, point)
    assert tree(repo) == files  # every write exactly once: a second "+ 10" would show here
    assert git(repo, "rev-parse", "HEAD^{tree}").strip() == commit_tree
    assert commits(repo) == log  # one commit, not two
    assert final["status"] == "completed"
    assert final["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert {s["status"] for s in final["steps"]} == {"done"}
    assert git(repo, "status", "--porcelain") == ""


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    assert cli("run", str(plan), "-w", str(repo), "--thread", "t1").returncode == 0
    before, log = tree(repo), commits(repo)
    again = cli("resume", "t1", "-w", str(repo))
    assert again.returncode == 0
    assert tree(repo) == before and commits(repo) == log


def test_resume_of_an_unknown_thread_is_bad_input(tmp_path: Path) -> None:
    repo, _ = make(tmp_path)
    out = cli("resume", "nope", "-w", str(repo))
    assert out.returncode == 2
    assert "no run with thread nope" in out.stderr


def test_history_lists_the_checkpoints(tmp_path: Path) -> None:
    repo, plan = make(tmp_path)
    assert cli("run", str(plan), "-w", str(repo), "--thread", "t1").returncode == 0
    out = cli("history", "t1", "-w", str(repo))
    assert out.returncode == 0
    for node in ("planner", "consolidate", "writer", "gate", "commit", "report", "(end)"):
        assert node in out.stdout
