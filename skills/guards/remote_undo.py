"""The undo of a pushed run: delete the branch it pushed while nobody built on it, or push
a revert of its commit on top (fast-forward, never a force) once others have.

Deleting is the exact undo and is atomic (``--force-with-lease`` on the run's commit: a
branch that moved meanwhile is never deleted); a branch others built on keeps their
commits and gets a revert. :func:`undo_commands` says the same as shell commands.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from pathlib import Path

from phasegraph.skills.core.errors import RemoteError
from phasegraph.skills.guards.gitrepo import identity_args, run_git_sync
from phasegraph.skills.guards.remote_access import RemoteAccess, shown_url
from phasegraph.skills.guards.remote_git import (
    git_remote,
    git_said,
    remote_failure,
    remote_head,
    require_push_branch,
    require_sha,
    require_url,
    time_left,
)

#: Attempts of an undo whose branch moves while it is undone.
ATTEMPTS = 3


def undo_push(
    url: str,
    branch: str,
    commit: str,
    access: RemoteAccess,
    *,
    workdir: Path,
    timeout: float = 600,
) -> str:
    """Undo the push of ``commit`` to ``branch`` of ``url``; a one-line account of what it did.

    Still at ``commit``: the branch is deleted, atomically ("deleted branch B"). Moved on
    (others built on it): a revert of ``commit`` is cloned, made in a temporary folder under
    ``workdir`` and pushed fast-forward ("pushed revert SHA onto B"). Gone: "branch B is
    already gone". ``commit`` not on the branch: :class:`RemoteError`, nothing done.
    """
    require_url(url, access)
    require_push_branch(branch, "")
    require_sha(commit, "commit")
    deadline = time.monotonic() + timeout
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="undo-", dir=workdir))
    try:
        for attempt in range(ATTEMPTS):
            head = remote_head(url, branch, access, timeout=time_left(deadline))
            if head is None:
                return f"branch {branch} is already gone"
            folder = scratch / str(attempt)
            if head == commit:
                done = _delete_branch(folder, url, branch, commit, access, deadline)
            else:
                done = _push_revert(folder, url, branch, commit, access, deadline)
            if done is not None:
                return done
        raise RemoteError(
            f"branch {branch!r} of {shown_url(url)} kept moving while it was being undone "
            f"({ATTEMPTS} attempts): undo it again when pushes to it have stopped",
            transient=True,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def undo_commands(url: str, branch: str, commit: str) -> list[str]:
    """:func:`undo_push` as shell commands a person can run (the URL shown without
    credentials): delete the branch while it is still at ``commit``, or revert on top."""
    shown, ref = shlex.quote(shown_url(url)), shlex.quote(f"refs/heads/{branch}")
    folder = "phasegraph-undo"
    return [
        "# the branch is still at the run's commit: delete it",
        f"git push --force-with-lease={ref}:{commit} {shown} :{ref}",
        "# others pushed on top of it since: revert the run's commit instead",
        f"git clone --single-branch --branch {shlex.quote(branch)} {shown} {folder}",
        f"git -C {folder} revert --no-edit {commit}",
        f"git -C {folder} push origin HEAD:{ref}",
    ]


def _delete_branch(
    folder: Path, url: str, branch: str, commit: str, access: RemoteAccess, deadline: float
) -> str | None:
    """Delete ``branch`` if it still points at ``commit``; ``None`` when it moved meanwhile."""
    folder.mkdir(parents=True)
    run_git_sync(folder, "init", "--quiet", "--bare")  # a push needs a repository, even empty
    ref = f"refs/heads/{branch}"
    lease = f"--force-with-lease={ref}:{commit}"
    proc = git_remote(folder, access, deadline, "push", "--quiet", lease, "--", url, f":{ref}")
    if proc.returncode == 0:
        return f"deleted branch {branch}"
    if remote_head(url, branch, access, timeout=time_left(deadline)) == commit:
        raise remote_failure(f"deleting branch {branch!r} failed", proc, url)
    return None


def _push_revert(
    folder: Path, url: str, branch: str, commit: str, access: RemoteAccess, deadline: float
) -> str | None:
    """Push a revert of ``commit`` on top of ``branch``; ``None`` when the branch moved or
    went between the clone and the push (no force: the push is fast-forward only)."""
    shown = shown_url(url)
    args = ("clone", "--quiet", "--single-branch", "--branch", branch, "--", url, str(folder))
    cloned = git_remote(folder.parent, access, deadline, *args)
    if cloned.returncode != 0:
        if remote_head(url, branch, access, timeout=time_left(deadline)) is None:
            return None  # deleted meanwhile: the next attempt says it is gone
        raise remote_failure(
            f"cloning branch {branch!r} to revert {commit[:12]} failed", cloned, url
        )
    head = run_git_sync(folder, "rev-parse", "HEAD").stdout.strip()
    on_branch = run_git_sync(folder, "merge-base", "--is-ancestor", commit, "HEAD")
    if on_branch.returncode != 0:
        raise RemoteError(
            f"commit {commit} is not on branch {branch!r} of {shown} (now at {head[:12]}): the "
            "branch was rewritten since the run pushed it; nothing was undone: look at the "
            "branch and undo the change by hand if it is still there"
        )
    # An earlier undo pushed its revert and died before it could say so: not reverted twice.
    grep = f"--grep=This reverts commit {commit}"
    earlier = run_git_sync(folder, "log", "--format=%H", "--fixed-strings", grep, f"{commit}..HEAD")
    if earlier.returncode == 0 and earlier.stdout.strip():
        return f"revert {earlier.stdout.split()[0]} is already on {branch}"
    reverted = run_git_sync(folder, *identity_args(folder), "revert", "--no-edit", commit)
    if reverted.returncode != 0:
        said = git_said(reverted.stdout + reverted.stderr, url)
        raise RemoteError(
            f"reverting {commit[:12]} on branch {branch!r} of {shown} conflicts with the "
            f"commits pushed on top of it since ({said}); nothing was undone: revert it by "
            "hand and resolve the conflicts"
        )
    sha = run_git_sync(folder, "rev-parse", "HEAD").stdout.strip()
    target = f"HEAD:refs/heads/{branch}"
    pushed = git_remote(folder, access, deadline, "push", "--quiet", "--", url, target)
    if pushed.returncode == 0:
        return f"pushed revert {sha} onto {branch}"
    if remote_head(url, branch, access, timeout=time_left(deadline)) != head:
        return None
    raise remote_failure(f"pushing the revert of {commit[:12]} onto {branch!r} failed", pushed, url)
