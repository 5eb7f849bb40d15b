"""Whole runs on real repositories in states a run must not touch, and a commit that fails.

A merge, rebase, cherry-pick, revert or bisect in progress, a held ``index.lock``, a bare
repository or a git directory given as the workspace: each is refused at preflight, before
any write, with the fix named. A commit refused by a real pre-commit hook leaves the index
exactly as it began. A resume after the user committed reports where the run's change is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.durable import cli, report
from support.repos import GIT_ID, git, init_repo, require_program, run_collecting, snapshot, write

BASE = {"a.py": "A = 1\n", "b.py": "B = 1\n"}

PLAN = {
    "goal": "grow A and add a module",
    "steps": [
        {
            "id": "edit",
            "skill": "edit_block",
            "args": {"path": "a.py", "search": "A = 1", "replace": "A = 2"},
        },
        {"id": "add", "skill": "write_file", "args": {"path": "new.py", "content": "N = 1\n"}},
        {"id": "commit", "skill": "git_checkpoint", "args": {"message": "Grow A"}},
    ],
}


@pytest.fixture(autouse=True)
def _programs() -> None:
    require_program("git")


def git_status_code(repo: Path, *args: str) -> int:
    """Run git (a command expected to stop on a conflict); its exit code."""
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, check=False)
    return done.returncode


def diverged(repo: Path) -> None:
    """Branch ``other`` and ``main`` both change b.py (a conflict), each in one commit."""
    git(repo, "checkout", "-q", "-b", "other")
    write(repo, "b.py", "B = 'other'\n")
    git(repo, "commit", "-q", "-am", "other's B")
    git(repo, "checkout", "-q", "main")
    write(repo, "b.py", "B = 'main'\n")
    git(repo, "commit", "-q", "-am", "main's B")


def merge_with_conflicts(repo: Path) -> None:
    diverged(repo)
    assert git_status_code(repo, "merge", "other") != 0


def merge_without_conflicts(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    write(repo, "c.py", "C = 1\n")
    git(repo, "add", "c.py")
    git(repo, "commit", "-q", "-m", "other's C")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "other")


def rebase_with_conflicts(repo: Path) -> None:
    diverged(repo)
    git(repo, "checkout", "-q", "other")
    assert git_status_code(repo, "rebase", "main") != 0


def rebase_stopped_to_edit(repo: Path) -> None:
    write(repo, "b.py", "B = 2\n")
    git(repo, "commit", "-q", "-am", "second")
    editor = ["-c", "sequence.editor=sed -i 1s/^pick/edit/"]
    git(repo, *editor, "rebase", "-q", "-i", "HEAD~1")


def cherry_pick_with_conflicts(repo: Path) -> None:
    diverged(repo)
    assert git_status_code(repo, "cherry-pick", "other") != 0


def revert_with_conflicts(repo: Path) -> None:
    write(repo, "b.py", "B = 2\n")
    git(repo, "commit", "-q", "-am", "second")
    write(repo, "b.py", "B = 3\n")
    git(repo, "commit", "-q", "-am", "third")
    assert git_status_code(repo, "revert", "--no-edit", "HEAD~1") != 0


def bisecting(repo: Path) -> None:
    git(repo, "bisect", "start")


def index_locked(repo: Path) -> None:
    (repo / ".git" / "index.lock").write_text("")


STATES: dict[str, tuple[Callable[[Path], None], str]] = {
    "merge with conflicts": (merge_with_conflicts, "git merge --abort"),
    "merge without conflicts": (merge_without_conflicts, "git merge --continue"),
    "rebase with conflicts": (rebase_with_conflicts, "git rebase --abort"),
    "rebase stopped to edit": (rebase_stopped_to_edit, "git rebase --continue"),
    "cherry-pick": (cherry_pick_with_conflicts, "git cherry-pick --abort"),
    "revert": (revert_with_conflicts, "git revert --abort"),
    "bisect": (bisecting, "git bisect reset"),
    "index.lock": (index_locked, "remove"),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_a_repository_in_the_middle_of_something_is_refused_before_any_write(
    state: str, tmp_path: Path
) -> None:
    repo = init_repo(tmp_path / "repo", BASE)
    make_state, fix = STATES[state]
    make_state(repo)
    before, head = snapshot(repo), git(repo, "rev-parse", "HEAD")

    result, _ = await run_collecting(PLAN, repo)

    assert result.status == "stopped"
    assert result.failure_kind == "preflight", result.error
    assert fix in (result.error or "")
    assert result.written == []
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "HEAD") == head


def test_the_refusal_names_the_operation_the_conflicts_and_both_ways_out(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", BASE)
    merge_with_conflicts(repo)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))

    out = cli("run", str(plan), "-w", str(repo))

    assert out.returncode == 2, out.stdout + out.stderr
    assert "a merge is in progress" in out.stderr
    assert "b.py" in out.stderr  # the file in conflict
    assert "git merge --continue" in out.stderr and "git merge --abort" in out.stderr
    assert not (repo / "new.py").exists()


WRITES_GIT_FILES = {
    "goal": "write where git keeps its own files",
    "steps": [
        {
            "id": "hook",
            "skill": "write_file",
            "args": {"path": "hooks/post-checkout", "content": "x"},
        },
        {"id": "cfg", "skill": "write_file", "args": {"path": "config", "content": "[core]\n"}},
    ],
}


def bare(tmp_path: Path) -> Path:
    repo = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(repo))
    return repo


def dot_git(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "repo", BASE) / ".git"


def inside_dot_git(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "repo", BASE) / ".git" / "refs"


@pytest.mark.parametrize("where", [bare, dot_git, inside_dot_git])
async def test_a_git_directory_is_never_a_workspace(
    where: Callable[[Path], Path], tmp_path: Path
) -> None:
    workspace = where(tmp_path)
    config = (workspace / "config").read_bytes() if (workspace / "config").exists() else None

    result, _ = await run_collecting(WRITES_GIT_FILES, workspace)

    assert result.status == "stopped"
    assert result.failure_kind == "preflight", result.error
    assert "git directory" in (result.error or "") or "bare" in (result.error or "")
    assert "--workspace" in (result.error or "")
    assert not (workspace / "hooks" / "post-checkout").exists()
    now = (workspace / "config").read_bytes() if (workspace / "config").exists() else None
    assert now == config


REFUSING_HOOK = "#!/bin/sh\necho 'lint: trailing whitespace in a.py' >&2\nexit 1\n"


def refusing_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repo whose real pre-commit hook refuses every commit, the user's new file staged."""
    repo = init_repo(tmp_path / "repo", BASE)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(REFUSING_HOOK)
    hook.chmod(0o755)
    write(repo, "notes.txt", "the user's own, staged\n")
    git(repo, "add", "notes.txt")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    return repo, plan


def index_of(repo: Path) -> tuple[str, str]:
    """What the index holds: every entry, and the staged diff."""
    return git(repo, "ls-files", "--stage"), git(repo, "diff", "--cached")


def test_a_commit_a_hook_refuses_leaves_the_index_as_it_began_and_undo_restores(
    tmp_path: Path,
) -> None:
    repo, plan = refusing_repo(tmp_path)
    before, index, head = snapshot(repo), index_of(repo), git(repo, "rev-parse", "HEAD")

    out = cli("run", str(plan), "-w", str(repo), "--thread", "t1", "--report", str(tmp_path / "r"))

    assert out.returncode == 1, out.stdout + out.stderr
    final = report(tmp_path / "r")
    assert (final["status"], final["failed_step"], final["commit"]) == ("stopped", "commit", None)
    assert "pre-commit" in final["error"] and "trailing whitespace" in final["error"]
    assert "git commit" in final["error"] and "undo" in final["error"]
    assert index_of(repo) == index  # only the user's staged notes.txt, as before the run
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain").splitlines() == [
        " M a.py",
        "A  notes.txt",
        "?? new.py",
    ]

    undone = cli("undo", "t1", "-w", str(repo))

    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert snapshot(repo) == before
    assert index_of(repo) == index


def test_the_printed_undo_commands_leave_nothing_staged(tmp_path: Path) -> None:
    repo, plan = refusing_repo(tmp_path)
    before, index = snapshot(repo), index_of(repo)
    out = cli("run", str(plan), "-w", str(repo), "--report", str(tmp_path / "r"))
    assert out.returncode == 1, out.stdout + out.stderr

    commands = report(tmp_path / "r")["undo"]
    assert commands == [f"phasegraph undo {report(tmp_path / 'r')['thread']} -w {repo}"]
    # As a user runs them: phasegraph installed, its command on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for command in commands:
        subprocess.run(command, shell=True, cwd=repo, check=True, env={**os.environ, "PATH": path})

    assert snapshot(repo) == before
    assert index_of(repo) == index


def crashed_at(tmp_path: Path, point: str) -> tuple[Path, str]:
    """A run of PLAN killed at ``point``; the repo and HEAD at the run's start."""
    repo = init_repo(tmp_path / "repo", BASE)
    start = git(repo, "rev-parse", "HEAD").strip()
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    killed = cli(
        "run", str(plan), "-w", str(repo), "--thread", "t1", env={"PHASEGRAPH_FAILPOINT": point}
    )
    assert killed.returncode < 0, killed.stdout + killed.stderr
    return repo, start


def commit_row(final: dict[str, object]) -> dict[str, str]:
    steps = final["steps"]
    assert isinstance(steps, list)
    rows: list[dict[str, str]] = [s for s in steps if s["id"] == "commit"]
    return rows[0]


def test_a_resume_after_the_user_committed_on_top_finds_the_runs_commit(tmp_path: Path) -> None:
    repo, start = crashed_at(tmp_path, "commit-landed")
    run_commit = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", "HEAD~1").strip() == start
    write(repo, "b.py", "B = 'user, after the run'\n")
    git(repo, "commit", "-q", "-am", "user work")
    git(repo, "commit", "-q", "--allow-empty", "-m", "more user work")

    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(tmp_path / "r"))

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = report(tmp_path / "r")
    assert (final["status"], final["commit"]) == ("completed", run_commit)
    row = commit_row(final)
    assert row["status"] == "done"
    assert run_commit[:7] in row["summary"] and "HEAD~2" in row["summary"]
    log = git(repo, "log", "--format=%s").splitlines()
    assert log == ["more user work", "user work", "Grow A", "initial"]  # not committed twice


def test_a_resume_after_the_user_committed_the_runs_changes_names_that_commit(
    tmp_path: Path,
) -> None:
    repo, _ = crashed_at(tmp_path, "before-commit")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "user took the run's change")
    user_commit = git(repo, "rev-parse", "HEAD").strip()

    resumed = cli("resume", "t1", "-w", str(repo), "--report", str(tmp_path / "r"))

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = report(tmp_path / "r")
    assert (final["status"], final["commit"]) == ("completed", user_commit)
    row = commit_row(final)
    assert row["status"] == "done"
    assert user_commit[:7] in row["summary"] and "user took the run's change" in row["summary"]
    assert git(repo, "log", "--format=%s").splitlines() == [
        "user took the run's change",
        "initial",
    ]
