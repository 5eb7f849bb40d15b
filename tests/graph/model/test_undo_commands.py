"""undo_commands: the report's shell commands that put a workspace back as it was before a run."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from support.repos import git, snapshot, write

from phasegraph.graph.model.report import undo_commands

MakeRepo = Callable[[dict[str, str]], Path]

HEAD = "0123456789abcdef0123456789abcdef01234567"
COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
# Names a shell would split, glob, expand or run if they were not quoted.
ODD = ["my file.py", "it's.py", 'say "hi".py', "$(touch pwned).py", "-n.py", "*.py"]


def run_in_shell(commands: list[str], repo: Path) -> None:
    """Run the commands as a user pasting them would, with a git identity for revert."""
    name, email = "phasegraph tests", "tests@phasegraph.invalid"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    for command in commands:
        subprocess.run(command, shell=True, cwd=repo, check=True, env=env)


def test_a_committed_run_is_undone_by_reverting_its_commit() -> None:
    assert undo_commands(["a.py", "new.py"], ["new.py"], COMMIT, HEAD) == [
        f"git revert --no-edit {COMMIT}"
    ]


def test_an_uncommitted_run_restores_changed_files_and_removes_created_ones() -> None:
    written = ["a.py", "pkg/new.py", "b/c.py"]
    assert undo_commands(written, ["pkg/new.py"], None, HEAD) == [
        f"git --literal-pathspecs restore --source={HEAD} --worktree -- a.py b/c.py",
        "rm -- pkg/new.py",
    ]


def test_only_the_commands_a_run_needs() -> None:
    assert undo_commands(["a.py"], [], None, HEAD) == [
        f"git --literal-pathspecs restore --source={HEAD} --worktree -- a.py"
    ]
    assert undo_commands(["new.py"], ["new.py"], None, HEAD) == ["rm -- new.py"]
    assert undo_commands([], [], None, HEAD) == []


def test_outside_git_there_is_nothing_to_go_back_to() -> None:
    assert undo_commands(["a.py", "new.py"], ["new.py"], None, None) == []


def test_file_names_are_shell_quoted() -> None:
    restore, remove = undo_commands([*ODD, "new one.py"], ["new one.py"], None, HEAD)
    assert shlex.split(restore) == [
        "git",
        "--literal-pathspecs",
        "restore",
        f"--source={HEAD}",
        "--worktree",
        "--",
        *ODD,
    ]
    assert shlex.split(remove) == ["rm", "--", "new one.py"]


def test_running_the_commands_restores_the_bytes_of_an_uncommitted_run(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({**{name: f"old {n}\n" for n, name in enumerate(ODD)}, "mine.py": "M\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    # The user's own uncommitted change, in a file the run does not touch, must survive.
    write(repo, "mine.py", "M = 'my work in progress'\n")
    before = snapshot(repo)
    # What a run that stopped before its commit leaves: changed files and new ones.
    for name in ODD:
        write(repo, name, "changed by the run\n")
    created = ["new file.py", "pkg/it's new.py"]
    for name in created:
        write(repo, name, "created by the run\n")

    run_in_shell(undo_commands([*ODD, *created], created, None, head), repo)

    assert snapshot(repo) == before
    assert not (repo / "pwned").exists()
    assert git(repo, "status", "--porcelain") == " M mine.py\n"
    assert git(repo, "rev-parse", "HEAD").strip() == head


def test_running_the_commands_restores_the_bytes_of_a_committed_run(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.py": "A = 1\n", "my file.py": "B = 2\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    before = snapshot(repo)
    write(repo, "a.py", "A = 10\n")
    write(repo, "my file.py", "B = 20\n")
    write(repo, "new.py", "N = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the run's commit")
    commit = git(repo, "rev-parse", "HEAD").strip()

    run_in_shell(undo_commands(["a.py", "my file.py", "new.py"], ["new.py"], commit, head), repo)

    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    # The run's commit stays in the history, undone by a commit of its own.
    assert git(repo, "rev-parse", "HEAD~1").strip() == commit
