"""git_checkpoint on real repos: exactly the run's files, the user's work left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from support.repos import git, write

from phasegraph.skills.base import SkillContext, SkillKind, SkillResult
from phasegraph.skills.core.errors import SkillError, WorkspaceViolation
from phasegraph.skills.git_checkpoint import SKILL, GitCheckpointArgs, git_checkpoint

MakeRepo = Callable[[dict[str, str]], Path]
BASE = {"a.py": "A = 1\n", "b.py": "B = 1\n", "c.py": "C = 1\n"}


def committed_files(repo: Path, rev: str = "HEAD") -> list[str]:
    return sorted(git(repo, "show", "--name-only", "--format=", rev).split())


def user_state(repo: Path, paths: list[str]) -> tuple[str, str, str]:
    """What the user sees of ``paths``: status, staged diff and unstaged diff."""
    return (
        git(repo, "status", "--porcelain", "--", *paths),
        git(repo, "diff", "--cached", "--", *paths),
        git(repo, "diff", "--", *paths),
    )


async def checkpoint(repo: Path, *files: str, message: str = "phasegraph: run") -> SkillResult:
    ctx = SkillContext(workspace=repo, run_files=files, step_id="commit")
    return await git_checkpoint(GitCheckpointArgs(message=message), ctx)


def test_skill_is_the_commit_skill() -> None:
    assert SKILL.kind is SkillKind.COMMIT
    assert SKILL.programs == ("git",)


async def test_commits_only_the_run_files_and_leaves_the_users_work_as_it_was(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    parent = git(repo, "rev-parse", "HEAD").strip()
    # The user's own work in progress: an unstaged edit, a staged edit, a staged
    # new file and an untracked file.
    write(repo, "b.py", "B = 'user, unstaged'\n")
    write(repo, "c.py", "C = 'user, staged'\n")
    write(repo, "user_new.py", "U = 1\n")
    git(repo, "add", "c.py", "user_new.py")
    write(repo, "notes.txt", "todo\n")
    user_paths = ["b.py", "c.py", "user_new.py", "notes.txt"]
    before = user_state(repo, user_paths)
    # The run's writes: an edit and a new file.
    write(repo, "a.py", "A = 2\n")
    write(repo, "pkg/new.py", "N = 1\n")

    result = await checkpoint(repo, "a.py", "pkg/new.py", message="phasegraph: tidy")

    sha = git(repo, "rev-parse", "HEAD").strip()
    assert result.data == {
        "sha": sha,
        "files": ["a.py", "pkg/new.py"],
        "message": "phasegraph: tidy",
        "parent": parent,
        "unchanged": [],
    }
    assert result.summary == f"committed {sha[:7]}: 2 files"
    assert git(repo, "rev-parse", "HEAD^").strip() == parent
    assert committed_files(repo) == ["a.py", "pkg/new.py"]
    assert git(repo, "show", "HEAD:a.py") == "A = 2\n"
    assert git(repo, "log", "-1", "--format=%s") == "phasegraph: tidy\n"
    assert user_state(repo, user_paths) == before
    assert git(repo, "status", "--porcelain", "--", "a.py", "pkg/new.py") == ""


async def test_a_run_file_the_user_had_staged_is_committed_as_the_run_left_it(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    write(repo, "a.py", "A = 'user, staged'\n")
    git(repo, "add", "a.py")
    write(repo, "a.py", "A = 'run'\n")

    await checkpoint(repo, "a.py")

    assert git(repo, "show", "HEAD:a.py") == "A = 'run'\n"
    assert git(repo, "status", "--porcelain") == ""


async def test_commits_without_a_configured_identity(
    make_repo: MakeRepo, no_git_identity: None
) -> None:
    repo = make_repo(BASE)
    write(repo, "a.py", "A = 2\n")

    await checkpoint(repo, "a.py")

    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "phasegraph <phasegraph@localhost>|phasegraph <phasegraph@localhost>\n"
    )


async def test_uses_the_users_identity_when_configured(
    make_repo: MakeRepo, no_git_identity: None
) -> None:
    repo = make_repo(BASE)
    git(repo, "config", "user.name", "Ada Lovelace")
    git(repo, "config", "user.email", "ada@example.com")
    write(repo, "a.py", "A = 2\n")

    await checkpoint(repo, "a.py")

    assert git(repo, "log", "-1", "--format=%an <%ae>") == "Ada Lovelace <ada@example.com>\n"


async def test_stale_index_lock_is_a_clear_transient_error(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "a.py", "A = 2\n")
    (repo / ".git" / "index.lock").write_text("")

    with pytest.raises(SkillError) as caught:
        await checkpoint(repo, "a.py")

    assert caught.value.transient
    assert "index.lock" in str(caught.value)
    assert "remove" in str(caught.value)
    assert git(repo, "rev-parse", "HEAD") == head


async def test_a_lock_released_while_retrying_lets_the_commit_through(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    write(repo, "a.py", "A = 2\n")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")

    async def release() -> None:
        await asyncio.sleep(0.2)
        lock.unlink()

    releaser = asyncio.create_task(release())
    result = await checkpoint(repo, "a.py")
    await releaser

    assert committed_files(repo) == ["a.py"]
    assert result.data["files"] == ["a.py"]


async def test_no_run_files_means_nothing_to_commit(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)

    with pytest.raises(SkillError, match="nothing to commit: the run wrote no files"):
        await checkpoint(repo)


async def test_run_files_identical_to_head_are_refused(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)
    write(repo, "b.py", "B = 'user'\n")
    head = git(repo, "rev-parse", "HEAD")

    with pytest.raises(SkillError, match="identical to HEAD"):
        await checkpoint(repo, "a.py")

    assert git(repo, "rev-parse", "HEAD") == head


async def test_only_changed_run_files_are_committed(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)
    write(repo, "a.py", "A = 2\n")

    result = await checkpoint(repo, "a.py", "./b.py")

    assert committed_files(repo) == ["a.py"]
    assert result.data["unchanged"] == ["b.py"]


async def test_refuses_a_workspace_that_is_not_a_git_repo(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "A = 1\n")

    with pytest.raises(SkillError, match="not a git repository, so there is nothing to"):
        await checkpoint(tmp_path, "a.py")
    with pytest.raises(SkillError, match="not a git repository, so there is nothing to"):
        await checkpoint(tmp_path / "gone", "a.py")


async def test_refuses_run_files_outside_the_workspace(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)

    with pytest.raises(WorkspaceViolation):
        await checkpoint(repo, "../elsewhere.py")


async def test_refuses_ignored_run_files_by_name(make_repo: MakeRepo) -> None:
    repo = make_repo({**BASE, ".gitignore": "build/\n"})
    write(repo, "a.py", "A = 2\n")
    write(repo, "build/out.txt", "artifact\n")
    head = git(repo, "rev-parse", "HEAD")

    with pytest.raises(SkillError, match=r"\.gitignore excludes: build/out\.txt"):
        await checkpoint(repo, "a.py", "build/out.txt")

    assert git(repo, "rev-parse", "HEAD") == head


async def test_file_names_are_never_patterns(make_repo: MakeRepo) -> None:
    # As a pathspec "*.py" would match, and commit, the user's b.py too.
    repo = make_repo(BASE)
    write(repo, "b.py", "B = 'user'\n")
    write(repo, "*.py", "STAR = 1\n")

    await checkpoint(repo, "*.py")

    assert committed_files(repo) == ["*.py"]
    assert git(repo, "status", "--porcelain", "--", "b.py") == " M b.py\n"


async def test_workspace_inside_a_bigger_repo(make_repo: MakeRepo) -> None:
    repo = make_repo({"app/a.py": "A = 1\n", "other.py": "O = 1\n"})
    write(repo, "app/a.py", "A = 2\n")
    write(repo, "other.py", "O = 2\n")

    result = await checkpoint(repo / "app", "a.py")

    assert committed_files(repo) == ["app/a.py"]
    assert result.data["files"] == ["a.py"]
    assert git(repo, "status", "--porcelain") == " M other.py\n"


async def test_first_commit_of_a_new_repo(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    write(repo, "a.py", "A = 1\n")
    write(repo, "user.py", "U = 1\n")

    result = await checkpoint(repo, "a.py")

    assert result.data["parent"] is None
    assert committed_files(repo) == ["a.py"]
    assert git(repo, "status", "--porcelain") == "?? user.py\n"


def test_message_must_say_something() -> None:
    with pytest.raises(ValidationError):
        GitCheckpointArgs(message="   ")


async def test_a_hook_that_slips_another_file_in_is_reported(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\ngit add b.py\n")
    hook.chmod(0o755)
    write(repo, "a.py", "A = 2\n")
    write(repo, "b.py", "B = 'user'\n")

    with pytest.raises(SkillError, match=r"instead of exactly the run's files \['a.py'\]"):
        await checkpoint(repo, "a.py")


def refusing_hook(repo: Path, name: str = "pre-commit") -> Path:
    hook = repo / ".git" / "hooks" / name
    hook.write_text("#!/bin/sh\necho 'style: line too long in a.py' >&2\nexit 1\n")
    hook.chmod(0o755)
    return hook


def index_of(repo: Path) -> tuple[str, str]:
    return git(repo, "ls-files", "--stage"), git(repo, "diff", "--cached")


async def test_a_commit_a_hook_refuses_leaves_the_index_exactly_as_it_began(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    hook = refusing_hook(repo)
    write(repo, "c.py", "C = 'user, staged'\n")
    write(repo, "user_new.py", "U = 1\n")
    git(repo, "add", "c.py", "user_new.py")
    head, index = git(repo, "rev-parse", "HEAD"), index_of(repo)
    write(repo, "a.py", "A = 2\n")
    write(repo, "pkg/new.py", "N = 1\n")

    with pytest.raises(SkillError) as caught:
        await checkpoint(repo, "a.py", "pkg/new.py", message="phasegraph: tidy")

    error = str(caught.value)
    assert f"pre-commit ({hook})" in error and "line too long in a.py" in error
    assert "nothing of the run is staged" in error
    assert "git add -- a.py pkg/new.py && git commit -m 'phasegraph: tidy'" in error
    assert "undo" in error
    assert index_of(repo) == index
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain", "--", "a.py", "pkg") == " M a.py\n?? pkg/\n"


async def test_a_refused_commit_keeps_the_users_staged_version_of_a_run_file(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    refusing_hook(repo, "commit-msg")
    write(repo, "a.py", "A = 'user, staged'\n")
    git(repo, "add", "a.py")
    index = index_of(repo)
    write(repo, "a.py", "A = 'run'\n")

    with pytest.raises(SkillError, match="commit-msg"):
        await checkpoint(repo, "a.py")

    assert index_of(repo) == index
    assert git(repo, "show", ":a.py") == "A = 'user, staged'\n"


async def test_any_failed_commit_leaves_the_index_as_it_began_and_blames_no_hook(
    make_repo: MakeRepo,
) -> None:
    repo = make_repo(BASE)
    # Signing with a program that always fails: git itself refuses to write the commit.
    git(repo, "config", "commit.gpgSign", "true")
    git(repo, "config", "gpg.program", "false")
    index = index_of(repo)
    write(repo, "fresh.py", "F = 1\n")

    with pytest.raises(SkillError) as caught:
        await checkpoint(repo, "fresh.py")

    assert "gpg" in str(caught.value) and "hook" not in str(caught.value)
    assert index_of(repo) == index
    assert git(repo, "status", "--porcelain") == "?? fresh.py\n"


async def test_refuses_to_commit_into_a_rebase_in_progress(make_repo: MakeRepo) -> None:
    repo = make_repo(BASE)
    write(repo, "b.py", "B = 2\n")
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "-c", "sequence.editor=sed -i 1s/^pick/edit/", "rebase", "-q", "-i", "HEAD~1")
    head, index = git(repo, "rev-parse", "HEAD"), index_of(repo)
    write(repo, "a.py", "A = 2\n")

    with pytest.raises(SkillError, match=r"a rebase is in progress.*git rebase --abort"):
        await checkpoint(repo, "a.py")

    assert git(repo, "rev-parse", "HEAD") == head
    assert index_of(repo) == index
