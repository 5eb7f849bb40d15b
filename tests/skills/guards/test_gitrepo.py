"""Git facts on real repos: repo detection, HEAD, dirty files, identity, repository states."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from support.repos import GIT_ID, git, write

from phasegraph.skills.core.errors import SkillError
from phasegraph.skills.guards.gitrepo import (
    FALLBACK_IDENTITY,
    dirty_files,
    git_dir_problem,
    git_status,
    has_identity,
    head_sha,
    identity_args,
    is_git_repo,
    repo_state_problems,
)

MakeRepo = Callable[[dict[str, str]], Path]


def test_is_git_repo_at_the_root_and_in_a_folder_but_not_outside(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"sub/a.py": "A = 1\n"})
    plain = tmp_path / "plain"
    plain.mkdir()

    assert is_git_repo(repo)
    assert is_git_repo(repo / "sub")
    assert not is_git_repo(plain)
    assert not is_git_repo(tmp_path / "missing")


def test_head_sha_is_heads_full_sha(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    unborn = tmp_path / "unborn"
    unborn.mkdir()
    git(unborn, "init", "-q")
    plain = tmp_path / "plain"
    plain.mkdir()

    assert head_sha(repo) == git(repo, "rev-parse", "HEAD").strip()
    assert head_sha(unborn) is None
    with pytest.raises(SkillError, match="not a git repository"):
        head_sha(plain)


def test_dirty_files_lists_modified_staged_and_untracked_not_ignored(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(
        {"a.py": "A = 1\n", "b.py": "B = 1\n", "c.py": "C = 1\n", ".gitignore": "*.log\n"}
    )
    write(repo, "a.py", "A = 2\n")
    write(repo, "b.py", "B = 2\n")
    git(repo, "add", "b.py")
    write(repo, "new dir/ünï code.py", "N = 1\n")
    write(repo, "debug.log", "noise\n")

    assert dirty_files(repo) == ["a.py", "b.py", "new dir/ünï code.py"]
    status = git_status(repo)
    assert (status["a.py"], status["b.py"], status["new dir/ünï code.py"]) == (" M", "M ", "??")


def test_dirty_files_are_relative_to_a_workspace_inside_the_repo(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"app/a.py": "A = 1\n", "other.py": "O = 1\n"})
    write(repo, "app/a.py", "A = 2\n")
    write(repo, "other.py", "O = 2\n")

    assert dirty_files(repo / "app") == ["a.py"]


def test_dirty_files_works_while_a_commit_holds_the_index_lock(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    write(repo, "a.py", "A = 2\n")
    (repo / ".git" / "index.lock").write_text("")

    assert dirty_files(repo) == ["a.py"]


def test_has_identity_follows_git_config(make_repo: MakeRepo, no_git_identity: None) -> None:
    repo = make_repo({"a.py": "A = 1\n"})

    assert not has_identity(repo)
    assert identity_args(repo) == [
        "-c",
        "user.name=phasegraph",
        "-c",
        "user.email=phasegraph@localhost",
    ]
    git(repo, "config", "user.name", "Ada")
    git(repo, "config", "user.email", "ada@example.com")
    assert has_identity(repo)
    assert identity_args(repo) == []


def test_identity_args_work_before_git_init(tmp_path: Path, no_git_identity: None) -> None:
    assert identity_args(tmp_path) == list(FALLBACK_IDENTITY)


def conflicting(repo: Path, *args: str) -> None:
    """Run a git command that must stop on a conflict."""
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, check=False)
    assert done.returncode != 0, done.stdout


def diverge(repo: Path, branch: str = "other") -> None:
    """``branch`` and the current branch each change a.py differently, in one commit each."""
    current = git(repo, "branch", "--show-current").strip()
    git(repo, "checkout", "-q", "-b", branch)
    write(repo, "a.py", f"A = {branch!r}\n")
    git(repo, "commit", "-q", "-am", branch)
    git(repo, "checkout", "-q", current)
    write(repo, "a.py", "A = 'mine'\n")
    git(repo, "commit", "-q", "-am", "mine")


def test_a_ready_repo_and_a_plain_folder_have_no_state_problems(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    write(repo, "a.py", "A = 2\n")  # uncommitted work is not a repository state

    assert repo_state_problems(repo) == []
    assert repo_state_problems(tmp_path) == []


def test_a_merge_in_progress_names_its_conflicts_and_both_ways_out(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.py": "A = 1\n", "app/b.py": "B = 1\n"})
    diverge(repo)
    conflicting(repo, "merge", "other")

    problems = repo_state_problems(repo / "app")  # a workspace inside the repo sees it too

    assert len(problems) == 1
    assert "a merge is in progress" in problems[0]
    assert "with conflicts in a.py" in problems[0]
    assert "git merge --continue / git merge --abort" in problems[0]


def test_conflicts_left_by_a_stash_pop_are_a_problem_of_their_own(make_repo: MakeRepo) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    write(repo, "a.py", "A = 'stashed'\n")
    git(repo, "stash", "-q")
    write(repo, "a.py", "A = 'committed'\n")
    git(repo, "commit", "-q", "-am", "change A")
    conflicting(repo, "stash", "pop")

    (problem,) = repo_state_problems(repo)

    assert "files are in conflict" in problem and "a.py" in problem
    assert "in progress" not in problem


def test_an_index_lock_is_named_with_its_path_unless_locks_are_left_out(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    lock = repo / ".git" / "index.lock"
    lock.write_text("")

    (problem,) = repo_state_problems(repo)

    assert str(lock) in problem and "remove" in problem
    assert repo_state_problems(repo, locks=False) == []


def test_a_linked_worktree_has_its_own_state(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"a.py": "A = 1\n"})
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    diverge(linked, "side-other")
    conflicting(linked, "cherry-pick", "side-other")

    assert "a cherry-pick is in progress" in " ".join(repo_state_problems(linked))
    assert repo_state_problems(repo) == []


def test_git_directories_are_not_workspaces(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo({"sub/a.py": "A = 1\n"})
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    apart = tmp_path / "apart"
    git(tmp_path, "init", "-q", f"--separate-git-dir={tmp_path / 'kept.git'}", str(apart))

    assert git_dir_problem(repo) is None
    assert git_dir_problem(repo / "sub") is None
    assert git_dir_problem(apart) is None  # a work tree whose .git is a file
    for inside in (repo / ".git", repo / ".git" / "hooks"):
        problem = git_dir_problem(inside)
        assert problem is not None
        assert f"--workspace {repo}" in problem
    for bare_dir in (bare, bare / "hooks", tmp_path / "kept.git"):
        problem = git_dir_problem(bare_dir)
        assert problem is not None
        assert "bare repository" in problem and "git clone" in problem
