"""Git facts on real repos: repo detection, HEAD, dirty files, identity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from testkit import git, write

from phasegraph.skills.errors import SkillError
from phasegraph.skills.gitrepo import (
    FALLBACK_IDENTITY,
    dirty_files,
    git_status,
    has_identity,
    head_sha,
    identity_args,
    is_git_repo,
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
